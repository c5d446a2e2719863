package io.holdfast.server.admin;

import io.holdfast.server.Dial;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.LongSupplier;

/**
 * Whether the other nodes of the cluster answer, as the status page shows it.
 *
 * <p>{@link #probe} opens a TCP connection to each node's Raft address (timeout
 * {@value #TIMEOUT_MILLIS} ms) and closes it at once, all nodes in parallel (one virtual
 * thread each); the node observer calls it once a second. A node is <b>up</b> if the latest
 * probe connected, else <b>down</b>, with the time since it last connected. A connect proves
 * that the process listens, not that it is healthy; the Raft columns of the page tell the
 * rest. This node is always up to itself and is never probed. A node not probed yet is down
 * and "never seen".
 *
 * <p>Thread-safe: probes and readers may run concurrently.
 */
final class Liveness {
    /** Connect timeout of one probe, in milliseconds. */
    static final int TIMEOUT_MILLIS = 1000;

    /** How to reach a node; replaced in tests. */
    interface Prober {
        /** Whether {@code address} ({@code host:port}) accepts a connection within the timeout. */
        boolean reachable(String address);
    }

    /**
     * A node's liveness.
     *
     * @param address the node
     * @param up whether the latest probe connected
     * @param lastSeenSecondsAgo seconds since a probe last connected, null if none ever did
     */
    record State(String address, boolean up, Double lastSeenSecondsAgo) {}

    private record Entry(boolean up, long lastUpNanos, boolean everUp) {}

    private final String self;
    private final LongSupplier nanoClock;
    private final Prober prober;
    private final Map<String, Entry> entries = new ConcurrentHashMap<>();

    /**
     * @param self this node's address (always up, never probed)
     * @param nanoClock a monotonic clock in nanoseconds ({@code System::nanoTime} in production)
     * @param prober how to probe a node
     */
    Liveness(String self, LongSupplier nanoClock, Prober prober) {
        this.self = self;
        this.nanoClock = nanoClock;
        this.prober = prober;
    }

    /** A TCP connect with {@link #TIMEOUT_MILLIS}, closed at once. */
    static boolean tcpConnect(String address) {
        return Dial.attempt(address, TIMEOUT_MILLIS) == Dial.Outcome.ACCEPTED;
    }

    /**
     * Probes every node of {@code addresses} except this one, in parallel; returns when all
     * probes have finished (after about {@link #TIMEOUT_MILLIS} at most).
     */
    void probe(Collection<String> addresses) {
        List<String> others =
                addresses.stream().filter(a -> !a.equals(self)).distinct().toList();
        try (ExecutorService probes = Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("holdfast-probe-" + self + "-", 0).factory())) {
            for (String a : others) {
                probes.execute(() -> {
                    boolean up = prober.reachable(a);
                    long now = nanoClock.getAsLong();
                    entries.compute(
                            a,
                            (k, old) -> up
                                    ? new Entry(true, now, true)
                                    : old == null
                                            ? new Entry(false, 0, false)
                                            : new Entry(false, old.lastUpNanos(), old.everUp()));
                });
            }
        } // close() waits for every probe
        entries.keySet().retainAll(others);
    }

    /** The liveness of each of {@code addresses}, in that order. */
    List<State> states(Collection<String> addresses) {
        long now = nanoClock.getAsLong();
        List<State> out = new ArrayList<>();
        for (String a : addresses) {
            if (a.equals(self)) {
                out.add(new State(a, true, 0.0));
                continue;
            }
            Entry e = entries.get(a);
            if (e == null) {
                out.add(new State(a, false, null));
            } else {
                out.add(new State(a, e.up(), e.everUp() ? Math.max(0, now - e.lastUpNanos()) / 1e9 : null));
            }
        }
        return out;
    }

    /** Whether {@code address} is up (this node always is). */
    boolean isUp(String address) {
        if (address.equals(self)) {
            return true;
        }
        Entry e = entries.get(address);
        return e != null && e.up();
    }
}
