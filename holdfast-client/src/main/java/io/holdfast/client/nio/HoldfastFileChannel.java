package io.holdfast.client.nio;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.NonReadableChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.OverlappingFileLockException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.ClosedFileSystemException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A {@link FileChannel} on one inode of a Holdfast volume.
 *
 * <p>Reads go to the volume in requests of 1 MiB (read-ahead: the reply serves the reads that
 * follow within it) and every reply's CRC32C is checked; corrupt bytes are never returned. Writes are copied and sent
 * asynchronously through the
 * file system's bounded window (write-behind); {@link #force}, {@link #close}, {@link #size},
 * reads and {@link #truncate} of this channel first wait for its outstanding writes and
 * report the first failure among them (once). Data is durable once {@code force()} or
 * {@code close()} returns; written-back attribute changes to the file once {@code force(true)}
 * returns ({@code close} does not wait for them; it reports one already known to have failed).
 * Position and size are kept client-side.
 *
 * <p>Locks are advisory and local to this JVM's file system instance. {@link #map} is not
 * supported. Thread-safe: operations on position are serialized.
 */
final class HoldfastFileChannel extends FileChannel {
    private static final int CHUNK = Limits.MAX_DATA_BYTES;
    /**
     * Default of {@code holdfast.coalesceBytes}: writes smaller than this are coalesced with the
     * sequential writes that follow into one request of up to this many bytes (tar writes 10 KiB
     * records: one log entry per file instead of one per record): 256 KiB.
     */
    static final int COALESCE_BYTES = 256 * 1024;

    private final HoldfastFileSystem fs;
    private final String name;
    private final long inode;
    private final Caller caller;
    private final boolean readable;
    private final boolean writable;
    private final boolean append;
    private final Inflight inflight = new Inflight();
    private final AtomicReference<IOException> failure = new AtomicReference<>();
    /**
     * Small sequential writes not sent yet, coalesced into one request (guarded by itself; taken
     * after this channel's monitor and before the file system's send lock, never the other way).
     */
    private final Object bufferLock = new Object();
    /** The coalesced bytes, or null when nothing is buffered; guarded by {@link #bufferLock}. */
    private byte[] buffer;
    /** Bytes used in {@link #buffer}, and the file offset of its first; guarded by {@link #bufferLock}. */
    private int buffered;

    private long bufferedAt;
    /** The file system's cache change standing for the buffered bytes; guarded by {@link #bufferLock}. */
    private MetadataCache.Change bufferedChange;
    /**
     * The client time the buffered bytes are stamped with (the latest write into the buffer), or 0
     * when they are not stamped ({@link HoldfastFileSystem#stampsWrites}); guarded by {@link #bufferLock}.
     */
    private long bufferedNanos;

    private final List<Lock> locks = new ArrayList<>();
    private long position;
    private long size;
    /**
     * Read-ahead: replies to reads of whole aligned {@link #CHUNK}-sized blocks (block k covers
     * offsets k*CHUNK to (k+1)*CHUNK), at most {@link #MAX_BLOCKS}, by block number; the reads that
     * fall into a block are served from it (a FUSE mount reads in 128 KiB pieces, often out of
     * order: one 1 MiB request instead of eight). While reads move forward block by block, the
     * blocks after the one read are requested ahead, up to {@link #depth} of them (doubling from 1
     * to {@link #MAX_DEPTH} per sequential step, 0 after a jump; a late piece of one of the
     * {@link #BEHIND} blocks before the one read last is not a jump), each holding a permit of the
     * file system's {@link HoldfastFileSystem#readAheadPermits} until dropped: memory for
     * read-ahead is bounded per file system. When there are too many, the blocks furthest behind
     * the reads go first, then those furthest ahead: a block fetched ahead is not dropped before
     * it is read while the reads go forward (an earlier trim by access order dropped it, and most
     * blocks of a sequential read were fetched twice). Dropped on every write or truncate through
     * this channel, and not used once this file system has sent any mutation since it was filled
     * (another channel's write to the same file). Data another client writes meanwhile is seen
     * after the block is dropped or the file is reopened (close-to-open, as NFS). Guarded by this
     * channel's monitor.
     *
     * <p>Each block is one {@link Request.Read} reply, and a member answers a read between two
     * applied log entries: a block is the file's content at one moment, so a read within one block
     * never sees part of one write request and not the rest of it.
     */
    // guarded by itself too (briefly, never while waiting): close() drops it without the monitor
    private final TreeMap<Long, Block> blocks = new TreeMap<>();
    /** Most blocks fetched ahead at once. */
    static final int MAX_DEPTH = 4;
    /** How many blocks behind the one read last a read may fall without counting as a jump. */
    static final int BEHIND = 2;
    /** Most blocks kept by one channel: those ahead, the one read, and those behind it. */
    static final int MAX_BLOCKS = MAX_DEPTH + 1 + BEHIND;
    /** How many blocks to fetch ahead of the one being read. */
    private int depth;
    /** The block read last (the furthest of a forward run), -1 before the first. */
    private long lastBlock = -1;
    /** {@link HoldfastFileSystem#changeCount()} when {@link #blocks} was last emptied. */
    private long blocksChanges = -1;

    /** A requested block: the reply to come, and whether it holds a read-ahead permit. */
    private record Block(CompletableFuture<Response> reply, boolean permit) {}

    HoldfastFileChannel(
            HoldfastFileSystem fs,
            String name,
            long inode,
            long size,
            Caller caller,
            boolean readable,
            boolean writable,
            boolean append) {
        this.fs = fs;
        this.name = name;
        this.inode = inode;
        this.size = size;
        this.caller = caller;
        this.readable = readable;
        this.writable = writable;
        this.append = append;
        this.position = append ? size : 0;
    }

    long inode() {
        return inode;
    }

    private void ensureOpen() throws ClosedChannelException {
        if (!isOpen()) {
            throw new ClosedChannelException();
        }
    }

    private void ensureReadable() throws ClosedChannelException {
        ensureOpen();
        if (!readable) {
            throw new NonReadableChannelException();
        }
    }

    private void ensureWritable() throws ClosedChannelException {
        ensureOpen();
        if (!writable) {
            throw new NonWritableChannelException();
        }
    }

    private static void checkPosition(long pos) {
        if (pos < 0) {
            throw new IllegalArgumentException("negative position");
        }
    }

    private static void checkPositionAndCount(long pos, long count) {
        if (pos < 0 || count < 0) {
            throw new IllegalArgumentException("negative position or count");
        }
    }

    private ClosedByInterruptException interrupted() {
        Thread.currentThread().interrupt();
        try {
            close();
        } catch (IOException e) {
            // the interrupt is what the caller needs to hear about
        }
        return new ClosedByInterruptException();
    }

    /** Waits for this channel's outstanding writes and reports the first failure, once. */
    private void drain() throws IOException {
        sendBuffered();
        try {
            inflight.awaitBegun();
        } catch (InterruptedException e) {
            throw interrupted();
        }
        IOException f = failure.getAndSet(null);
        if (f != null) {
            throw f;
        }
    }

    private Response call(CompletableFutureSupplier s) throws IOException {
        try {
            return Errors.await(s.get());
        } catch (InterruptedIOException e) {
            throw interrupted();
        }
    }

    /**
     * Sends {@code q} once the writes this file system began before it have completed (other
     * channels' writes to this file included), as {@link HoldfastFileSystem#query} does, but with
     * this channel's interrupt handling.
     */
    private Response query(Request.Query q) throws IOException {
        fs.awaitWrites();
        return call(() -> fs.service().query(q));
    }

    @FunctionalInterface
    private interface CompletableFutureSupplier {
        CompletableFuture<Response> get();
    }

    // ---- reading -------------------------------------------------------------------------

    /** Reads into {@code dst} at {@code pos}; returns bytes read or -1 at end of file. */
    private int readAt(ByteBuffer dst, long pos) throws IOException {
        drain();
        // Counted before the wait: a write another channel begins after this line moves the count,
        // so the blocks are not reused past it; one begun before it is waited for here.
        long changes = fs.changeCount();
        if (changes != blocksChanges) {
            dropBlocks();
            blocksChanges = changes;
        }
        int total = 0;
        while (dst.hasRemaining()) {
            long at = pos + total;
            long k = at / CHUNK;
            byte[] block = block(k);
            int offset = (int) (at - k * CHUNK);
            int n = Math.min(dst.remaining(), block.length - offset);
            if (n <= 0) {
                break; // end of file
            }
            dst.put(block, offset, n);
            total += n;
            if (block.length < CHUNK && offset + n == block.length) {
                break; // short block: end of file when it was read
            }
        }
        return total == 0 && want(dst) ? -1 : total;
    }

    /**
     * Block {@code k}'s content: from a reply already requested, else read now; then requests the
     * blocks ahead of it if reads go forward (see {@link #blocks}).
     */
    private byte[] block(long k) throws IOException {
        // a late piece of a block just passed (concurrent reads taking the lock out of order) is no jump
        boolean late = k < lastBlock && k >= lastBlock - BEHIND;
        if (k == lastBlock + 1 && k > 0) {
            depth = Math.clamp(depth * 2L, 1, MAX_DEPTH);
            lastBlock = k;
        } else if (k != lastBlock && !late) {
            depth = 0;
            lastBlock = k;
        }
        Block b;
        synchronized (blocks) {
            b = blocks.get(k);
            if (b != null && b.reply().isCompletedExceptionally()) {
                drop(k); // a failed read ahead is tried once more, now
                b = null;
            }
        }
        if (b == null) {
            fs.awaitWrites();
            b = new Block(fs.readContent(new Request.Read(inode, k * CHUNK, CHUNK)), false);
        }
        synchronized (blocks) {
            blocks.put(k, b);
            for (int i = 1; i <= depth; i++) {
                long ahead = lastBlock + i;
                if (ahead * CHUNK >= size || blocks.containsKey(ahead)) {
                    continue;
                }
                if (!fs.readAheadPermits.tryAcquire()) {
                    break;
                }
                blocks.put(ahead, new Block(fs.readContent(new Request.Read(inode, ahead * CHUNK, CHUNK)), true));
            }
            trimBlocks(k);
        }
        if (!isOpen()) {
            dropBlocks(); // closed meanwhile: give the permits back
        }
        try {
            return verified(call(b::reply), k * CHUNK, CHUNK);
        } catch (IOException e) {
            synchronized (blocks) {
                drop(k);
            }
            throw e;
        }
    }

    /**
     * Drops blocks beyond {@link #MAX_BLOCKS}, never {@code keep}: first the lowest below
     * {@link #lastBlock} (read already), then the highest above it (furthest ahead); holds
     * {@link #blocks}.
     */
    private void trimBlocks(long keep) {
        while (blocks.size() > MAX_BLOCKS) {
            Long victim = blocks.firstKey();
            if (victim == keep) {
                victim = blocks.higherKey(keep);
            }
            if (victim == null || victim >= lastBlock) {
                victim = blocks.lastKey();
                if (victim == keep) {
                    victim = blocks.lowerKey(keep);
                }
            }
            drop(victim);
        }
    }

    /** Drops block {@code k}; holds {@link #blocks}. */
    private void drop(long k) {
        Block b = blocks.remove(k);
        if (b != null) {
            release(b);
        }
    }

    private void release(Block b) {
        if (b.permit()) {
            fs.readAheadPermits.release();
        }
    }

    /**
     * Reads up to {@code length} bytes at {@code at} from the volume, checking the data's CRC32C
     * (EIO on a mismatch) and that no more came than asked for (EPROTO).
     */
    private byte[] readVerified(long at, int length) throws IOException {
        return verified(query(new Request.Read(inode, at, length)), at, length);
    }

    /** The bytes of a read's reply {@code r}, checked as {@link #readVerified} says. */
    private byte[] verified(Response r, long at, int length) throws IOException {
        byte[] bytes = switch (r) {
            case Response.Data d -> {
                if (Checksums.crc32c(d.bytes()) != d.crc32c()) {
                    throw new ErrnoFileSystemException(
                            name, null, Errno.EIO, "checksum mismatch reading inode " + inode + " at offset " + at);
                }
                yield d.bytes();
            }
            case Response.Error e -> throw Errors.toException(e, name, null);
            default -> throw Errors.unexpected(r, name);
        };
        if (bytes.length > length) {
            throw new ErrnoFileSystemException(
                    name, null, Errno.EPROTO, "read returned " + bytes.length + " bytes, asked for " + length);
        }
        return bytes;
    }

    private void dropBlocks() {
        synchronized (blocks) {
            for (Block b : blocks.values()) {
                release(b);
            }
            blocks.clear();
        }
        depth = 0;
        lastBlock = -1;
    }

    private static boolean want(ByteBuffer dst) {
        return dst.hasRemaining();
    }

    @Override
    public synchronized int read(ByteBuffer dst) throws IOException {
        ensureReadable();
        int n = readAt(dst, position);
        if (n > 0) {
            position += n;
        }
        return n;
    }

    @Override
    public synchronized long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
        Objects.checkFromIndexSize(offset, length, dsts.length);
        ensureReadable();
        long total = 0;
        for (int i = offset; i < offset + length; i++) {
            if (!dsts[i].hasRemaining()) {
                continue;
            }
            int n = read(dsts[i]);
            if (n < 0) {
                return total == 0 ? -1 : total;
            }
            total += n;
            if (dsts[i].hasRemaining()) {
                break;
            }
        }
        return total;
    }

    @Override
    public synchronized int read(ByteBuffer dst, long pos) throws IOException {
        checkPosition(pos);
        ensureReadable();
        return readAt(dst, pos);
    }

    /**
     * Reads into {@code dst} at {@code pos} exactly as many bytes as it has room for (fewer only
     * at the end of the file), without the read-ahead blocks and without holding the channel's
     * lock, so several threads may read at once (a block export serving many requests). Waits
     * first for the writes this channel and its file system began before the call, so it sees
     * them, but leaves a failure of those writes to be reported by the next {@link #force},
     * {@link #close} or read through the read-ahead blocks, as a durability point should.
     *
     * @return bytes read, or -1 at the end of the file
     */
    int readDirect(ByteBuffer dst, long pos) throws IOException {
        checkPosition(pos);
        ensureReadable();
        sendBuffered();
        try {
            inflight.awaitBegun();
        } catch (InterruptedException e) {
            throw interrupted();
        }
        int total = 0;
        while (dst.hasRemaining()) {
            int want = Math.min(dst.remaining(), CHUNK);
            long at = pos + total;
            byte[] bytes = readVerified(at, want);
            dst.put(bytes);
            total += bytes.length;
            if (bytes.length < want) {
                break; // end of file
            }
        }
        return total == 0 && dst.hasRemaining() ? -1 : total;
    }

    // ---- writing -------------------------------------------------------------------------

    private int writeAt(ByteBuffer src, long pos) throws IOException {
        dropBlocks();
        int n = src.remaining();
        int limit = fs.coalesceBytes();
        if (n > 0 && n < limit) {
            synchronized (bufferLock) {
                boolean follows = buffer != null && pos == bufferedAt + buffered;
                if (follows && buffered + n <= buffer.length) {
                    if (bufferedNanos != 0) {
                        bufferedNanos = Math.max(bufferedNanos, HoldfastFileSystem.clientNanos());
                        fs.predictWrite(inode, pos + n, bufferedNanos, caller);
                    }
                    src.get(buffer, buffered, n);
                    buffered += n;
                    size = Math.max(size, pos + n);
                    return n;
                }
            }
            fs.flushBuffered(); // this channel's and the others': a write sent after them goes after them
            synchronized (bufferLock) {
                sendBufferedLocked(); // nothing is left here (only this thread fills it); in case
                long stamp = stamp(pos + n); // before buffering drops the cached attributes
                try {
                    bufferedChange = fs.buffering(this, caller, inode);
                } catch (ClosedFileSystemException e) {
                    return sendAt(src, pos);
                }
                buffer = new byte[limit];
                bufferedAt = pos;
                bufferedNanos = stamp;
                src.get(buffer, 0, n);
                buffered = n;
                size = Math.max(size, pos + n);
                return n;
            }
        }
        fs.flushBuffered();
        return sendAt(src, pos);
    }

    /**
     * The client time to stamp a write of bytes up to {@code end} with, after the cache has
     * predicted the attributes it leaves ({@link HoldfastFileSystem#predictWrite}), or 0 if this
     * caller's writes are not stamped.
     */
    private long stamp(long end) {
        if (!fs.stampsWrites(caller)) {
            return 0;
        }
        long now = HoldfastFileSystem.clientNanos();
        fs.predictWrite(inode, end, now, caller);
        return now;
    }

    /**
     * Sends the writes this channel has buffered, if any (in one request, through the write
     * window). Called before anything that must see them: this channel's reads, size, truncate,
     * force and close, and the file system's queries and mutations.
     *
     * @throws IOException if interrupted waiting for room in the window
     */
    void sendBuffered() throws IOException {
        synchronized (bufferLock) {
            sendBufferedLocked();
        }
    }

    private void sendBufferedLocked() throws IOException {
        if (buffer == null) {
            return;
        }
        ByteBuffer b = ByteBuffer.wrap(buffer, 0, buffered);
        long at = bufferedAt;
        MetadataCache.Change[] standIn = {bufferedChange};
        long nanos = bufferedNanos;
        buffer = null;
        buffered = 0;
        bufferedChange = null;
        bufferedNanos = 0;
        try {
            sendAt(b, at, nanos, standIn);
        } finally {
            fs.sentBuffered(this, standIn[0]); // null once the write carrying the bytes ended it
        }
    }

    /**
     * Sends {@code src} at {@code pos} now, in requests of at most the file system's chunk, stamped
     * at the client's time if this caller's writes are (their attributes predicted first).
     */
    private int sendAt(ByteBuffer src, long pos) throws IOException {
        return sendAt(src, pos, fs.stampsWrites(caller) ? HoldfastFileSystem.clientNanos() : 0);
    }

    /**
     * Sends {@code src} at {@code pos} now, in requests of at most the file system's chunk, each
     * stamped {@code clientNanos} (0: at the entry's time) and its attributes predicted first.
     */
    private int sendAt(ByteBuffer src, long pos, long clientNanos) throws IOException {
        return sendAt(src, pos, clientNanos, new MetadataCache.Change[1]);
    }

    /**
     * {@link #sendAt(ByteBuffer, long, long)} of buffered bytes: the first request ends the cache's
     * stand-in for them, {@code standIn[0]}, once it has begun, and sets it to null.
     */
    private int sendAt(ByteBuffer src, long pos, long clientNanos, MetadataCache.Change[] standIn) throws IOException {
        int total = 0;
        int chunk = fs.maxChunkBytes();
        while (src.hasRemaining()) {
            byte[] data = new byte[Math.min(src.remaining(), chunk)];
            src.get(data);
            long at = pos + total;
            Request.Write w = new Request.Write(caller, inode, at, data, Checksums.crc32c(data), clientNanos);
            if (clientNanos != 0) {
                fs.predictWrite(inode, at + data.length, clientNanos, caller); // what this chunk's answer says
            }
            long ticket = inflight.begin();
            try {
                fs.submitWrite(w, standIn[0], (r, t) -> completed(r, t, at, ticket));
                standIn[0] = null;
            } catch (ClosedByInterruptException e) {
                inflight.end(ticket);
                throw interrupted();
            } catch (RuntimeException e) {
                inflight.end(ticket);
                throw e;
            }
            total += data.length;
            size = Math.max(size, at + data.length);
        }
        return total;
    }

    private void completed(Response r, Throwable t, long at, long ticket) {
        try {
            IOException e = null;
            if (t != null) {
                try {
                    e = Errors.unwrap(t);
                } catch (RuntimeException | Error x) {
                    e = new IOException("write at " + at + " of " + name + " failed", x);
                }
            } else if (r instanceof Response.Error err) {
                e = Errors.toException(err, name, null);
            }
            if (e != null) {
                failure.compareAndSet(null, e);
            }
        } finally {
            inflight.end(ticket);
        }
    }

    @Override
    public synchronized int write(ByteBuffer src) throws IOException {
        ensureWritable();
        if (append) {
            position = size;
        }
        int n = writeAt(src, position);
        position += n;
        return n;
    }

    @Override
    public synchronized long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        Objects.checkFromIndexSize(offset, length, srcs.length);
        ensureWritable();
        long total = 0;
        for (int i = offset; i < offset + length; i++) {
            total += write(srcs[i]);
        }
        return total;
    }

    @Override
    public synchronized int write(ByteBuffer src, long pos) throws IOException {
        checkPosition(pos);
        ensureWritable();
        return writeAt(src, pos);
    }

    // ---- position, size ------------------------------------------------------------------

    @Override
    public synchronized long position() throws IOException {
        ensureOpen();
        return position;
    }

    @Override
    public synchronized FileChannel position(long newPosition) throws IOException {
        checkPosition(newPosition);
        ensureOpen();
        position = newPosition;
        return this;
    }

    @Override
    public synchronized long size() throws IOException {
        ensureOpen();
        drain();
        Response r = query(new Request.GetAttrByInode(inode));
        size = Errors.attr(r, name, null).size();
        return size;
    }

    @Override
    public synchronized FileChannel truncate(long newSize) throws IOException {
        if (newSize < 0) {
            throw new IllegalArgumentException("negative size");
        }
        ensureWritable();
        dropBlocks();
        long current = size();
        if (newSize < current) {
            Response r = fs.submit(new Request.Truncate(caller, inode, newSize));
            Errors.attr(r, name, null);
            size = newSize;
        }
        if (position > newSize) {
            position = newSize;
        }
        return this;
    }

    /**
     * Linux {@code fallocate(2)} on this channel's file, after this channel's outstanding writes
     * (and every write this file system began before) have completed, so it applies after them;
     * see {@link HoldfastFiles#fallocate}.
     *
     * @return the file's size afterwards, in bytes
     * @throws NonWritableChannelException if the channel was not opened for writing (EBADF)
     * @throws IOException the volume's refusal ({@code EINVAL}, {@code EOPNOTSUPP}, {@code EFBIG},
     *     {@code ENOSPC}, ...), or the first failure of this channel's earlier writes
     */
    synchronized long fallocate(int mode, long offset, long length) throws IOException {
        ensureWritable();
        dropBlocks();
        drain();
        Response r = fs.submit(new Request.Fallocate(caller, inode, mode, offset, length));
        size = Errors.attr(r, name, null).size();
        return size;
    }

    /**
     * Linux {@code lseek(2)} {@code SEEK_DATA} or {@code SEEK_HOLE} on this channel's file, after
     * its outstanding writes; the channel's position is not changed. See
     * {@link HoldfastFiles#seekData}.
     *
     * @return the offset found, in bytes
     * @throws IOException {@code ENXIO} as an {@link ErrnoFileSystemException} when there is no
     *     such offset, or another failure
     */
    synchronized long seek(long offset, boolean hole) throws IOException {
        ensureOpen();
        drain();
        Response r = query(new Request.SeekData(inode, offset, hole));
        return switch (r) {
            case Response.Offset o -> o.offset();
            case Response.Error e -> throw Errors.toException(e, name, null);
            default -> throw Errors.unexpected(r, name);
        };
    }

    /**
     * Waits until this channel's writes, and every other write this file system began before the
     * call, are committed (fsync(2) makes all of a file's data durable, whichever descriptor wrote
     * it; through FUSE, data written back from a shared mapping arrives on any open handle).
     * Committed data is durable on a majority of the replicas, so nothing more is needed. With
     * {@code metaData} it also waits for the written-back attribute changes (chmod, chown, utimens;
     * see {@link HoldfastFileSystemProvider#ENV_WRITE_BACK}) the file system began before, as
     * fsync(2) covers the inode's metadata; without, as fdatasync(2), only for the data.
     *
     * @throws IOException the first failure of this channel's writes, or of a written-back change
     *     to this file, reported once
     */
    @Override
    public void force(boolean metaData) throws IOException {
        ensureOpen();
        drain();
        if (metaData) {
            fs.awaitWrites();
            fs.writeBackDurable(inode);
        } else {
            // fdatasync(2): the data and what reading it needs (the size, the file itself), not
            // mode, owner or times
            fs.awaitDataWrites();
            fs.awaitCreated(inode);
            fs.writeBackFailed(inode);
        }
    }

    // ---- transfers -----------------------------------------------------------------------

    @Override
    public long transferTo(long pos, long count, WritableByteChannel target) throws IOException {
        checkPositionAndCount(pos, count);
        ensureReadable();
        long done = 0;
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(CHUNK, Math.max(1, count)));
        while (done < count) {
            buf.clear().limit((int) Math.min(buf.capacity(), count - done));
            int n = read(buf, pos + done);
            if (n <= 0) {
                break;
            }
            buf.flip();
            while (buf.hasRemaining()) {
                target.write(buf);
            }
            done += n;
        }
        return done;
    }

    @Override
    public long transferFrom(ReadableByteChannel src, long pos, long count) throws IOException {
        checkPositionAndCount(pos, count);
        ensureWritable();
        long done = 0;
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(CHUNK, Math.max(1, count)));
        while (done < count) {
            buf.clear().limit((int) Math.min(buf.capacity(), count - done));
            int n = src.read(buf);
            if (n <= 0) {
                break;
            }
            buf.flip();
            while (buf.hasRemaining()) {
                write(buf, pos + done + buf.position());
            }
            done += n;
        }
        return done;
    }

    /**
     * Not supported: a volume's data is not addressable memory.
     *
     * @throws UnsupportedOperationException always
     */
    @Override
    public MappedByteBuffer map(MapMode mode, long pos, long sz) {
        throw new UnsupportedOperationException("map is not supported by Holdfast");
    }

    // ---- locks ---------------------------------------------------------------------------

    /** A lock local to this file system instance; overlapping requests fail at once. */
    private final class Lock extends FileLock {
        private boolean valid = true;

        Lock(long pos, long sz, boolean shared) {
            super(HoldfastFileChannel.this, pos, sz, shared);
        }

        @Override
        public boolean isValid() {
            synchronized (locks) {
                return valid && HoldfastFileChannel.this.isOpen();
            }
        }

        @Override
        public void release() throws IOException {
            ensureOpen();
            synchronized (locks) {
                valid = false;
                locks.remove(this);
            }
            fs.unlocked(inode, this);
        }

        void invalidate() {
            synchronized (locks) {
                valid = false;
            }
        }
    }

    @Override
    public FileLock lock(long pos, long sz, boolean shared) throws IOException {
        FileLock l = tryLock(pos, sz, shared);
        if (l == null) {
            throw new OverlappingFileLockException();
        }
        return l;
    }

    @Override
    public FileLock tryLock(long pos, long sz, boolean shared) throws IOException {
        if (pos < 0 || sz < 0) {
            throw new IllegalArgumentException("negative position or size");
        }
        if (shared) {
            ensureReadable();
        } else {
            ensureWritable();
        }
        Lock l = new Lock(pos, sz, shared);
        fs.locked(inode, l);
        synchronized (locks) {
            locks.add(l);
        }
        return l;
    }

    // ---- close ---------------------------------------------------------------------------

    @Override
    protected void implCloseChannel() throws IOException {
        IOException first = null;
        try {
            sendBuffered();
        } catch (IOException e) {
            first = e;
        }
        try {
            inflight.awaitBegun();
            first = failure.getAndSet(null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // writes finish in the background
        }
        if (fs.isOpen()) {
            try {
                fs.awaitCreated(inode); // close-to-open: the file exists for others once closed
                fs.writeBackFailed(inode); // reported if known; fsync waits for them
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        dropBlocks();
        List<Lock> held;
        synchronized (locks) {
            held = List.copyOf(locks);
            locks.clear();
        }
        for (Lock l : held) {
            l.invalidate();
            fs.unlocked(inode, l);
        }
        if (fs.closed(this, inode) && fs.isOpen()) {
            try {
                Errors.ok(fs.submit(new Request.DropOrphan(caller, inode)), name, null);
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
