package io.holdfast.georep;

import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;

/**
 * Where a {@link GeoReplicator} reads a volume's change feed: one call is one
 * {@link Request.Changes} query, answered as the volume's members answer it (see its Javadoc and
 * {@link Response.ChangePage}'s for the contract: records oldest first, none above the page's
 * applied index, {@code trimmedThrough} telling a reader that it missed history).
 *
 * <p>The real implementation goes over a {@code HoldfastClient}; tests use a fake. Implementations
 * are called from the replicator's one thread and need not be thread-safe. They may block up to
 * {@code waitMillis} (plus the network's time).
 */
public interface ChangeSource {
    /**
     * The records after log index {@code afterIndex}.
     *
     * @param afterIndex the last index the reader has seen, 0 for the beginning
     * @param maxRecords most records to return, 1 to {@link Request.Changes#MAX_RECORDS}
     * @param waitMillis how long the source may wait for a first record if there is none yet, 0 to
     *     {@link Request.Changes#MAX_WAIT_MILLIS} milliseconds
     * @return the page
     * @throws IOException if the feed cannot be read now (network, no member answers); the
     *     replicator retries with backoff
     */
    Response.ChangePage changes(long afterIndex, int maxRecords, int waitMillis) throws IOException;
}
