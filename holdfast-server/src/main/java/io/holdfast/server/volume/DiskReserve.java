package io.holdfast.server.volume;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Request;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Keeps a volume member's disk from filling up: the leader refuses, before logging it, a
 * mutation that would add data while the file system of its data directory has less than the
 * reserve free. The client gets {@link Errno#ENOSPC}; nothing is logged, so every member stays
 * consistent and the node stays up. A fallocate(2) allocation counts its whole length (the
 * space is checked, not set aside: Holdfast does not preallocate, so a later write can still
 * get ENOSPC). Mutations that free space (unlink, rmdir, truncate, hole punching,
 * removexattr) and small metadata changes (rename, setattr) are always accepted, so a full
 * volume can be cleaned up; the reserve pays for their log entries.
 *
 * <p>Only the leader's own disk is checked: followers with less space than the leader are
 * not protected (a follower that runs out fails applying and stops, as on any disk error).
 *
 * <p>Thread-safe (reads free space with one {@code statvfs} per mutation that adds data).
 */
final class DiskReserve {
    private final Path dir;
    private final long reserveBytes;
    private final String node;
    /** Found once: looking it up reads the mount table, far dearer than the statvfs per call. */
    private volatile FileStore store;

    /**
     * @param dir a directory on the file system to watch (the brick's)
     * @param reserveBytes free bytes to keep, at least 0
     * @param node this node's address, for messages
     */
    DiskReserve(Path dir, long reserveBytes, String node) {
        if (reserveBytes < 0) {
            throw new IllegalArgumentException("negative disk reserve " + reserveBytes);
        }
        this.dir = dir;
        this.reserveBytes = reserveBytes;
        this.node = node;
    }

    /**
     * Refuses {@code m} if it adds data and the disk is (or would be) below the reserve.
     *
     * @throws HoldfastException {@link Errno#ENOSPC} naming the free space and the reserve
     */
    void check(Request.Mutation m) throws HoldfastException {
        long adds = adds(m);
        if (adds < 0) {
            return;
        }
        long free;
        try {
            FileStore fs = store;
            if (fs == null) {
                store = fs = Files.getFileStore(dir);
            }
            free = fs.getUsableSpace();
        } catch (IOException e) {
            return; // cannot tell: the write itself reports a real disk error
        }
        if (free - adds < reserveBytes) {
            throw new HoldfastException(
                    Errno.ENOSPC,
                    "node " + node + " has " + mib(free) + " free for its data, "
                            + (adds > 0 ? "not enough for " + mib(adds) + " more and " : "")
                            + "below its reserve of " + mib(reserveBytes)
                            + "; delete files, or give the node more space");
        }
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1 << 20));
    }

    /** Bytes {@code m} may add at most, or -1 if it frees space or changes only metadata in place. */
    private static long adds(Request.Mutation m) {
        return switch (m) {
            case Request.Write w -> w.data().length;
            case Request.Create c -> 0;
            case Request.Mkdir d -> 0;
            case Request.Symlink s -> 0;
            case Request.Mknod n -> 0;
            case Request.Link l -> 0;
            case Request.SetXattr x -> x.value().length;
            // fallocate(2): allocation promises the range (checked, not reserved: Holdfast does not
            // preallocate); zeroing may rewrite two partial blocks; punching frees
            case Request.Fallocate f
            when (f.mode() & (Request.Fallocate.PUNCH_HOLE | Request.Fallocate.ZERO_RANGE)) == 0 ->
                Math.max(0, f.length());
            case Request.Fallocate f when (f.mode() & Request.Fallocate.ZERO_RANGE) != 0 -> 0;
            case Request.Batch b -> {
                long sum = -1;
                for (Request.Mutation one : b.mutations()) {
                    long a = adds(one);
                    sum = a < 0 ? sum : Math.max(sum, 0) + a;
                }
                yield sum;
            }
            default -> -1; // frees space, or changes only metadata in place
        };
    }
}
