package io.holdfast.common;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * A token bucket that paces background I/O (the scrubber) to a rate in bytes per second, and
 * can be paused.
 *
 * <p>{@link #acquire} takes the bytes about to be (or just) read from the bucket and, if the
 * bucket is in debt, sleeps until the debt is repaid at the rate; so over any interval the
 * caller reads at most {@code rate × interval + burst} bytes. The bucket holds at most
 * {@link #burstBytes()} (a tenth of a second's worth, at least 64 KiB), so an idle period does
 * not allow a spike afterwards. While {@link #pause paused}, {@code acquire} blocks until
 * {@link #resume}.
 *
 * <p>Time and sleeping are injected ({@code nanoTime}, {@link Sleeper}), so tests can check the
 * pace with a fake clock instead of waiting. Thread-safe; callers that share a pacer share its
 * rate.
 */
public final class Pacer {
    /** Default rate of the scrubber: 16 MiB/s. */
    public static final long DEFAULT_BYTES_PER_SECOND = 16L << 20;
    /** Smallest burst, in bytes: one 64 KiB block. */
    public static final long MIN_BURST_BYTES = 64 * 1024;

    /** Sleeps; the real one is {@link TimeUnit#sleep}, tests advance a fake clock instead. */
    @FunctionalInterface
    public interface Sleeper {
        /**
         * Sleeps for {@code nanos} nanoseconds (positive).
         *
         * @throws InterruptedException if the thread is interrupted
         */
        void sleepNanos(long nanos) throws InterruptedException;

        /** The system's sleep. */
        Sleeper SYSTEM = TimeUnit.NANOSECONDS::sleep;
    }

    private final LongSupplier nanoTime;
    private final Sleeper sleeper;
    private long bytesPerSecond;
    private double tokens;
    private long lastNanos;
    private boolean paused;

    /**
     * A pacer with the system clock.
     *
     * @param bytesPerSecond the rate, positive
     * @throws IllegalArgumentException if the rate is not positive
     */
    public Pacer(long bytesPerSecond) {
        this(bytesPerSecond, System::nanoTime, Sleeper.SYSTEM);
    }

    /**
     * A pacer with the given clock (a monotonic nanosecond counter, as {@link System#nanoTime})
     * and sleeper.
     *
     * @param bytesPerSecond the rate, positive
     * @throws IllegalArgumentException if the rate is not positive
     */
    public Pacer(long bytesPerSecond, LongSupplier nanoTime, Sleeper sleeper) {
        this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
        this.sleeper = Objects.requireNonNull(sleeper, "sleeper");
        this.bytesPerSecond = checkRate(bytesPerSecond);
        this.tokens = burstBytes();
        this.lastNanos = nanoTime.getAsLong();
    }

    private static long checkRate(long bytesPerSecond) {
        if (bytesPerSecond <= 0) {
            throw new IllegalArgumentException("rate must be positive, got " + bytesPerSecond + " bytes/s");
        }
        return bytesPerSecond;
    }

    /**
     * Changes the rate; takes effect for the next {@link #acquire}.
     *
     * @param bytesPerSecond the new rate, positive
     * @throws IllegalArgumentException if the rate is not positive
     */
    public synchronized void setRate(long bytesPerSecond) {
        checkRate(bytesPerSecond);
        refill(); // the time so far earns tokens at the old rate
        this.bytesPerSecond = bytesPerSecond;
        tokens = Math.min(tokens, burstBytes());
    }

    /** The rate, in bytes per second. */
    public synchronized long bytesPerSecond() {
        return bytesPerSecond;
    }

    /** The most bytes the bucket holds: a tenth of a second's worth, at least 64 KiB. */
    public synchronized long burstBytes() {
        return Math.max(MIN_BURST_BYTES, bytesPerSecond / 10);
    }

    /** Pauses: {@link #acquire} blocks until {@link #resume}. */
    public synchronized void pause() {
        paused = true;
    }

    /** Ends a {@link #pause}. */
    public synchronized void resume() {
        paused = false;
        lastNanos = nanoTime.getAsLong(); // a pause earns no tokens
        notifyAll();
    }

    /** Whether the pacer is paused. */
    public synchronized boolean paused() {
        return paused;
    }

    /**
     * Accounts for {@code bytes} of I/O: blocks while paused, then sleeps as long as the bucket
     * is in debt. A call with more bytes than the burst is allowed; it sleeps correspondingly
     * longer.
     *
     * @param bytes bytes read, not negative
     * @throws InterruptedException if interrupted while paused or sleeping
     * @throws IllegalArgumentException if {@code bytes} is negative
     */
    public void acquire(long bytes) throws InterruptedException {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative byte count " + bytes);
        }
        long waitNanos;
        synchronized (this) {
            while (paused) {
                wait();
            }
            refill();
            tokens -= bytes;
            waitNanos = tokens >= 0 ? 0 : (long) Math.ceil(-tokens * 1e9 / bytesPerSecond);
        }
        if (waitNanos > 0) {
            sleeper.sleepNanos(waitNanos);
        }
    }

    private void refill() {
        long now = nanoTime.getAsLong();
        long elapsed = now - lastNanos;
        lastNanos = now;
        if (elapsed > 0) {
            tokens = Math.min(burstBytes(), tokens + elapsed * (double) bytesPerSecond / 1e9);
        }
    }

    /**
     * A stream that reads {@code in} at most at this pacer's rate: each read takes its bytes from
     * the bucket after reading them ({@link #acquire}). Closing it closes {@code in}. Used by one
     * thread at a time, like any stream.
     *
     * @param in the stream to pace
     * @return the paced stream; a read interrupted while sleeping throws
     *     {@link java.io.InterruptedIOException} with the thread's interrupt flag set
     */
    public InputStream paced(InputStream in) {
        Objects.requireNonNull(in, "in");
        return new FilterInputStream(in) {
            @Override
            public int read() throws IOException {
                int b = super.read();
                if (b >= 0) {
                    take(1);
                }
                return b;
            }

            @Override
            public int read(byte[] buf, int off, int len) throws IOException {
                int n = super.read(buf, off, len);
                if (n > 0) {
                    take(n);
                }
                return n;
            }

            @Override
            public long skip(long n) throws IOException {
                long skipped = super.skip(n);
                take(skipped);
                return skipped;
            }

            private void take(long bytes) throws InterruptedIOException {
                try {
                    acquire(bytes);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException(
                            "interrupted while pacing a read at " + bytesPerSecond() + " bytes/s");
                }
            }
        };
    }
}
