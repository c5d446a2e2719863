package io.holdfast.client.nio;

import java.util.TreeSet;

/**
 * The outstanding asynchronous requests of one writer, which threads can wait for.
 *
 * <p>Each request takes a ticket when it starts ({@link #begin()}) and hands it back once, when
 * it ends ({@link #end(long)}). {@link #awaitBegun()} waits for the requests begun before the
 * call only, so a reader is never starved by writers that keep starting new requests. The number
 * of outstanding requests is bounded by the caller's write window (64 by default), so the set of
 * tickets stays small.
 *
 * <p>Thread-safe. {@link #awaitBegun()} blocks.
 */
final class Inflight {
    private final TreeSet<Long> outstanding = new TreeSet<>();
    private long nextTicket;

    /** Starts a request; returns its ticket, to be passed to {@link #end} exactly once. */
    synchronized long begin() {
        long ticket = nextTicket++;
        outstanding.add(ticket);
        return ticket;
    }

    /** Ends the request holding {@code ticket}. */
    synchronized void end(long ticket) {
        boolean removed = outstanding.remove(ticket);
        assert removed : "ticket " + ticket + " ended twice or never begun";
        notifyAll();
    }

    /** Requests outstanding now. */
    synchronized int count() {
        return outstanding.size();
    }

    /** Waits until every request up to and including the one holding {@code ticket} has ended. */
    synchronized void awaitThrough(long ticket) throws InterruptedException {
        while (!outstanding.isEmpty() && outstanding.first() <= ticket) {
            wait();
        }
    }

    /** Blocks until every request begun before this call has ended. */
    synchronized void awaitBegun() throws InterruptedException {
        long barrier = nextTicket;
        while (!outstanding.isEmpty() && outstanding.first() < barrier) {
            wait();
        }
    }
}
