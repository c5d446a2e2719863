package io.holdfast.bench;

import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Progress lines for one workload on one directory: a line per phase at once, and percent
 * done at most once per {@link #INTERVAL_NANOS} of the injected clock. Not thread-safe.
 */
final class ProgressMeter {

    /** Minimum time between two percent lines: one second. */
    static final long INTERVAL_NANOS = 1_000_000_000L;

    private final LongSupplier nanoClock;
    private final Consumer<String> sink;
    private final String prefix;
    private long lastLineNanos;

    ProgressMeter(LongSupplier nanoClock, Consumer<String> sink, String prefix) {
        this.nanoClock = nanoClock;
        this.sink = sink;
        this.prefix = prefix;
        this.lastLineNanos = nanoClock.getAsLong();
    }

    /** Emits {@code text} as the start of a new phase. */
    void phase(String text) {
        sink.accept(prefix + text);
        lastLineNanos = nanoClock.getAsLong();
    }

    /** Emits percent done if at least a second passed since the last line and work remains. */
    void update(long done, long total) {
        assert total > 0 && done >= 0 && done <= total : done + "/" + total;
        long now = nanoClock.getAsLong();
        if (done < total && now - lastLineNanos >= INTERVAL_NANOS) {
            sink.accept(prefix + (done * 100 / total) + "% (" + done + "/" + total + ")");
            lastLineNanos = now;
        }
    }
}
