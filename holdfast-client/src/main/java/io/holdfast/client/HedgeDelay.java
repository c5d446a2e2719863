package io.holdfast.client;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * When to hedge a read: the 90th percentile of the latest {@link #WINDOW} member-read latencies,
 * kept between {@link #MIN_NANOS} and {@link #MAX_NANOS} ("The Tail at Scale", Dean and
 * Barroso, 2013: send the second request once the first has been outstanding longer than a high
 * percentile of the expected latency, so that only a few percent of requests are sent twice).
 *
 * <p>The percentile is recomputed every {@link #RECOMPUTE_EVERY} samples from a ring of the
 * latest samples (a sort of {@value #WINDOW} longs). Before {@link #WINDOW} samples it is
 * {@link #MAX_NANOS}. Thread-safe and lock-free; a sample may be overwritten by a concurrent one
 * before a recomputation sees it, which only makes the estimate a little older.
 */
final class HedgeDelay {
    static final int WINDOW = 256;
    static final int RECOMPUTE_EVERY = 32;
    /** Never hedge sooner: 2 ms, about one member read on an idle cluster. */
    static final long MIN_NANOS = 2_000_000;
    /** Never wait longer: 20 ms, far below the 500 ms heartbeat wait a hedge cuts short. */
    static final long MAX_NANOS = 20_000_000;

    private final AtomicLongArray samples = new AtomicLongArray(WINDOW);
    private final AtomicLong count = new AtomicLong();
    private volatile long delayNanos = MAX_NANOS;

    /**
     * Records how long a member took to answer a read.
     *
     * @param nanos the latency in nanoseconds (negative values are taken as 0)
     */
    void record(long nanos) {
        long n = count.getAndIncrement();
        samples.set((int) (n % WINDOW), Math.max(0, nanos));
        if (n + 1 >= WINDOW && (n + 1) % RECOMPUTE_EVERY == 0) {
            long[] copy = new long[WINDOW];
            for (int i = 0; i < WINDOW; i++) {
                copy[i] = samples.get(i);
            }
            Arrays.sort(copy);
            delayNanos = Math.clamp(copy[WINDOW * 9 / 10], MIN_NANOS, MAX_NANOS);
        }
    }

    /** The current hedge delay in nanoseconds, within [{@link #MIN_NANOS}, {@link #MAX_NANOS}]. */
    long nanos() {
        return delayNanos;
    }
}
