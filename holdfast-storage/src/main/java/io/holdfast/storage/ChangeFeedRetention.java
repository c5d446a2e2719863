package io.holdfast.storage;

import java.time.Duration;
import java.util.Objects;

/**
 * How much change feed history a member keeps (see {@link io.holdfast.protocol.Request.Changes}):
 * records are trimmed, oldest first, once their encoded size exceeds {@code maxBytes} or they are
 * older than {@code maxAge}, measured against the newest entry's timestamp. A reader that falls
 * further behind must resynchronise. Immutable and thread-safe.
 *
 * @param maxBytes the records' total encoded size above which the oldest are trimmed, bytes (at
 *     least 0)
 * @param maxAge the age beyond which records are trimmed (not negative)
 */
public record ChangeFeedRetention(long maxBytes, Duration maxAge) {
    /** {@link #DEFAULT}'s size: 64 MiB, about half a million changes of a mail server. */
    public static final long DEFAULT_MAX_BYTES = 64L << 20;
    /** {@link #DEFAULT}'s age in days: a week. */
    public static final int DEFAULT_MAX_DAYS = 7;
    /** {@link #DEFAULT_MAX_BYTES} and {@link #DEFAULT_MAX_DAYS}. */
    public static final ChangeFeedRetention DEFAULT =
            new ChangeFeedRetention(DEFAULT_MAX_BYTES, Duration.ofDays(DEFAULT_MAX_DAYS));

    /**
     * @throws IllegalArgumentException if {@code maxBytes} or {@code maxAge} is negative
     * @throws NullPointerException if {@code maxAge} is null
     */
    public ChangeFeedRetention {
        Objects.requireNonNull(maxAge, "maxAge");
        if (maxBytes < 0 || maxAge.isNegative()) {
            throw new IllegalArgumentException(
                    "change feed retention of " + maxBytes + " bytes and " + maxAge + ": neither may be negative");
        }
    }
}
