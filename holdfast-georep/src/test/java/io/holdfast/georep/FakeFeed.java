package io.holdfast.georep;

import io.holdfast.protocol.Change;
import io.holdfast.protocol.ChangeRecord;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * A volume's change feed in memory, answering as a member does ({@link Request.Changes}): records
 * after an index, a bounded page, {@code more}, a long-poll wait, trimmed history. Can fail the
 * next calls, as a cut link does. Thread-safe.
 */
final class FakeFeed implements ChangeSource {
    /** Commit time of record 1; each further index is a millisecond later. */
    static final long BASE_NANOS = 1_765_000_000_000_000_000L;

    private final List<ChangeRecord> records = new ArrayList<>();
    private long applied;
    private long trimmed;
    private int failNext;
    private int calls;

    /** Appends a record of {@code changes} at the next index; returns the index. */
    synchronized long append(List<Change> changes) {
        applied++;
        records.add(new ChangeRecord(applied, timeOf(applied), changes));
        notifyAll();
        return applied;
    }

    static long timeOf(long index) {
        return BASE_NANOS + index * 1_000_000L;
    }

    /** An applied entry that changed nothing (no record). */
    synchronized void appliedWithoutRecord() {
        applied++;
        notifyAll();
    }

    /** Forgets the records through {@code index}. */
    synchronized void trimThrough(long index) {
        trimmed = Math.max(trimmed, index);
        records.removeIf(r -> r.index() <= index);
    }

    synchronized long appliedIndex() {
        return applied;
    }

    /** Makes the next {@code n} calls fail. */
    synchronized void failNext(int n) {
        failNext = n;
    }

    synchronized int calls() {
        return calls;
    }

    @Override
    public synchronized Response.ChangePage changes(long afterIndex, int maxRecords, int waitMillis)
            throws IOException {
        new Request.Changes(afterIndex, maxRecords, waitMillis); // the request's own checks
        calls++;
        if (failNext > 0) {
            failNext--;
            throw new IOException("link to the primary is down (fake)");
        }
        if (afterIndex < trimmed) {
            return new Response.ChangePage(applied, trimmed, List.of(), false);
        }
        long deadline = System.nanoTime() + waitMillis * 1_000_000L;
        while (applied <= afterIndex && waitMillis > 0) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                break;
            }
            try {
                wait(Math.max(1, left / 1_000_000L));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted waiting for changes");
            }
        }
        List<ChangeRecord> page = new ArrayList<>();
        boolean more = false;
        for (ChangeRecord r : records) {
            if (r.index() > afterIndex) {
                if (page.size() == maxRecords) {
                    more = true;
                    break;
                }
                page.add(r);
            }
        }
        return new Response.ChangePage(applied, trimmed, page, more);
    }
}
