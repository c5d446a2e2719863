package io.holdfast.overlay;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * A read-only channel on a lower-layer file: every read that fails (other than on a closed
 * channel) is a lower error of that file, counted and logged by the {@link Overlay}, and thrown as
 * {@code EIO}. Writes are refused ({@link NonWritableChannelException}): writing copies up first,
 * and a write handle is never a lower one.
 *
 * <p>Thread safety: as the wrapped channel.
 */
final class LowerChannel extends FileChannel {
    private final FileChannel in;
    private final Overlay overlay;
    private final String rel;

    LowerChannel(FileChannel in, Overlay overlay, String rel) {
        this.in = in;
        this.overlay = overlay;
        this.rel = rel;
    }

    /** Runs a read of the lower file; its failure, but for a closed channel, is a lower error of the file. */
    private <T> T reading(IoCall<T> call) throws IOException {
        try {
            return call.run();
        } catch (ClosedChannelException e) {
            throw e;
        } catch (IOException e) {
            throw overlay.lowerError(rel, "read", e);
        }
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        return reading(() -> in.read(dst));
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
        return reading(() -> in.read(dsts, offset, length));
    }

    @Override
    public int read(ByteBuffer dst, long position) throws IOException {
        return reading(() -> in.read(dst, position));
    }

    @Override
    public int write(ByteBuffer src) {
        throw new NonWritableChannelException();
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) {
        throw new NonWritableChannelException();
    }

    @Override
    public int write(ByteBuffer src, long position) {
        throw new NonWritableChannelException();
    }

    @Override
    public long position() throws IOException {
        return in.position();
    }

    @Override
    public FileChannel position(long newPosition) throws IOException {
        in.position(newPosition);
        return this;
    }

    @Override
    public long size() throws IOException {
        return reading(in::size);
    }

    @Override
    public FileChannel truncate(long size) {
        throw new NonWritableChannelException();
    }

    @Override
    public void force(boolean metaData) throws IOException {
        // nothing written through this channel
        if (!in.isOpen()) {
            throw new ClosedChannelException();
        }
    }

    @Override
    public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(count, 1 << 20));
        int n = read(buf, position);
        if (n <= 0) {
            return 0;
        }
        buf.flip();
        long written = 0;
        while (buf.hasRemaining()) {
            written += target.write(buf);
        }
        return written;
    }

    @Override
    public long transferFrom(ReadableByteChannel src, long position, long count) {
        throw new NonWritableChannelException();
    }

    @Override
    public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
        if (mode != MapMode.READ_ONLY) {
            throw new NonWritableChannelException();
        }
        return reading(() -> in.map(mode, position, size));
    }

    @Override
    public FileLock lock(long position, long size, boolean shared) throws IOException {
        if (!shared) {
            throw new NonWritableChannelException();
        }
        return in.lock(position, size, true);
    }

    @Override
    public FileLock tryLock(long position, long size, boolean shared) throws IOException {
        if (!shared) {
            throw new NonWritableChannelException();
        }
        return in.tryLock(position, size, true);
    }

    @Override
    protected void implCloseChannel() throws IOException {
        in.close();
    }
}
