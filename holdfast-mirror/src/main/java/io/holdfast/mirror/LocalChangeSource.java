package io.holdfast.mirror;

import io.holdfast.mirror.ChangeCaptureUnavailableException.Reason;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Clock;

/**
 * A change feed of one local directory tree, of the same shape as a Holdfast volume's change feed
 * (DESIGN.md section 5; {@link Request.Changes}, {@link Response.ChangePage}), for a replication
 * worker that tails it and reads content from {@link #root()}. Built by
 * {@link FanotifyChangeSource} (preferred) and {@link InotifyChangeSource} (the fallback); see the
 * former for the numbering, coalescing and resynchronisation rules both follow.
 *
 * <p>Thread safety: implementations are safe for use by several threads.
 */
public interface LocalChangeSource extends AutoCloseable {
    /** The watched directory: its real path (symbolic links resolved). */
    Path root();

    /**
     * This instance's random epoch: record numbers mean something only together with it (a restarted
     * watcher numbers from 1 again, with another epoch). A reader that keeps its position across
     * restarts keeps the epoch with it and resynchronises when it differs.
     */
    long epoch();

    /**
     * The records after {@code afterIndex}, oldest first, one {@link io.holdfast.protocol.Change}
     * each, paths relative to the root written as absolute volume paths ("/a/b" for ROOT/a/b).
     *
     * @param afterIndex the last number seen, 0 for the beginning
     * @param maxRecords most records, 1 to {@link Request.Changes#MAX_RECORDS}
     * @param waitMillis if there is no record after {@code afterIndex} yet, how long to block for
     *     one, 0 to {@link Request.Changes#MAX_WAIT_MILLIS} ms
     * @throws IllegalArgumentException if an argument is out of range
     * @throws IllegalStateException if the source was closed
     * @throws java.io.InterruptedIOException if interrupted while waiting
     * @throws IOException if capture broke (the root moved or removed, a read error): open a new
     *     source and resynchronise
     */
    Response.ChangePage changes(long afterIndex, int maxRecords, int waitMillis) throws IOException;

    /** Stops capture and releases its resources; idempotent. */
    @Override
    void close();

    /**
     * Watches {@code root} with fanotify if it can work here, else with inotify (the fallback:
     * no privilege needed, one watch per directory), with the default capacity
     * ({@link FanotifyChangeSource#DEFAULT_CAPACITY}) and the system clock. Which one was chosen,
     * and why, is logged at INFO.
     *
     * @throws java.nio.file.NotDirectoryException if {@code root} is not a directory
     * @throws ChangeCaptureUnavailableException if neither can work (the fanotify reason is attached
     *     as suppressed)
     * @throws IOException if the tree cannot be read
     */
    static LocalChangeSource open(Path root) throws IOException {
        try {
            return FanotifyChangeSource.open(root);
        } catch (ChangeCaptureUnavailableException fanotify) {
            if (fanotify.reason() == Reason.NOT_LINUX || fanotify.reason() == Reason.NO_NATIVE_ACCESS) {
                throw fanotify;
            }
            System.getLogger(LocalChangeSource.class.getName())
                    .log(
                            Level.INFO,
                            "fanotify unavailable, watching " + root + " with inotify: " + fanotify.getMessage());
            try {
                return InotifyChangeSource.open(root, FanotifyChangeSource.DEFAULT_CAPACITY, Clock.systemUTC());
            } catch (IOException inotify) {
                inotify.addSuppressed(fanotify);
                throw inotify;
            }
        }
    }
}
