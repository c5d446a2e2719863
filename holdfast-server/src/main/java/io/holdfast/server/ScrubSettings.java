package io.holdfast.server;

import io.holdfast.common.Pacer;
import java.time.Duration;
import java.util.Objects;

/**
 * How a node scrubs the bricks it holds.
 *
 * @param rateBytesPerSecond the pace of each volume's scrubber, in bytes read per second
 *     (default {@link Pacer#DEFAULT_BYTES_PER_SECOND}, 16 MiB/s: a 1 TB brick takes about 18
 *     hours); {@code holdfast scrub start --rate} changes it until the node restarts
 * @param interval time from the end of one automatic pass to the start of the next (default
 *     24 hours; the first pass is due one interval after a brick is first served);
 *     {@link Duration#ZERO} for passes on request only
 * @param rebuild whether a member the scrubber took out of service rebuilds itself from another
 *     member's snapshot (default true); false keeps it out of service, e.g. to inspect the
 *     damaged brick, until the operator rebuilds it
 */
public record ScrubSettings(long rateBytesPerSecond, Duration interval, boolean rebuild) {
    /** 16 MiB/s, a pass every 24 hours, quarantined members rebuild themselves. */
    public static final ScrubSettings DEFAULT =
            new ScrubSettings(Pacer.DEFAULT_BYTES_PER_SECOND, Duration.ofHours(24), true);

    /**
     * Checks the settings.
     *
     * @throws IllegalArgumentException if the rate is not positive or the interval negative
     */
    public ScrubSettings {
        Objects.requireNonNull(interval, "interval");
        if (rateBytesPerSecond <= 0) {
            throw new IllegalArgumentException("scrub rate must be positive, got " + rateBytesPerSecond + " bytes/s");
        }
        if (interval.isNegative()) {
            throw new IllegalArgumentException("scrub interval must not be negative, got " + interval);
        }
    }

    /** These settings with {@link #rebuild} set to {@code rebuild}. */
    public ScrubSettings withRebuild(boolean rebuild) {
        return new ScrubSettings(rateBytesPerSecond, interval, rebuild);
    }

    /** Whether passes start by themselves (a positive interval). */
    public boolean automatic() {
        return !interval.isZero();
    }
}
