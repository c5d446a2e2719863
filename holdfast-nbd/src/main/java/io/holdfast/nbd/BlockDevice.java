package io.holdfast.nbd;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * One export as the NBD server sees it: a range of bytes with reads, writes, a durability point
 * and allocation. {@link FileChannelDevice} is the one implementation (a block image kept as a
 * regular file, on a Holdfast volume or a local disk).
 *
 * <p><b>Durability.</b> A {@link #write} may return before its data is durable (write-back);
 * what it wrote is visible to every later {@link #read} of this device, on any connection.
 * {@link #flush} returns only when every write, trim and zeroing that returned before it is
 * durable, and reports a failure of any of them that was not reported yet.
 *
 * <p>Offsets and lengths are in bytes; callers check them against {@link #size} first.
 * Implementations are thread-safe: the server calls them from many threads at once.
 */
public interface BlockDevice extends Closeable {
    /** The export's canonical name. */
    String name();

    /**
     * The current size in bytes.
     *
     * @throws IOException if it cannot be read
     */
    long size() throws IOException;

    /** Whether writes are refused (the image is opened read-only). */
    boolean readOnly();

    /**
     * Fills {@code dst} from {@code offset}; bytes past the end of the backing file read as zeros.
     *
     * @throws IOException if the data cannot be read (never partly filled silently)
     */
    void read(ByteBuffer dst, long offset) throws IOException;

    /**
     * Writes all of {@code src} at {@code offset}; durable after the next {@link #flush}.
     *
     * @throws IOException if the write is refused (a failure found later is reported by
     *     {@link #flush})
     */
    void write(ByteBuffer src, long offset) throws IOException;

    /**
     * Makes every write that returned before this call durable (on a Holdfast volume: committed
     * by a majority of the volume's replicas).
     *
     * @throws IOException the first failure among those writes not reported before
     */
    void flush() throws IOException;

    /**
     * Deallocates a range (NBD TRIM); it reads as zeros afterwards. A device may ignore it.
     *
     * @throws IOException if the volume refuses it
     */
    void trim(long offset, long length) throws IOException;

    /**
     * Makes a range read as zeros (NBD WRITE_ZEROES).
     *
     * @param mayDeallocate whether the range may become a hole (false: NBD_CMD_FLAG_NO_HOLE)
     * @param fastOnly whether to give up, changing nothing, unless it can be done faster than
     *     writing the zeros (NBD_CMD_FLAG_FAST_ZERO)
     * @return false if {@code fastOnly} and it could not be fast (nothing was changed); else true
     * @throws IOException if the volume refuses it
     */
    boolean zero(long offset, long length, boolean mayDeallocate, boolean fastOnly) throws IOException;

    /**
     * The allocation of {@code [offset, offset + length)} as consecutive extents from
     * {@code offset}: at least one, at most {@code maxExtents}, together at most {@code length}
     * bytes (fewer when the limit is reached).
     *
     * @throws IOException if the allocation cannot be read
     */
    List<Extent> extents(long offset, long length, int maxExtents) throws IOException;

    /**
     * A run of bytes with one allocation state ({@code base:allocation}).
     *
     * @param length bytes, at least 1
     * @param hole whether the run is not allocated (a hole)
     * @param zero whether the run is known to read as zeros
     */
    record Extent(long length, boolean hole, boolean zero) {
        public Extent {
            if (length < 1) {
                throw new IllegalArgumentException("extent length " + length);
            }
        }
    }
}
