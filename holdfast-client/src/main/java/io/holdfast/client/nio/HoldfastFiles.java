package io.holdfast.client.nio;

import io.holdfast.protocol.Request;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.NonWritableChannelException;
import java.nio.file.FileSystem;
import java.util.Objects;
import java.util.Optional;

/**
 * File operations of a Holdfast volume that the JDK's {@link FileChannel} cannot express: Linux
 * {@code fallocate(2)} (allocation, hole punching, zeroing a range) and {@code lseek(2)}
 * {@code SEEK_DATA} / {@code SEEK_HOLE}. A FUSE mount uses them for those calls; a block export
 * can use {@link #punchHole} for TRIM and {@link #zeroRange} for WRITE_ZEROES.
 *
 * <p>Each method takes a channel opened by this provider ({@link #isHoldfast} tells) and orders
 * itself after the writes begun before it through the same file system (write-behind). Every
 * change is one replicated mutation, applied identically on every member of the volume.
 *
 * <p>Hole granularity: 64 KiB blocks of a file's content. A range punched or zeroed reads back
 * as zeros exactly; the blocks it covers whole become holes (their storage is released where the
 * member's disk can), the others stay data. A file of at most 64 KiB that was never larger is
 * kept inline and has no holes. The end of a file counts as a hole, as on Linux.
 *
 * <p>Errors are {@link io.holdfast.common.ErrnoFileSystemException}s carrying the Linux errno
 * that fallocate(2) or lseek(2) would give. Thread-safe, as the channels are.
 */
public final class HoldfastFiles {
    /** {@code FALLOC_FL_KEEP_SIZE}: the file's size does not change. */
    public static final int FALLOC_FL_KEEP_SIZE = Request.Fallocate.KEEP_SIZE;
    /** {@code FALLOC_FL_PUNCH_HOLE}: deallocate the range; only with {@link #FALLOC_FL_KEEP_SIZE}. */
    public static final int FALLOC_FL_PUNCH_HOLE = Request.Fallocate.PUNCH_HOLE;
    /** {@code FALLOC_FL_ZERO_RANGE}: make the range read as zeros. */
    public static final int FALLOC_FL_ZERO_RANGE = Request.Fallocate.ZERO_RANGE;

    private HoldfastFiles() {}

    /** Whether {@code fs} is a Holdfast file system, which {@link #sync} accepts. */
    public static boolean isHoldfast(FileSystem fs) {
        return fs instanceof HoldfastFileSystem;
    }

    /**
     * A durability point for everything written through {@code fs} ({@code syncfs(2)}; a FUSE
     * mount's {@code fsync(2)} of a directory): returns once every write and every written-back
     * change (attribute changes, unlinks, rmdirs) begun through {@code fs} before the call is
     * committed by a majority of the volume's members.
     *
     * @param fs a Holdfast file system
     * @throws UnsupportedOperationException if {@code fs} is not one
     * @throws java.nio.file.ClosedFileSystemException if it is closed
     * @throws IOException the first written-back change that the volume refused (or whose outcome
     *     is unknown) and that no durability point reported yet, once
     */
    public static void sync(FileSystem fs) throws IOException {
        Objects.requireNonNull(fs, "fs");
        if (!(fs instanceof HoldfastFileSystem h)) {
            throw new UnsupportedOperationException(
                    "not a Holdfast file system: " + fs.getClass().getName());
        }
        h.sync();
    }

    /**
     * The read lease under which {@code fs} answers queries from its cache, for a layer that caches
     * those answers again (a FUSE mount handing the kernel entry and attribute timeouts): empty if
     * {@code fs} is not a Holdfast file system or has no cache (turned off with {@code
     * holdfast.cache=false}, or the volume offers no leases).
     *
     * @param fs any file system
     * @return the lease, or empty
     * @throws NullPointerException if {@code fs} is null
     */
    public static Optional<ReadLease> readLease(FileSystem fs) {
        Objects.requireNonNull(fs, "fs");
        return fs instanceof HoldfastFileSystem h ? Optional.ofNullable(h.readLease()) : Optional.empty();
    }

    /** Whether {@code channel} is a channel of a Holdfast volume, which the other methods accept. */
    public static boolean isHoldfast(FileChannel channel) {
        return channel instanceof HoldfastFileChannel;
    }

    private static HoldfastFileChannel holdfast(FileChannel channel) {
        Objects.requireNonNull(channel, "channel");
        if (!(channel instanceof HoldfastFileChannel h)) {
            throw new UnsupportedOperationException(
                    "not a Holdfast channel: " + channel.getClass().getName());
        }
        return h;
    }

    /**
     * Linux {@code fallocate(2)}. Mode 0 makes the size at least {@code offset + length};
     * {@link #FALLOC_FL_KEEP_SIZE} leaves it. Holdfast does not preallocate: allocation checks the
     * leader's disk reserve for {@code length} bytes ({@code ENOSPC} below it) and changes only the
     * size, the new range being a hole that reads as zeros. {@code FALLOC_FL_PUNCH_HOLE |
     * FALLOC_FL_KEEP_SIZE} and {@link #FALLOC_FL_ZERO_RANGE} (with or without
     * {@link #FALLOC_FL_KEEP_SIZE}) make the range read as zeros; see the class comment for holes.
     * A caller other than root clears set-user-ID (and set-group-ID when group-executable), as a
     * write does.
     *
     * @param channel a Holdfast channel opened for writing
     * @param mode 0 or a combination of the {@code FALLOC_FL_*} constants above
     * @param offset first byte of the range, at least 0
     * @param length bytes in the range, at least 1
     * @return the file's size afterwards, in bytes
     * @throws UnsupportedOperationException if the channel is not a Holdfast channel
     * @throws NonWritableChannelException if it was not opened for writing
     * @throws IOException {@code EINVAL} for a negative offset or a length below 1,
     *     {@code EOPNOTSUPP} for another mode (PUNCH_HOLE needs KEEP_SIZE; COLLAPSE_RANGE,
     *     INSERT_RANGE, UNSHARE_RANGE are not supported), {@code EFBIG} past the largest file size
     *     (1 TiB), {@code ENOSPC}, or a failure of the channel's earlier writes
     */
    public static long fallocate(FileChannel channel, int mode, long offset, long length) throws IOException {
        return holdfast(channel).fallocate(mode, offset, length);
    }

    /**
     * Deallocates {@code [offset, offset + length)}: it reads as zeros and the size is unchanged
     * ({@code fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)}; NBD TRIM).
     *
     * @throws IOException as {@link #fallocate}
     */
    public static void punchHole(FileChannel channel, long offset, long length) throws IOException {
        fallocate(channel, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
    }

    /**
     * Makes {@code [offset, offset + length)} read as zeros; without {@code keepSize} the size
     * becomes at least {@code offset + length} ({@code fallocate(FALLOC_FL_ZERO_RANGE)}; NBD
     * WRITE_ZEROES).
     *
     * @throws IOException as {@link #fallocate}
     */
    public static void zeroRange(FileChannel channel, long offset, long length, boolean keepSize) throws IOException {
        fallocate(channel, FALLOC_FL_ZERO_RANGE | (keepSize ? FALLOC_FL_KEEP_SIZE : 0), offset, length);
    }

    /**
     * Positional read of exactly {@code dst.remaining()} bytes at {@code position} (fewer only at
     * the end of the file), without the channel's 1 MiB read-ahead and without its lock, so many
     * threads can read one channel at once: what a block export's random reads need. It sees every
     * write this channel's file system began before the call; a failure of such a write is not
     * reported here but by the channel's next {@code force()} or {@code close()}.
     *
     * @param channel a Holdfast channel opened for reading
     * @param dst where the bytes go; its position advances by the count read
     * @param position offset in the file, at least 0, in bytes
     * @return bytes read, or -1 if {@code position} is at or past the end of the file
     * @throws UnsupportedOperationException if the channel is not a Holdfast channel
     * @throws IllegalArgumentException if {@code position} is negative
     * @throws java.nio.channels.NonReadableChannelException if it was not opened for reading
     * @throws IOException {@code EIO} on a checksum mismatch, or the volume's refusal
     */
    public static int read(FileChannel channel, ByteBuffer dst, long position) throws IOException {
        return holdfast(channel).readDirect(dst, position);
    }

    /**
     * Linux {@code lseek(2)} {@code SEEK_DATA}: the first offset at or after {@code offset} that
     * holds data. The channel's position is not changed.
     *
     * @return the offset, in bytes
     * @throws UnsupportedOperationException if the channel is not a Holdfast channel
     * @throws IOException {@code ENXIO} if {@code offset} is negative, not before the size, or
     *     only holes follow it
     */
    public static long seekData(FileChannel channel, long offset) throws IOException {
        return holdfast(channel).seek(offset, false);
    }

    /**
     * Linux {@code lseek(2)} {@code SEEK_HOLE}: the first offset at or after {@code offset} in a
     * hole; the size if no hole follows (the end of a file counts as a hole). The channel's
     * position is not changed.
     *
     * @return the offset, in bytes
     * @throws UnsupportedOperationException if the channel is not a Holdfast channel
     * @throws IOException {@code ENXIO} if {@code offset} is negative or not before the size
     */
    public static long seekHole(FileChannel channel, long offset) throws IOException {
        return holdfast(channel).seek(offset, true);
    }
}
