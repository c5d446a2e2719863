package io.holdfast.georep;

import java.util.concurrent.atomic.AtomicLong;

/** The replicator's counters, read by {@link GeoReplicator#status()} from any thread. */
final class Counters {
    final AtomicLong filesCopied = new AtomicLong();
    final AtomicLong bytesCopied = new AtomicLong();
    final AtomicLong deletes = new AtomicLong();
    final AtomicLong renames = new AtomicLong();
    final AtomicLong links = new AtomicLong();
    final AtomicLong resyncs = new AtomicLong();
    final AtomicLong treeCompares = new AtomicLong();
    final AtomicLong errors = new AtomicLong();
    /** Entries compared by full synchronisations (progress only). */
    final AtomicLong compared = new AtomicLong();
}
