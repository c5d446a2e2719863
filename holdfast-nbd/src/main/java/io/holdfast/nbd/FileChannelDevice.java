package io.holdfast.nbd;

import io.holdfast.client.nio.HoldfastFiles;
import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.ReadOnlyFileSystemException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A block image kept as a regular file, through one {@link FileChannel} shared by every
 * connection to it.
 *
 * <p>On a Holdfast volume ({@link HoldfastFiles#isHoldfast}): reads go straight to the volume
 * without read-ahead, many at once ({@link HoldfastFiles#read}); writes enter the file system's
 * bounded write-behind window and return once ordered there; {@link #flush} is
 * {@link FileChannel#force}, which returns when every write the file system began before it is
 * committed by a majority of the volume's replicas. TRIM punches a hole
 * ({@link HoldfastFiles#punchHole}), WRITE_ZEROES zeroes the range as one replicated mutation
 * ({@link HoldfastFiles#zeroRange}, which is why it counts as fast) unless no hole may be made,
 * and extents come from {@code SEEK_DATA}/{@code SEEK_HOLE} at the volume's 64 KiB hole
 * granularity.
 *
 * <p>On any other file system (a local file, for tests): reads and writes are positional
 * channel I/O, TRIM is ignored (it is a hint), WRITE_ZEROES writes zeros (never fast), and the
 * whole range is reported as data.
 *
 * <p>A Holdfast operation that waits for earlier writes (trim, zeroing, extents) reports a failure
 * of one of them as its own; such a failure is also kept for the next {@link #flush}, so a
 * failed write is never followed by a successful flush. Thread-safe.
 */
final class FileChannelDevice implements BlockDevice {
    private static final int ZERO_CHUNK = 1 << 20;
    /** Volume reads one image has in progress at most: 32, a queue depth that keeps the volume busy. */
    static final int MAX_CONCURRENT_READS = 32;

    private final String name;
    private final FileChannel channel;
    private final boolean readOnly;
    private final boolean holdfast;
    private final AtomicReference<IOException> unreported = new AtomicReference<>();
    /**
     * Writers queue here, not on the channel's monitor: a Holdfast channel's write holds its
     * monitor while it waits for room in the write-behind window, and 32 threads spinning on that
     * monitor burnt most of the gateway's CPU. A lock parks them at once, in arrival order.
     */
    private final ReentrantLock writeLock = new ReentrantLock(true);
    /**
     * Volume reads in progress for this image, at most {@link #MAX_CONCURRENT_READS}; the others
     * wait here in arrival order. Several connections (nbdcopy opens four, 64 requests each) would
     * otherwise put hundreds of reads on the volume client at once, and some of them went
     * unanswered for the whole 30 s deadline.
     */
    private final Semaphore reads = new Semaphore(MAX_CONCURRENT_READS, true);

    FileChannelDevice(String name, FileChannel channel, boolean readOnly) {
        this.name = name;
        this.channel = channel;
        this.readOnly = readOnly;
        this.holdfast = HoldfastFiles.isHoldfast(channel);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long size() throws IOException {
        return channel.size();
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public void read(ByteBuffer dst, long offset) throws IOException {
        try {
            reads.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted waiting to read " + name);
        }
        try {
            long at = offset;
            while (dst.hasRemaining()) {
                int n = holdfast ? HoldfastFiles.read(channel, dst, at) : channel.read(dst, at);
                if (n < 0) {
                    // past the end of the file (it was made shorter behind our back): zeros
                    while (dst.hasRemaining()) {
                        dst.put((byte) 0);
                    }
                    return;
                }
                at += n;
            }
        } finally {
            reads.release();
        }
    }

    private void checkWritable() {
        if (readOnly) {
            throw new ReadOnlyFileSystemException();
        }
    }

    @Override
    public void write(ByteBuffer src, long offset) throws IOException {
        checkWritable();
        long at = offset;
        writeLock.lock();
        try {
            while (src.hasRemaining()) {
                at += channel.write(src, at);
            }
        } finally {
            writeLock.unlock();
        }
    }

    @Override
    public void flush() throws IOException {
        IOException earlier = unreported.getAndSet(null);
        try {
            channel.force(false);
        } catch (IOException e) {
            if (earlier != null) {
                e.addSuppressed(earlier);
            }
            throw e;
        }
        if (earlier != null) {
            throw earlier;
        }
    }

    /** Runs a Holdfast operation that drains earlier writes, keeping any failure for the next flush. */
    private <T> T keepingFailure(IoOp<T> op) throws IOException {
        try {
            return op.run();
        } catch (IOException e) {
            unreported.compareAndSet(null, e);
            throw e;
        }
    }

    @FunctionalInterface
    private interface IoOp<T> {
        T run() throws IOException;
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        checkWritable();
        if (holdfast && length > 0) {
            keepingFailure(() -> {
                HoldfastFiles.punchHole(channel, offset, length);
                return null;
            });
        }
    }

    @Override
    public boolean zero(long offset, long length, boolean mayDeallocate, boolean fastOnly) throws IOException {
        checkWritable();
        if (length == 0) {
            return true;
        }
        if (holdfast && mayDeallocate) {
            keepingFailure(() -> {
                HoldfastFiles.zeroRange(channel, offset, length, true);
                return null;
            });
            return true;
        }
        if (fastOnly) {
            return false;
        }
        ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(ZERO_CHUNK, length));
        long done = 0;
        while (done < length) {
            zeros.clear().limit((int) Math.min(zeros.capacity(), length - done));
            write(zeros, offset + done);
            done += zeros.limit();
        }
        return true;
    }

    @Override
    public List<Extent> extents(long offset, long length, int maxExtents) throws IOException {
        if (maxExtents < 1 || length < 1) {
            throw new IllegalArgumentException("maxExtents " + maxExtents + ", length " + length);
        }
        long end = offset + length;
        if (!holdfast) {
            return List.of(new Extent(length, false, false));
        }
        return keepingFailure(() -> {
            List<Extent> out = new ArrayList<>();
            long at = offset;
            long fileSize = channel.size();
            while (at < end && out.size() < maxExtents) {
                if (at >= fileSize) {
                    add(out, end - at, true); // past the file: reads as zeros
                    break;
                }
                long data = dataAtOrAfter(at, fileSize);
                if (data > at) {
                    long stop = Math.min(data, end);
                    add(out, stop - at, true);
                    at = stop;
                    continue;
                }
                long hole = Math.min(HoldfastFiles.seekHole(channel, at), fileSize);
                long stop = Math.min(Math.max(hole, at + 1), end);
                add(out, stop - at, false);
                at = stop;
            }
            return out;
        });
    }

    /** Appends a run, merged into the last one when that has the same state. */
    private static void add(List<Extent> out, long length, boolean hole) {
        if (!out.isEmpty() && out.getLast().hole() == hole) {
            Extent last = out.removeLast();
            out.add(new Extent(last.length() + length, hole, hole));
        } else {
            out.add(new Extent(length, hole, hole));
        }
    }

    /** The first data offset at or after {@code at}, or {@code fileSize} if only holes follow. */
    private long dataAtOrAfter(long at, long fileSize) throws IOException {
        try {
            return Math.min(HoldfastFiles.seekData(channel, at), fileSize);
        } catch (ErrnoFileSystemException e) {
            if (e.errno() == Errno.ENXIO) {
                return fileSize;
            }
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    @Override
    public String toString() {
        return "export " + name;
    }
}
