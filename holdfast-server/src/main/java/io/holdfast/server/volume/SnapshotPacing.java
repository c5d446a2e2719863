package io.holdfast.server.volume;

/**
 * When a volume member takes its automatic snapshot: Ratis asks every
 * {@code snapshot.threshold} applied entries (default 20,000); a member whose brick is large waits
 * until the log written since its last snapshot is worth the snapshot's cost.
 *
 * <p>A snapshot costs about three times the brick's size in I/O (the copy-on-write of every data
 * file written while the frozen image lives, the snapshot stream, its MD5 and manifest; see
 * "Snapshots without stalls" in docs/architecture.md), whatever the entries since the last one
 * carried. With 4 KiB block writes (an NBD export) 20,000 entries are 80 MiB of log: on a 1 GiB
 * image each member wrote a snapshot of 1 GiB every 25 s, 15-17 s of background work each, which
 * halved the random-write rate. So once the latest snapshot is at least {@link #LARGE_BRICK_BYTES},
 * an automatic snapshot waits until the log entries applied since the last one add up to half the
 * latest snapshot's size, at most {@link #MAX_LOG_BYTES}, or until {@link #MAX_THRESHOLDS}
 * thresholds of entries: snapshot I/O stays within about six bytes per byte of log, and the log
 * a restart replays stays bounded. A small brick is snapshotted every threshold as before.
 * A snapshot asked for explicitly ({@link #request}) never waits.
 *
 * <p>Thread safety: {@link #applied}, {@link #frozen} and {@link #defer} run on Ratis's state
 * machine thread (applies and {@code takeSnapshot} both run there); {@link #request} and
 * {@link #written} may run on any thread.
 */
final class SnapshotPacing {
    /** Latest snapshot size from which automatic snapshots are paced by log volume: 256 MiB. */
    static final long LARGE_BRICK_BYTES = 256L << 20;
    /** Log bytes since the last snapshot after which one is taken whatever the brick's size: 2 GiB. */
    static final long MAX_LOG_BYTES = 2L << 30;
    /** Thresholds of entries since the last snapshot after which one is taken anyway. */
    static final long MAX_THRESHOLDS = 10;

    private final long threshold;
    /** Bytes of the log entries applied since the last freeze (state machine thread only). */
    private long logBytes;
    /** Size of the latest snapshot file, or -1 if none is known. */
    private volatile long snapshotBytes = -1;
    /** Whether a snapshot was asked for explicitly and not taken yet. */
    private volatile boolean requested;
    /** Whether the current wait was logged (state machine thread only). */
    private boolean waitLogged;

    /**
     * @param threshold applied entries between the snapshots Ratis asks for ({@code snapshot.threshold})
     * @throws IllegalArgumentException if {@code threshold < 1}
     */
    SnapshotPacing(long threshold) {
        if (threshold < 1) {
            throw new IllegalArgumentException("threshold must be positive, got " + threshold);
        }
        this.threshold = threshold;
    }

    /** An entry of {@code bytes} (its serialized log entry) was applied. */
    void applied(long bytes) {
        logBytes += bytes;
    }

    /** A snapshot froze the state at the last applied index: the count starts again. */
    void frozen() {
        logBytes = 0;
        requested = false;
        waitLogged = false;
    }

    /** The latest snapshot file has {@code bytes} bytes (written here, installed or found at start). */
    void written(long bytes) {
        snapshotBytes = bytes;
    }

    /** The next snapshot is asked for explicitly (a tool, a benchmark): it does not wait. */
    void request() {
        requested = true;
    }

    /** Log bytes applied since the last freeze. */
    long logBytes() {
        return logBytes;
    }

    /**
     * Whether the automatic snapshot Ratis asks for now waits.
     *
     * @param entriesSince applied entries since the latest snapshot's index
     */
    boolean defer(long entriesSince) {
        long brick = snapshotBytes;
        if (requested || brick < LARGE_BRICK_BYTES || entriesSince >= MAX_THRESHOLDS * threshold) {
            return false;
        }
        return logBytes < due(brick);
    }

    /** Log bytes after which a brick whose latest snapshot has {@code brick} bytes is snapshotted. */
    static long due(long brick) {
        return Math.min(brick / 2, MAX_LOG_BYTES);
    }

    /**
     * Whether the current wait should be logged (once per snapshot: the first time it waits).
     */
    boolean firstWait() {
        boolean first = !waitLogged;
        waitLogged = true;
        return first;
    }

    /** Size of the latest snapshot file, or -1 if none is known. */
    long snapshotBytes() {
        return snapshotBytes;
    }

    /** Entries since the last snapshot after which one is taken whatever the log's volume. */
    long maxEntries() {
        return MAX_THRESHOLDS * threshold;
    }
}
