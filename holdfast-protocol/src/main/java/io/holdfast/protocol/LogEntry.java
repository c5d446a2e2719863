package io.holdfast.protocol;

import java.util.Objects;

/**
 * A mutation as it is stored in the Raft log: the client's request plus the timestamp the
 * leader chose for it, once, when proposing it. Every member applies the entry with that
 * timestamp, so applying is deterministic.
 *
 * @param timestampNanos nanoseconds since the epoch, chosen by the leader
 * @param mutation the client's request
 */
public record LogEntry(long timestampNanos, Request.Mutation mutation) {
    public LogEntry {
        Objects.requireNonNull(mutation);
    }

    /** The log format this entry is written in: the lowest that can express it ({@link LogFormat#required}). */
    public int format() {
        return LogFormat.required(mutation);
    }
}
