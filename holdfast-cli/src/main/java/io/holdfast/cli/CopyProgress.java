package io.holdfast.cli;

import io.holdfast.common.TreeCopier;
import io.holdfast.common.Units;
import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * A one-line progress bar for long copies, written to a terminal with {@code \r}: files
 * done/total, bytes done/total, rate and ETA (sizes and rate as {@link Units} shows them).
 *
 * <p>Nothing is shown for short copies: the line appears once the copy has run for
 * {@value #SHOW_AFTER_NANOS} ns or is known to move more than {@value #SHOW_ABOVE_BYTES}
 * bytes, and is redrawn at most every {@value #REDRAW_NANOS} ns (4 times a second). Redraws
 * happen on the copying thread when it reports work, so a single blocked write does not
 * update the line. Not thread-safe.
 */
final class CopyProgress implements TreeCopier.Progress {
    /** Show the line after this long: 2 s. */
    static final long SHOW_AFTER_NANOS = 2_000_000_000L;
    /** Show the line at once when the copy is larger than this: 64 MiB. */
    static final long SHOW_ABOVE_BYTES = 64L << 20;
    /** Minimum time between redraws: 250 ms. */
    static final long REDRAW_NANOS = 250_000_000L;

    /** A progress sink that shows nothing. */
    static final CopyProgress NONE = new CopyProgress(null, System::nanoTime);

    private final PrintStream out;
    private final LongSupplier nanoClock;
    private final long startNanos;
    private long totalFiles = -1;
    private long totalBytes = -1;
    private long files;
    private long bytes;
    private long lastDrawNanos;
    private int lastLength;
    private boolean shown;

    /** Draws on {@code out}, or nowhere if null, timing with {@code nanoClock}. */
    CopyProgress(PrintStream out, LongSupplier nanoClock) {
        this.out = out;
        this.nanoClock = nanoClock;
        this.startNanos = nanoClock.getAsLong();
    }

    /** Whether anything may be drawn; the caller then counts totals with a pre-scan. */
    boolean enabled() {
        return out != null;
    }

    /** Adds to the expected totals (from a scan before copying). */
    @Override
    public void expect(long fileCount, long byteCount) {
        totalFiles = Math.max(totalFiles, 0) + fileCount;
        totalBytes = Math.max(totalBytes, 0) + byteCount;
    }

    @Override
    public void bytes(long n) {
        bytes += n;
        tick(false);
    }

    @Override
    public void fileDone() {
        files++;
        tick(false);
    }

    /** Draws the final state, if the line was shown, and ends the line. */
    void finish() {
        if (out == null) {
            return;
        }
        tick(true);
        if (shown) {
            out.println();
            out.flush();
        }
    }

    private void tick(boolean force) {
        if (out == null) {
            return;
        }
        long now = nanoClock.getAsLong();
        long elapsed = now - startNanos;
        if (!shown && elapsed < SHOW_AFTER_NANOS && totalBytes <= SHOW_ABOVE_BYTES) {
            return;
        }
        if (shown && !force && now - lastDrawNanos < REDRAW_NANOS) {
            return;
        }
        if (!shown && force) {
            return; // finished before the line was ever needed
        }
        shown = true;
        lastDrawNanos = now;
        String line = line(elapsed);
        int pad = Math.max(0, lastLength - line.length());
        out.print("\r" + line + " ".repeat(pad));
        out.flush();
        lastLength = line.length();
    }

    String line(long elapsedNanos) {
        double seconds = Math.max(elapsedNanos, 1) / 1e9;
        double rate = bytes / seconds; // bytes per second
        StringBuilder s = new StringBuilder();
        s.append(files).append(totalFiles >= 0 ? "/" + totalFiles : "").append(" files  ");
        s.append(Units.size(bytes)).append(totalBytes >= 0 ? "/" + Units.size(totalBytes) : "");
        s.append("  ").append(Units.rate(rate));
        if (totalBytes > 0 && rate > 0) {
            long left = (long) Math.ceil(Math.max(0, totalBytes - bytes) / rate);
            s.append(String.format(Locale.ROOT, "  ETA %d:%02d", left / 60, left % 60));
        }
        return s.toString();
    }
}
