package io.holdfast.mirror;

import io.holdfast.protocol.Change;
import io.holdfast.protocol.ChangeRecord;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A bounded in-memory change feed: {@link ChangeRecord}s of one {@link Change} each, numbered 1,
 * 2, 3... as they are appended, read in pages with the contract of {@link Request.Changes} and
 * {@link Response.ChangePage}.
 *
 * <ul>
 *   <li><b>Coalescing</b>: a {@link Change.Kind#WRITE} of the same path and inode as the newest
 *       record, itself a WRITE, replaces it: the newest record is removed and the new one appended
 *       with the next number. Numbers stay increasing but are then not consecutive; a reader that
 *       had read the replaced record reads the new one next, so it misses nothing.
 *   <li><b>Bound</b>: past {@code capacity} records the oldest is dropped and
 *       {@code trimmedThrough} rises to its number.
 *   <li><b>Gaps</b>: {@link #lost()} records that changes were lost (a kernel queue overflow): it
 *       takes a number of its own with no record and raises {@code trimmedThrough} to it, so every
 *       reader at or before the gap must resynchronise.
 *   <li><b>Positions from elsewhere</b>: a reader asking after a number this queue never gave (a
 *       position kept from an earlier instance, whose numbering restarted) gets an empty page with
 *       {@code trimmedThrough} above its position: it must resynchronise and continue after the
 *       page's applied index.
 * </ul>
 *
 * <p>Thread safety: all methods may be called from any thread; readers block only in
 * {@link #changes} for at most its wait.
 */
final class ChangeQueue {
    private final int capacity;
    private final InstantSource clock;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition appended = lock.newCondition();
    private final ChangeRecord[] ring;
    private int head;
    private int size;
    private long lastIndex;
    private long trimmedThrough;
    private IOException failure;
    private boolean closed;

    /**
     * @param capacity most records kept, at least 1
     * @param clock gives {@link ChangeRecord#timeNanos()} of each record appended
     */
    ChangeQueue(int capacity, InstantSource clock) {
        if (capacity < 1) {
            throw new IllegalArgumentException("change queue capacity " + capacity + ", must be at least 1");
        }
        this.capacity = capacity;
        this.clock = clock;
        this.ring = new ChangeRecord[capacity];
    }

    /** Appends {@code change} as the next record, coalescing and dropping as the class describes. */
    void append(Change change) {
        long now = nanos();
        lock.lock();
        try {
            if (change.kind() == Change.Kind.WRITE && size > 0) {
                ChangeRecord tail = at(size - 1);
                Change last = tail.changes().getFirst();
                if (last.kind() == Change.Kind.WRITE
                        && last.inode() == change.inode()
                        && last.path() != null
                        && last.path().equals(change.path())) {
                    size--;
                    ring[(head + size) % capacity] = null;
                }
            }
            if (size == capacity) {
                trimmedThrough = Math.max(trimmedThrough, ring[head].index());
                ring[head] = null;
                head = (head + 1) % capacity;
                size--;
            }
            ring[(head + size) % capacity] = new ChangeRecord(++lastIndex, now, List.of(change));
            size++;
            appended.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Records that changes were lost at this point: every reader at or before it must resynchronise. */
    void lost() {
        lock.lock();
        try {
            trimmedThrough = ++lastIndex;
            appended.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Makes every later {@link #changes} call throw {@code cause} (the source broke). */
    void fail(IOException cause) {
        lock.lock();
        try {
            if (failure == null) {
                failure = cause;
            }
            appended.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Wakes waiting readers and makes later {@link #changes} calls fail with IllegalStateException. */
    void close() {
        lock.lock();
        try {
            closed = true;
            appended.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Whether a reader is blocked in {@link #changes} (for tests). */
    boolean hasWaitingReaders() {
        lock.lock();
        try {
            return lock.hasWaiters(appended);
        } finally {
            lock.unlock();
        }
    }

    /** The number of the newest record or gap, 0 if none. */
    long lastIndex() {
        lock.lock();
        try {
            return lastIndex;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The records after {@code afterIndex}, oldest first, as {@link Request.Changes} describes.
     *
     * @param afterIndex the last number the reader has seen, 0 for the beginning
     * @param maxRecords most records, 1 to {@link Request.Changes#MAX_RECORDS}
     * @param waitMillis how long to wait for a record after {@code afterIndex} if there is none yet,
     *     0 to {@link Request.Changes#MAX_WAIT_MILLIS}
     * @throws IllegalArgumentException if an argument is out of its range
     * @throws IllegalStateException if the queue was closed before the call
     * @throws InterruptedIOException if the thread is interrupted while waiting
     * @throws IOException the failure the source reported ({@link #fail})
     */
    Response.ChangePage changes(long afterIndex, int maxRecords, int waitMillis) throws IOException {
        new Request.Changes(afterIndex, maxRecords, waitMillis); // validates the ranges
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("the change source is closed");
            }
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMillis);
            while (failure == null
                    && !closed
                    && afterIndex >= trimmedThrough
                    && afterIndex <= lastIndex
                    && (size == 0 || at(size - 1).index() <= afterIndex)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                try {
                    appended.awaitNanos(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException("interrupted while waiting for changes");
                }
            }
            if (failure != null) {
                throw new IOException(failure.getMessage(), failure);
            }
            if (afterIndex > lastIndex) {
                long past = afterIndex == Long.MAX_VALUE ? afterIndex : afterIndex + 1;
                return new Response.ChangePage(lastIndex, past, List.of(), false);
            }
            if (afterIndex < trimmedThrough) {
                return new Response.ChangePage(lastIndex, trimmedThrough, List.of(), false);
            }
            int first = firstAfter(afterIndex);
            int n = Math.min(maxRecords, size - first);
            List<ChangeRecord> records = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                records.add(at(first + i));
            }
            return new Response.ChangePage(lastIndex, trimmedThrough, records, first + n < size);
        } finally {
            lock.unlock();
        }
    }

    private ChangeRecord at(int i) {
        return ring[(head + i) % capacity];
    }

    /** The position of the first record numbered above {@code index} (size if none). */
    private int firstAfter(long index) {
        int lo = 0;
        int hi = size;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (at(mid).index() <= index) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private long nanos() {
        var i = clock.instant();
        return i.getEpochSecond() * 1_000_000_000L + i.getNano();
    }
}
