package io.holdfast.overlay;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts what an overlay does (copy-ups, whiteouts, opaque directories) and the lower layer's
 * failures by path, and keeps the status record in the work directory up to date: rewritten at
 * most every {@link #WRITE_INTERVAL_MILLIS} ms when something changed, and at {@link #close()},
 * each time as a new file renamed over the old one (readers see one whole record or the other).
 * The record is a report, not state: a new overlay starts counting afresh.
 *
 * <p>Thread safety: thread-safe; one named daemon thread writes the record.
 */
final class StatusRecorder implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(StatusRecorder.class.getName());

    /** Most failed lower paths kept with their details: 1000 (the count goes on past it). */
    static final int MAX_ERROR_PATHS = 1000;

    /** Longest error message kept per path: 500 characters. */
    static final int MAX_MESSAGE_CHARS = 500;

    /** How often a changed record is written: 1000 ms. */
    static final long WRITE_INTERVAL_MILLIS = 1000;

    private final Path file;
    private final Path tmp;
    private final String lower;
    private final String upper;
    private final WhiteoutFormat format;
    private final Clock clock;
    private final Instant openedAt;
    private final AtomicLong copyUps = new AtomicLong();
    private final AtomicLong copyUpBytes = new AtomicLong();
    private final AtomicLong whiteouts = new AtomicLong();
    private final AtomicLong opaque = new AtomicLong();
    private final AtomicLong lowerErrors = new AtomicLong();
    private final AtomicLong dropped = new AtomicLong();
    private final Map<String, OverlayStatus.LowerError> errors = new LinkedHashMap<>();
    private final AtomicBoolean dirty = new AtomicBoolean(true);
    private final ScheduledExecutorService writer;

    /**
     * How the record names a layer: a local path as it is, any other by its URI (a Holdfast volume's
     * {@code holdfast://HOST:PORT/VOLUME/dir}), so the record says which file system holds it.
     */
    static String describe(Path layer) {
        try {
            URI u = layer.toUri();
            return "file".equals(u.getScheme()) ? Path.of(u).toString() : u.toString();
        } catch (RuntimeException e) {
            return layer.toString(); // a provider without URIs (or whose URIs have no Path)
        }
    }

    StatusRecorder(Path work, Path lower, Path upper, WhiteoutFormat format, Clock clock, String id)
            throws IOException {
        this.file = work.resolve(OverlayFileSystem.STATUS_FILE);
        this.tmp = work.resolve(OverlayFileSystem.STATUS_FILE + ".tmp");
        this.lower = describe(lower);
        this.upper = describe(upper);
        this.format = format;
        this.clock = clock;
        this.openedAt = clock.instant();
        write();
        this.writer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "holdfast-overlay-status-" + id);
            t.setDaemon(true);
            return t;
        });
        writer.scheduleWithFixedDelay(
                this::writeIfDirty, WRITE_INTERVAL_MILLIS, WRITE_INTERVAL_MILLIS, TimeUnit.MILLISECONDS);
    }

    void copyUp(long bytes) {
        copyUps.incrementAndGet();
        copyUpBytes.addAndGet(bytes);
        dirty.set(true);
    }

    void whiteout() {
        whiteouts.incrementAndGet();
        dirty.set(true);
    }

    void opaque() {
        opaque.incrementAndGet();
        dirty.set(true);
    }

    /**
     * Counts a failure of the lower layer at {@code path}.
     *
     * @return whether this is the first failure of that path (then the caller logs it)
     */
    boolean lowerError(String path, String op, String message) {
        lowerErrors.incrementAndGet();
        dirty.set(true);
        Instant now = clock.instant();
        String m = message.length() > MAX_MESSAGE_CHARS ? message.substring(0, MAX_MESSAGE_CHARS) : message;
        synchronized (errors) {
            OverlayStatus.LowerError e = errors.get(path);
            if (e != null) {
                errors.put(
                        path,
                        new OverlayStatus.LowerError(path, e.operation(), e.count() + 1, e.first(), now, e.message()));
                return false;
            }
            if (errors.size() >= MAX_ERROR_PATHS) {
                dropped.incrementAndGet();
                return true;
            }
            errors.put(path, new OverlayStatus.LowerError(path, op, 1, now, now, m));
            return true;
        }
    }

    OverlayStatus snapshot() {
        List<OverlayStatus.LowerError> list;
        synchronized (errors) {
            list = new ArrayList<>(errors.values());
        }
        return new OverlayStatus(
                lower,
                upper,
                format,
                openedAt,
                clock.instant(),
                copyUps.get(),
                copyUpBytes.get(),
                whiteouts.get(),
                opaque.get(),
                lowerErrors.get(),
                List.copyOf(list),
                dropped.get());
    }

    private void writeIfDirty() {
        if (dirty.get()) {
            try {
                write();
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "cannot write the overlay status record " + file + ": " + e);
            }
        }
    }

    private synchronized void write() throws IOException {
        dirty.set(false);
        Files.writeString(tmp, snapshot().toJson(), StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** Stops the writer and writes the record a last time. */
    @Override
    public void close() throws IOException {
        writer.shutdownNow();
        write();
    }
}
