package io.holdfast.protocol;

import java.util.List;

/**
 * What one applied volume log entry changed: an element of the change feed
 * ({@link Request.Changes}). Entries that changed nothing (refused ones, scrub marks) have no
 * record. Immutable and thread-safe.
 *
 * @param index the entry's Raft log index
 * @param timeNanos the entry's timestamp: the leader's clock when it accepted the request,
 *     nanoseconds since the epoch (the "commit time" lag is measured from)
 * @param changes 1 to {@link #MAX_CHANGES} changes, in the order the entry made them (a batch
 *     entry makes one per mutation that succeeded)
 */
public record ChangeRecord(long index, long timeNanos, List<Change> changes) {
    /** Most changes in one record: one per mutation of the largest batch. */
    public static final int MAX_CHANGES = Request.Batch.MAX_MUTATIONS;

    public ChangeRecord {
        changes = List.copyOf(changes);
        if (changes.isEmpty() || changes.size() > MAX_CHANGES) {
            throw new IllegalArgumentException(
                    "a change record holds 1 to " + MAX_CHANGES + " changes, not " + changes.size());
        }
        if (index <= 0) {
            throw new IllegalArgumentException("change record of log index " + index);
        }
    }
}
