package io.holdfast.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A fault-injecting network between the nodes of a {@link MiniCluster}: a userspace TCP proxy
 * in front of every node, through which every connection to a node passes, so that a test
 * can cut, hold up and slow down traffic between chosen nodes while they run.
 *
 * <p><b>Topology.</b> Node {@code i} listens on a private address; its advertised address (its
 * name in the cluster map, which clients dial) is a proxy listener whose traffic counts as
 * coming from {@link #CLIENTS}. For every other node {@code j} there is one more listener in
 * front of {@code i}, known only to {@code j}: node {@code j}'s Raft server dials it to reach
 * {@code i} (see {@code NodeNetwork} in holdfast-server). So every byte between two endpoints
 * has a known sender and receiver. A node's own Raft clients (scrub repair reads, the map
 * follower of a node outside the cluster group) dial advertised addresses and therefore count
 * as clients.
 *
 * <p><b>Remote clients.</b> A second class of clients, {@link #REMOTE}, reaches node {@code i}
 * through one more listener ({@link #remoteRoutes()}, given to such a client as its
 * {@code holdfast.routes}), so that a test can cut or slow one client's link (a worker at
 * another site) while the other clients and the nodes go on.
 *
 * <p><b>Faults</b>, each until {@link #heal()}:
 * <ul>
 *   <li>{@link #partition}: the given nodes are cut off from every other node and from the
 *       clients, in both directions. Bytes already in flight and new connections across the
 *       cut are held, never delivered nor refused (a black hole: the senders see timeouts);
 *       when healed, held bytes are delivered in order, as TCP retransmission would.
 *   <li>{@link #drop}: every connection to or from the node is reset at once and new ones are
 *       refused with a reset (a node whose port is closed, fast failures).
 *   <li>{@link #delay}: added one-way latency on the bytes a node sends or receives, or on
 *       one direction between two endpoints; order is kept.
 * </ul>
 *
 * <p>Thread-safe. Each connection uses four virtual threads (a reader and a writer per
 * direction) and holds at most {@value #QUEUE_CHUNKS} chunks of {@value #CHUNK_BYTES} bytes per
 * direction; a full queue stops reading from the sender (TCP back-pressure).
 */
public final class FaultyNetwork implements AutoCloseable {
    /** The endpoint index of clients: anything that dials a node's advertised address. */
    public static final int CLIENTS = -1;
    /** The endpoint index of remote clients: those that dial a node through {@link #remoteRoutes()}. */
    public static final int REMOTE = -2;

    static final int CHUNK_BYTES = 64 * 1024;
    static final int QUEUE_CHUNKS = 16;
    private static final int CONNECT_TIMEOUT_MILLIS = 10_000;

    private final int nodes;
    private final List<InetSocketAddress> targets;
    private final List<ServerSocket> listeners = new ArrayList<>();
    /** Route {@code [from][to]} → the listener port {@code from} dials to reach node {@code to}. */
    private final int[][] linkPorts;
    /** Advertised address of each node → the listener remote clients dial instead. */
    private final Map<String, String> remoteRoutes = new LinkedHashMap<>();

    private final Set<Connection> live = ConcurrentHashMap.newKeySet();
    private final Map<Long, AtomicLong> bytes = new ConcurrentHashMap<>();
    private final Map<Long, AtomicLong> connections = new ConcurrentHashMap<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    // guarded by lock
    private final Set<Integer> cut = new HashSet<>();
    private final Set<Integer> dropped = new HashSet<>();
    private boolean remoteCut;
    private boolean remoteRefused;
    private final long[] nodeDelayNanos;
    private final Map<Long, Long> linkDelayNanos = new HashMap<>();
    private boolean closed;

    /**
     * Starts the proxy listeners.
     *
     * @param advertised each node's advertised {@code 127.0.0.1:port} (bound here, for clients)
     * @param targets where each node really listens
     * @throws IOException if a listener cannot be bound
     */
    FaultyNetwork(List<String> advertised, List<InetSocketAddress> targets) throws IOException {
        if (advertised.size() != targets.size()) {
            throw new IllegalArgumentException(
                    advertised.size() + " advertised addresses for " + targets.size() + " nodes");
        }
        this.nodes = targets.size();
        this.targets = List.copyOf(targets);
        this.nodeDelayNanos = new long[nodes + 2];
        this.linkPorts = new int[nodes][nodes];
        try {
            for (int to = 0; to < nodes; to++) {
                String a = advertised.get(to);
                int colon = a.lastIndexOf(':');
                listen(
                        CLIENTS,
                        to,
                        new InetSocketAddress(
                                InetAddress.getByName(a.substring(0, colon)),
                                Integer.parseInt(a.substring(colon + 1))));
                int remotePort = listen(REMOTE, to, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                remoteRoutes.put(a, InetAddress.getLoopbackAddress().getHostAddress() + ":" + remotePort);
                for (int from = 0; from < nodes; from++) {
                    if (from != to) {
                        linkPorts[from][to] =
                                listen(from, to, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * The address node {@code from}'s Raft server dials to reach node {@code to}
     * ({@code 127.0.0.1:port}).
     */
    String route(int from, int to) {
        checkNode(from);
        checkNode(to);
        if (from == to) {
            throw new IllegalArgumentException("a node does not dial itself: " + from);
        }
        return InetAddress.getLoopbackAddress().getHostAddress() + ":" + linkPorts[from][to];
    }

    /**
     * Cuts the given nodes off from every other node and from the clients, in both directions,
     * until {@link #heal()} (replacing an earlier partition). Connections across the cut stay
     * open but carry nothing; new ones are accepted and carry nothing.
     *
     * @param minority node indexes on the isolated side; the clients stay with the rest
     * @throws IllegalArgumentException if an index is not a node, or every node is named
     */
    public void partition(int... minority) {
        Set<Integer> side = new HashSet<>();
        for (int n : minority) {
            checkNode(n);
            side.add(n);
        }
        if (side.isEmpty() || side.size() == nodes) {
            throw new IllegalArgumentException(
                    "a partition needs nodes on both sides, got " + Arrays.toString(minority));
        }
        update(() -> {
            cut.clear();
            cut.addAll(side);
        });
    }

    /**
     * The routes for a {@link #REMOTE} client: each node's advertised address → the listener in
     * front of it that counts as {@link #REMOTE} (pass as the client option
     * {@code holdfast.routes}).
     */
    public Map<String, String> remoteRoutes() {
        return Collections.unmodifiableMap(remoteRoutes);
    }

    /**
     * Cuts the {@link #REMOTE} clients' link until {@link #heal()}: bytes in flight and new
     * connections are held, never delivered nor refused (a black hole, as a WAN link that goes
     * down without resets); the nodes and the other clients go on.
     */
    public void cutRemote() {
        update(() -> remoteCut = true);
    }

    /**
     * Resets the {@link #REMOTE} clients' connections now and refuses new ones with a reset until
     * {@link #heal()} (a link whose far end answers "connection refused").
     */
    public void refuseRemote() {
        update(() -> remoteRefused = true);
        for (Connection c : live) {
            if (c.from == REMOTE) {
                c.reset();
            }
        }
    }

    /**
     * Resets every connection to or from {@code node} now and refuses new ones with a reset
     * until {@link #heal()}.
     */
    public void drop(int node) {
        checkNode(node);
        update(() -> dropped.add(node));
        resetConnections(node);
    }

    /** Resets every connection to or from {@code node} now (new ones are let through). */
    public void resetConnections(int node) {
        checkNode(node);
        for (Connection c : live) {
            if (c.from == node || c.to == node) {
                c.reset();
            }
        }
    }

    /**
     * Adds {@code latency} to every byte {@code node} sends and every byte it receives (a byte
     * between two delayed nodes is delayed by both), until {@link #heal()}.
     *
     * @param node a node index, {@link #CLIENTS} or {@link #REMOTE}
     * @throws IllegalArgumentException if the latency is negative
     */
    public void delay(int node, Duration latency) {
        if (node != CLIENTS && node != REMOTE) {
            checkNode(node);
        }
        long nanos = nonNegative(latency);
        update(() -> nodeDelayNanos[slot(node)] = nanos);
    }

    /**
     * Adds {@code latency} to the bytes {@code from} sends to {@code to} (one direction), on top
     * of any per-node delay, until {@link #heal()}.
     *
     * @param from a node index, {@link #CLIENTS} or {@link #REMOTE}
     * @param to a node index, {@link #CLIENTS} or {@link #REMOTE}
     */
    public void delay(int from, int to, Duration latency) {
        if (from != CLIENTS && from != REMOTE) {
            checkNode(from);
        }
        if (to != CLIENTS && to != REMOTE) {
            checkNode(to);
        }
        long nanos = nonNegative(latency);
        update(() -> linkDelayNanos.put(key(from, to), nanos));
    }

    /** Ends every partition, drop, cut or refusal of remote clients, and delay; held bytes and connections go on. */
    public void heal() {
        update(() -> {
            cut.clear();
            dropped.clear();
            remoteCut = false;
            remoteRefused = false;
            Arrays.fill(nodeDelayNanos, 0);
            linkDelayNanos.clear();
        });
    }

    /**
     * Bytes delivered so far from {@code from} to {@code to} (either may be {@link #CLIENTS}):
     * counted as each chunk is handed to the receiver's connection, so bytes the receiver has
     * answered are always counted.
     */
    public long bytesDelivered(int from, int to) {
        AtomicLong n = bytes.get(key(from, to));
        return n == null ? 0 : n.get();
    }

    /** Connections accepted so far from {@code from} to node {@code to}. */
    public long connectionsAccepted(int from, int to) {
        AtomicLong n = connections.get(key(from, to));
        return n == null ? 0 : n.get();
    }

    /** Closes every listener and resets every connection. Idempotent. */
    @Override
    public void close() {
        update(() -> closed = true);
        for (ServerSocket s : listeners) {
            try {
                s.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
        for (Connection c : live) {
            c.reset();
        }
    }

    // ---------------------------------------------------------------------------------------
    // Rules

    private enum Verdict {
        PASS,
        HOLD,
        REFUSE
    }

    /** What happens now to bytes and connections between {@code a} and {@code b}. Caller holds the lock. */
    private Verdict verdictLocked(int a, int b) {
        if (closed || dropped.contains(a) || dropped.contains(b)) {
            return Verdict.REFUSE;
        }
        if (a == REMOTE || b == REMOTE) {
            if (remoteRefused) {
                return Verdict.REFUSE;
            }
            if (remoteCut) {
                return Verdict.HOLD;
            }
        }
        // clients are never in the minority, so a client and a cut node are apart
        return cut.contains(a) != cut.contains(b) ? Verdict.HOLD : Verdict.PASS;
    }

    private long latencyNanosLocked(int from, int to) {
        return nodeDelayNanos[slot(from)] + nodeDelayNanos[slot(to)] + linkDelayNanos.getOrDefault(key(from, to), 0L);
    }

    /**
     * Waits until bytes may pass between {@code a} and {@code b}.
     *
     * @return false if the connection must be reset instead
     */
    private boolean awaitPassable(int a, int b, Connection c) throws InterruptedException {
        lock.lock();
        try {
            while (true) {
                if (c.isReset()) {
                    return false;
                }
                switch (verdictLocked(a, b)) {
                    case PASS -> {
                        return true;
                    }
                    case REFUSE -> {
                        return false;
                    }
                    case HOLD -> changed.await();
                }
            }
        } finally {
            lock.unlock();
        }
    }

    private long latencyNanos(int from, int to) {
        lock.lock();
        try {
            return latencyNanosLocked(from, to);
        } finally {
            lock.unlock();
        }
    }

    private void update(Runnable change) {
        lock.lock();
        try {
            change.run();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Wakes every waiting writer (a connection was reset). */
    private void wake() {
        update(() -> {});
    }

    private void checkNode(int n) {
        if (n < 0 || n >= nodes) {
            throw new IllegalArgumentException("no node " + n + " in a network of " + nodes);
        }
    }

    private int slot(int endpoint) {
        return endpoint == CLIENTS ? nodes : endpoint == REMOTE ? nodes + 1 : endpoint;
    }

    private static long key(int from, int to) {
        return ((long) from << 32) ^ (to & 0xffffffffL);
    }

    private static long nonNegative(Duration d) {
        if (d.isNegative()) {
            throw new IllegalArgumentException("negative latency " + d);
        }
        return d.toNanos();
    }

    // ---------------------------------------------------------------------------------------
    // Sockets

    private int listen(int from, int to, InetSocketAddress at) throws IOException {
        ServerSocket s = new ServerSocket();
        s.setReuseAddress(true);
        s.bind(at, 128);
        listeners.add(s);
        Thread.ofVirtual().name("holdfast-net-accept-" + name(from) + "-" + to).start(() -> {
            while (!s.isClosed()) {
                try {
                    Socket down = s.accept();
                    connections
                            .computeIfAbsent(key(from, to), k -> new AtomicLong())
                            .incrementAndGet();
                    new Connection(from, to, down).start();
                } catch (IOException e) {
                    // closed
                }
            }
        });
        return s.getLocalPort();
    }

    private static String name(int endpoint) {
        return endpoint == CLIENTS ? "clients" : endpoint == REMOTE ? "remote" : Integer.toString(endpoint);
    }

    /** One proxied TCP connection from {@code from} to node {@code to}. */
    private final class Connection {
        final int from;
        final int to;
        private final Socket down;
        private final Socket up = new Socket();
        private volatile boolean reset;
        private int halfClosed; // guarded by this

        Connection(int from, int to, Socket down) {
            this.from = from;
            this.to = to;
            this.down = down;
        }

        void start() {
            live.add(this);
            Thread.ofVirtual().name("holdfast-net-" + name(from) + "-" + to).start(this::run);
        }

        private void run() {
            try {
                BlockingQueue<Chunk> toNode = new ArrayBlockingQueue<>(QUEUE_CHUNKS);
                // read the dialer's bytes at once, so that a close is seen even while held
                reader(down, toNode);
                if (!awaitPassable(from, to, this)) {
                    reset();
                    return;
                }
                up.setTcpNoDelay(true);
                up.connect(targets.get(to), CONNECT_TIMEOUT_MILLIS);
                if (reset) {
                    reset();
                    return;
                }
                writer(toNode, up, from, to);
                BlockingQueue<Chunk> toDialer = new ArrayBlockingQueue<>(QUEUE_CHUNKS);
                reader(up, toDialer);
                writer(toDialer, down, to, from);
            } catch (IOException e) {
                reset(); // the node is down: the dialer sees a reset
            } catch (InterruptedException e) {
                reset();
            }
        }

        private void reader(Socket in, BlockingQueue<Chunk> queue) {
            Thread.ofVirtual()
                    .name("holdfast-net-read-" + name(from) + "-" + to)
                    .start(() -> {
                        try (InputStream s = in.getInputStream()) {
                            while (true) {
                                byte[] buf = new byte[CHUNK_BYTES];
                                int n = s.read(buf);
                                if (n < 0) {
                                    queue.put(Chunk.EOF);
                                    return;
                                }
                                queue.put(new Chunk(Arrays.copyOf(buf, n), System.nanoTime()));
                            }
                        } catch (IOException | InterruptedException e) {
                            reset();
                        }
                    });
        }

        private void writer(BlockingQueue<Chunk> queue, Socket out, int sender, int receiver) {
            Thread.ofVirtual()
                    .name("holdfast-net-write-" + name(sender) + "-" + name(receiver))
                    .start(() -> {
                        long lastNanos = Long.MIN_VALUE;
                        try {
                            OutputStream o = out.getOutputStream();
                            while (!reset) {
                                Chunk c = queue.poll(1, TimeUnit.SECONDS);
                                if (c == null) {
                                    continue;
                                }
                                if (!awaitPassable(sender, receiver, this)) {
                                    reset();
                                    return;
                                }
                                if (c == Chunk.EOF) {
                                    out.shutdownOutput();
                                    halfClose();
                                    return;
                                }
                                long due = Math.max(lastNanos, c.arrivedNanos() + latencyNanos(sender, receiver));
                                long wait = due - System.nanoTime();
                                if (wait > 0) {
                                    TimeUnit.NANOSECONDS.sleep(wait); // the injected latency itself
                                }
                                lastNanos = due;
                                // counted before they are written: a receiver that got them (an echo's
                                // sender that read the answer) then sees them counted
                                bytes.computeIfAbsent(key(sender, receiver), k -> new AtomicLong())
                                        .addAndGet(c.bytes().length);
                                o.write(c.bytes());
                                o.flush();
                            }
                        } catch (IOException | InterruptedException e) {
                            reset();
                        }
                    });
        }

        private void halfClose() {
            boolean both;
            synchronized (this) {
                both = ++halfClosed == 2;
            }
            if (both) {
                closeQuietly(down);
                closeQuietly(up);
                live.remove(this);
            }
        }

        boolean isReset() {
            return reset;
        }

        /** Resets both sockets (RST, not FIN). Idempotent. */
        void reset() {
            if (reset) {
                return;
            }
            reset = true;
            live.remove(this);
            for (Socket s : List.of(down, up)) {
                try {
                    if (!s.isClosed()) {
                        s.setSoLinger(true, 0);
                    }
                } catch (SocketException e) {
                    // not connected: a plain close
                }
                closeQuietly(s);
            }
            wake();
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // closing anyway
        }
    }

    private record Chunk(byte[] bytes, long arrivedNanos) {
        static final Chunk EOF = new Chunk(new byte[0], 0);
    }
}
