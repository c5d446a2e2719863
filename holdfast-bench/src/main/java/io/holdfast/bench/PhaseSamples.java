package io.holdfast.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The latencies of one phase of a benchmark's foreground, for two kinds of operation (writes and
 * reads, deliveries and reads) and the operations that failed: up to a bound of samples per kind
 * (later operations are counted as done but not timed) and the first few failure messages.
 *
 * <p>Not thread-safe: the foreground that owns it guards it with its own lock.
 */
final class PhaseSamples {
    /** Failure messages one phase keeps. */
    static final int KEEP_FAILURES = 5;

    private final long startNanos;
    private final int maxSamples;
    private final boolean timeFailures;
    private long[] first = new long[1024];
    private long[] second = new long[1024];
    private int firstCount;
    private int secondCount;
    private long failed;
    private final List<String> failures = new ArrayList<>();

    /**
     * @param startNanos when the phase began, {@link System#nanoTime} scale
     * @param maxSamples most latencies kept per kind
     * @param timeFailures whether a failed operation's latency is kept too (it is counted as
     *     failed either way)
     */
    PhaseSamples(long startNanos, int maxSamples, boolean timeFailures) {
        this.startNanos = startNanos;
        this.maxSamples = maxSamples;
        this.timeFailures = timeFailures;
    }

    /**
     * Records one operation.
     *
     * @param ofFirstKind whether it is of the first kind (a write, a delivery) or of the second
     * @param nanos its latency
     * @param failure why it failed, or null if it did not
     */
    void record(boolean ofFirstKind, long nanos, String failure) {
        if (failure != null) {
            failed++;
            if (failures.size() < KEEP_FAILURES) {
                failures.add(failure);
            }
            if (!timeFailures) {
                return;
            }
        }
        if (ofFirstKind) {
            first = add(first, firstCount, nanos);
            firstCount = Math.min(firstCount + 1, maxSamples);
        } else {
            second = add(second, secondCount, nanos);
            secondCount = Math.min(secondCount + 1, maxSamples);
        }
    }

    private long[] add(long[] a, int count, long nanos) {
        if (count >= maxSamples) {
            return a;
        }
        long[] out = count < a.length ? a : Arrays.copyOf(a, Math.min(maxSamples, a.length * 2));
        out[count] = nanos;
        return out;
    }

    /** Seconds from the phase's start to {@code endNanos}. */
    double seconds(long endNanos) {
        return (endNanos - startNanos) / 1e9;
    }

    /** The percentiles of the first kind. */
    CatchUpReport.Latency first() {
        return CatchUpReport.Latency.of(first, firstCount);
    }

    /** The percentiles of the second kind. */
    CatchUpReport.Latency second() {
        return CatchUpReport.Latency.of(second, secondCount);
    }

    /** The percentiles of both kinds together. */
    CatchUpReport.Latency both() {
        long[] all = Arrays.copyOf(first, firstCount + secondCount);
        System.arraycopy(second, 0, all, firstCount, secondCount);
        return CatchUpReport.Latency.of(all, all.length);
    }

    /** How many operations failed. */
    long failed() {
        return failed;
    }

    /** The first {@value #KEEP_FAILURES} failure messages. */
    List<String> failures() {
        return List.copyOf(failures);
    }
}
