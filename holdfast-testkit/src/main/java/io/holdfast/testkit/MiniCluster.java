package io.holdfast.testkit;

import io.holdfast.client.HoldfastClient;
import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.LogFormat;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.server.CertificateAuthority;
import io.holdfast.server.HoldfastNode;
import io.holdfast.server.NodeConfig;
import io.holdfast.server.NodeNetwork;
import io.holdfast.server.NodeOptions;
import io.holdfast.server.NodeSecurity;
import io.holdfast.server.ScrubSettings;
import io.holdfast.server.admin.AdminOptions;
import io.holdfast.storage.Brick;
import io.holdfast.transport.Role;
import io.holdfast.transport.TlsFiles;
import io.holdfast.transport.TransportSecurity;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/**
 * An in-JVM cluster of Holdfast nodes on loopback ports, for tests: start, stop and restart
 * nodes, create volumes, and wait for members to converge.
 *
 * <p>{@link #stop} closes a node's Ratis server (its sockets go away at once, like a crashed
 * process, but buffered log writes are flushed); {@link #restart} starts it again on the same
 * data directory. Not thread-safe: drive it from the test thread.
 *
 * <p>Secure by default, like a real cluster: {@link #start} creates a cluster CA under
 * {@code root/ca}, a node certificate per node ({@code root/nodeN/tls}) and an admin client
 * certificate ({@code root/admin-tls}), which {@link #client()} uses. {@link #clientEnv} gives
 * the options for other clients; {@link #issueClient} issues more identities.
 *
 * <p>Each node serves its admin HTTP port (metrics, status page) on an ephemeral loopback
 * port, so clusters never collide with each other or with real nodes: {@link #adminUri}.
 *
 * <p><b>Faults</b> ({@link #builder}): with {@link Builder#faultyNetwork()} every connection
 * to a node, from a peer or a client, passes through a {@link FaultyNetwork} the test drives
 * ({@link #network()}: partition, drop, delay, heal). Nodes named in
 * {@link Builder#separateProcesses} run in child JVMs ({@link NodeProcess}), so that
 * {@link #kill} can stop one as a crash would (SIGKILL); {@link #node} is null for them. A node
 * named in {@link Builder#lazyDisk} keeps its whole data directory on a {@link LazyDisk} (a FUSE
 * file system that holds unsynced writes in memory), so that {@link #crash} also loses what it
 * had not fsynced, RocksDB's files and the Raft log included, as a power loss would.
 *
 * <p><b>Final checks.</b> {@link #close()} first waits until the running members of every
 * volume report the same digest at the same applied index, then stops the nodes and opens
 * every brick left on disk on its own (the brick's start-up check: RocksDB block checksums,
 * counters, root and data directory), computes its digest (which reads and CRC-checks every
 * content) and compares the digests of bricks of one volume at the same applied index. A
 * failure fails the test; {@link #skipFinalChecks} turns them off for a test that leaves a
 * cluster diverged or damaged on purpose.
 */
public final class MiniCluster implements AutoCloseable {
    private final Map<Integer, Integer> maxLogFormats = new ConcurrentHashMap<>();
    private final Path root;
    private final UUID clusterId = UUID.randomUUID();
    private final List<String> addresses;
    private final List<String> peers;
    /**
     * Disk reserve of test nodes: 16 MiB, not the production 256 MiB, so the tests' small volumes
     * run on a machine whose disk is nearly full (tweak it with {@link #tweakOptions}).
     */
    public static final long TEST_DISK_RESERVE = 16L << 20;

    private final HoldfastNode[] nodes;
    private final long snapshotThreshold;
    private final CertificateAuthority ca;
    private UnaryOperator<NodeSecurity> securityTweak = UnaryOperator.identity();
    private UnaryOperator<NodeOptions.Builder> optionsTweak = UnaryOperator.identity();
    private ScrubSettings scrub = ScrubSettings.DEFAULT;
    private HoldfastClient client;
    /** Where each node really listens when the network is faulty; else empty. */
    private final List<String> listen;

    private final FaultyNetwork network;
    private final Set<Integer> separate;
    private volatile long processCatchUpRate = NodeOptions.DEFAULT_CATCH_UP_RATE;
    private final Process[] processes;
    private final URI[] processAdmin;
    private final LazyDiskMount[] disks;
    private final Set<Integer> lazy;
    private String finalChecksSkipped;

    private MiniCluster(
            Path root,
            int size,
            int spares,
            long snapshotThreshold,
            boolean tls,
            boolean faulty,
            Set<Integer> separate,
            Set<Integer> lazy)
            throws IOException {
        if (size < 1 || size + spares > 9 || spares < 0) {
            throw new IllegalArgumentException("cluster size must be 1..9 with spares, got " + size + " + " + spares);
        }
        for (int i : separate) {
            if (i < 0 || i >= size + spares) {
                throw new IllegalArgumentException(
                        "no node " + i + " to run as a process in a cluster of " + (size + spares));
            }
        }
        this.root = root;
        this.snapshotThreshold = snapshotThreshold;
        List<String> free = LoopbackAddresses.free((faulty ? 2 : 1) * (size + spares));
        this.addresses = List.copyOf(free.subList(0, size + spares));
        this.listen = faulty ? List.copyOf(free.subList(size + spares, free.size())) : List.of();
        this.peers = addresses.subList(0, size);
        this.nodes = new HoldfastNode[size + spares];
        this.separate = Set.copyOf(separate);
        this.processes = new Process[size + spares];
        this.processAdmin = new URI[size + spares];
        this.disks = new LazyDiskMount[size + spares];
        this.lazy = Set.copyOf(lazy);
        if (!separate.containsAll(lazy)) {
            throw new IllegalArgumentException("a node on a lazy disk must run as a process (to crash it): " + lazy);
        }
        if (tls) {
            this.ca = CertificateAuthority.create(root.resolve("ca"), clusterId.toString());
            for (int i = 0; i < size + spares; i++) {
                // a lazy disk's node gets its certificate on the backing directory: durable before any crash
                ca.issue(addresses.get(i), Role.NODE, List.of("127.0.0.1"))
                        .writeTo(NodeSecurity.tlsDirectory(storedDataDir(i)));
            }
            issueClient("admin", Role.ADMIN);
        } else {
            this.ca = null;
        }
        this.network = faulty
                ? new FaultyNetwork(
                        addresses,
                        listen.stream().map(MiniCluster::socketAddress).toList())
                : null;
        try {
            for (int i : lazy) {
                Files.createDirectories(diskDir(i));
                disks[i] = LazyDiskMount.mount(diskDir(i), dataDir(i), root.resolve("disk" + i + ".log"));
            }
        } catch (IOException | RuntimeException | AssertionError e) {
            closeDisks();
            if (network != null) {
                network.close();
            }
            throw e;
        }
    }

    /** How to start a cluster: {@link MiniCluster#builder}. Not thread-safe. */
    public static final class Builder {
        private final Path root;
        private int size = 3;
        private int spares;
        private long snapshotThreshold = 100_000;
        private boolean tls = true;
        private boolean faulty;
        private final Set<Integer> separate = new HashSet<>();
        private final Set<Integer> lazy = new HashSet<>();

        private Builder(Path root) {
            this.root = Objects.requireNonNull(root, "root");
        }

        /** Nodes in the cluster (default 3); the first three hold the cluster group. */
        public Builder nodes(int n) {
            this.size = n;
            return this;
        }

        /** Nodes configured for the cluster but not in it (default 0), indexes after the nodes. */
        public Builder spares(int n) {
            this.spares = n;
            return this;
        }

        /** Entries between automatic snapshots (default 100,000). */
        public Builder snapshotThreshold(long entries) {
            this.snapshotThreshold = entries;
            return this;
        }

        /** Plaintext instead of mutual TLS. */
        public Builder plaintext() {
            this.tls = false;
            return this;
        }

        /** Routes every connection to a node through a {@link FaultyNetwork} ({@link #network()}). */
        public Builder faultyNetwork() {
            this.faulty = true;
            return this;
        }

        /**
         * Runs these nodes in child JVMs, so that {@link MiniCluster#kill} can crash them. Such a
         * node runs with the default scrub settings and without {@link #tweakSecurity} or {@link #tweakOptions} tweaks.
         */
        public Builder separateProcesses(int... indexes) {
            for (int i : indexes) {
                separate.add(i);
            }
            return this;
        }

        /**
         * Puts the whole data directory of these nodes on a {@link LazyDisk} (their Raft logs and
         * bricks), so that {@link MiniCluster#crash} loses what they had not fsynced; such nodes
         * run as processes ({@link #separateProcesses}). Needs FUSE ({@link LazyDiskMount#isAvailable}).
         */
        public Builder lazyDisk(int... indexes) {
            for (int i : indexes) {
                lazy.add(i);
                separate.add(i);
            }
            return this;
        }

        /**
         * Starts every node.
         *
         * @throws IOException if a node cannot start
         */
        public MiniCluster start() throws IOException {
            MiniCluster c = new MiniCluster(root, size, spares, snapshotThreshold, tls, faulty, separate, lazy);
            try {
                for (int i = 0; i < size + spares; i++) {
                    c.restart(i);
                }
            } catch (IOException | RuntimeException | AssertionError e) {
                c.skipFinalChecks("the cluster did not start");
                c.close();
                throw e;
            }
            return c;
        }
    }

    /** A builder for a cluster under {@code root} (the caller owns the directory). */
    public static Builder builder(Path root) {
        return new Builder(root);
    }

    /**
     * Starts {@code size} nodes under {@code root} with mutual TLS.
     *
     * @param snapshotThreshold entries between automatic snapshots
     */
    public static MiniCluster start(Path root, int size, long snapshotThreshold) throws IOException {
        return start(root, size, snapshotThreshold, true);
    }

    /**
     * Starts {@code size} nodes under {@code root}, plaintext unless {@code tls}.
     *
     * @param snapshotThreshold entries between automatic snapshots
     */
    public static MiniCluster start(Path root, int size, long snapshotThreshold, boolean tls) throws IOException {
        return start(root, size, 0, snapshotThreshold, tls);
    }

    /**
     * Starts {@code size} nodes under {@code root}, plaintext unless {@code tls}, and
     * {@code spares} more nodes (indexes {@code size..}) configured for the cluster but not in
     * it: they join when the admin adds them ({@link HoldfastClient#admin()}'s {@code addNode}).
     *
     * @param snapshotThreshold entries between automatic snapshots
     */
    public static MiniCluster start(Path root, int size, int spares, long snapshotThreshold, boolean tls)
            throws IOException {
        Builder b = builder(root).nodes(size).spares(spares).snapshotThreshold(snapshotThreshold);
        return tls ? b.start() : b.plaintext().start();
    }

    /**
     * The fault-injecting network between the nodes.
     *
     * @throws IllegalStateException if the cluster was not built with {@link Builder#faultyNetwork()}
     */
    public FaultyNetwork network() {
        if (network == null) {
            throw new IllegalStateException("this cluster was started without Builder.faultyNetwork()");
        }
        return network;
    }

    /**
     * Turns off the checks {@link #close()} makes, for a test that leaves members diverged or a
     * brick damaged on purpose.
     *
     * @param why printed when the cluster closes
     */
    public void skipFinalChecks(String why) {
        this.finalChecksSkipped = Objects.requireNonNull(why, "why");
    }

    /**
     * Configures {@code size} nodes and {@code spares} more as {@link #start(Path, int, int, long,
     * boolean)} does (addresses chosen, certificates issued) but starts none: set {@link
     * #tweakSecurity}, {@link #tweakOptions} and {@link #scrubSettings} first, then start each node with {@link
     * #restart}. The caller closes the cluster, also if a start fails.
     *
     * @param snapshotThreshold entries between automatic snapshots
     * @throws IllegalArgumentException if {@code size} is not 1 to 9 or {@code size + spares} is
     *     more than 9
     * @throws IOException if the certificates cannot be written
     */
    public static MiniCluster create(Path root, int size, int spares, long snapshotThreshold, boolean tls)
            throws IOException {
        return new MiniCluster(root, size, spares, snapshotThreshold, tls, false, Set.of(), Set.of());
    }

    /** The cluster CA (null for a plaintext cluster). */
    public CertificateAuthority ca() {
        return ca;
    }

    /** Changes the security settings of nodes (re)started from now on, e.g. connection limits. */
    public void tweakSecurity(UnaryOperator<NodeSecurity> tweak) {
        this.securityTweak = tweak;
    }

    /**
     * Changes the options of nodes (re)started from now on, e.g. the catch-up rate or the disk
     * reserve; the tweak gets a builder with the cluster's settings ({@link #TEST_DISK_RESERVE},
     * the scrub settings, a loopback admin port on any free port, the node's sockets).
     */
    public void tweakOptions(UnaryOperator<NodeOptions.Builder> tweak) {
        this.optionsTweak = Objects.requireNonNull(tweak, "tweak");
    }

    /** Changes the scrub settings of nodes (re)started from now on (default {@link ScrubSettings#DEFAULT}). */
    public void scrubSettings(ScrubSettings settings) {
        this.scrub = Objects.requireNonNull(settings, "settings");
    }

    /**
     * Issues a client certificate valid from now for a year into {@code root/tls-NAME}.
     *
     * @return the directory, for {@link #clientEnv(Path)}
     */
    public Path issueClient(String name, Role role) throws IOException {
        Path dir = root.resolve("tls-" + name);
        ca.issue(name, role, List.of()).writeTo(dir);
        return dir;
    }

    /**
     * The admin's transport security, for tests that build their own Raft clients (plaintext
     * for a plaintext cluster).
     */
    public TransportSecurity adminSecurity() throws IOException {
        return ca == null
                ? TransportSecurity.plaintext()
                : TransportSecurity.tls(TlsFiles.load(root.resolve("tls-admin"), "client"));
    }

    /** Client options for the admin identity (or plaintext for a plaintext cluster). */
    public Map<String, Object> clientEnv() {
        return ca == null ? clientEnv(null) : clientEnv(root.resolve("tls-admin"));
    }

    /** Client options for the identity in {@code tlsDir} (null: plaintext). */
    public Map<String, Object> clientEnv(Path tlsDir) {
        Map<String, Object> env = new HashMap<>();
        env.put("holdfast.deadline", Duration.ofSeconds(60));
        if (tlsDir == null) {
            env.put(TransportSecurity.INSECURE_OPTION, true);
        } else {
            env.put(TransportSecurity.TLS_OPTION, tlsDir);
        }
        return env;
    }

    /** Node {@code i}'s configuration, as it is started with (e.g. to run it as a process instead). */
    public NodeConfig config(int i) {
        return new NodeConfig(dataDir(i), addresses.get(i), peers, clusterId, snapshotThreshold)
                .withMaxLogFormat(maxLogFormats.getOrDefault(i, LogFormat.newest()));
    }

    /**
     * Makes node {@code i} read, advertise and log at most log format {@code max} from its next
     * (re)start on: it then behaves as a node running older code would (rolling-upgrade tests).
     */
    public void maxLogFormat(int i, int max) {
        maxLogFormats.put(i, max);
    }

    /** Node addresses, in configuration order, the spares last. */
    public List<String> addresses() {
        return addresses;
    }

    /** The data directory of node {@code i}. */
    public Path dataDir(int i) {
        return root.resolve("node" + i);
    }

    /** Node {@code i}, or null while stopped or if it runs in a child JVM. */
    public HoldfastNode node(int i) {
        return nodes[i];
    }

    /** Whether node {@code i} runs (in this JVM or in its own). */
    public boolean isRunning(int i) {
        return nodes[i] != null || (processes[i] != null && processes[i].isAlive());
    }

    /**
     * Stops node {@code i} cleanly (no-op if stopped): its Ratis server closes, flushing what it
     * buffers. A node in a child JVM is told to stop and given 60 s before it is killed.
     */
    public void stop(int i) throws IOException {
        if (nodes[i] != null) {
            nodes[i].close();
            nodes[i] = null;
        }
        Process p = processes[i];
        if (p != null) {
            processes[i] = null;
            processAdmin[i] = null;
            NodeProcess.tellToStop(p);
            try {
                if (!p.waitFor(60, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.destroyForcibly();
                throw new IOException("interrupted stopping node " + i);
            }
        }
    }

    /**
     * Kills node {@code i} as a crash would: SIGKILL to its JVM, so no shutdown hook runs, the
     * Raft server does not shut down, nothing it buffers is flushed, and the kernel resets its
     * connections. Waits until the process is gone. {@link #restart} starts it again.
     *
     * @throws IllegalStateException if the node runs in this JVM (see
     *     {@link Builder#separateProcesses}), where no honest crash is possible
     */
    public void kill(int i) throws IOException {
        if (!separate.contains(i)) {
            throw new IllegalStateException("node " + i + " runs in the test's JVM and cannot be killed; "
                    + "start it with Builder.separateProcesses(" + i + ")");
        }
        Process p = processes[i];
        if (p == null) {
            return;
        }
        processes[i] = null;
        processAdmin[i] = null;
        try {
            p.destroyForcibly().waitFor(); // SIGKILL on Linux
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted killing node " + i);
        }
    }

    /**
     * Crashes node {@code i} and its disk, as a power loss would: the node is killed
     * ({@link #kill}), then its {@link LazyDisk} loses every write the node had not fsynced
     * ({@code torn}: a random part of them, chosen by {@code seed}, reached the disk, some pages
     * only in part), and comes back with what survived. The node stays stopped until
     * {@link #restart}.
     *
     * @throws IllegalStateException if the node is not on a lazy disk ({@link Builder#lazyDisk})
     */
    public void crash(int i, boolean torn, long seed) throws IOException {
        LazyDiskMount disk = disks[i];
        if (disk == null) {
            throw new IllegalStateException(
                    "node " + i + " is not on a lazy disk; start it with Builder.lazyDisk(" + i + ")");
        }
        kill(i);
        if (torn) {
            disk.crashTorn(seed);
        } else {
            disk.crash();
        }
        disk.remount();
    }

    /** Where node {@code i}'s data really lies: its data directory, or the lazy disk's backing directory. */
    private Path diskDir(int i) {
        return root.resolve("disk" + i);
    }

    private Path storedDataDir(int i) {
        return lazy.contains(i) ? diskDir(i) : dataDir(i);
    }

    private void closeDisks() {
        for (LazyDiskMount d : disks) {
            if (d != null) {
                try {
                    d.close();
                } catch (IOException | RuntimeException | AssertionError e) {
                    System.err.println("MiniCluster: could not unmount the lazy disk at " + d.mountPoint() + ": " + e);
                }
            }
        }
    }

    /**
     * Sets the catch-up rate of nodes in processes of their own ({@link Builder#separateProcesses})
     * started from now on, bytes per second (default 8 MiB/s). Nodes in this JVM take theirs from
     * {@link #tweakOptions}.
     */
    public void processCatchUpRate(long bytesPerSecond) {
        if (bytesPerSecond <= 0) {
            throw new IllegalArgumentException("rate must be positive, got " + bytesPerSecond);
        }
        processCatchUpRate = bytesPerSecond;
    }

    /** Starts node {@code i} on its data directory (stopping it first if running). */
    public void restart(int i) throws IOException {
        stop(i);
        Files.createDirectories(dataDir(i));
        NodeNetwork net = nodeNetwork(i);
        if (separate.contains(i)) {
            startProcess(i, net);
            return;
        }
        NodeSecurity security = ca == null ? NodeSecurity.plaintext() : NodeSecurity.tls(dataDir(i));
        NodeOptions.Builder options = NodeOptions.builder(config(i), securityTweak.apply(security))
                .admin(AdminOptions.at("127.0.0.1", 0))
                .scrub(scrub)
                .network(net)
                .diskReserve(TEST_DISK_RESERVE);
        nodes[i] = HoldfastNode.start(optionsTweak.apply(options).build());
    }

    /** Node {@code i}'s sockets: direct, or its private listener and a route to every other node through the proxy. */
    private NodeNetwork nodeNetwork(int i) {
        if (network == null) {
            return NodeNetwork.DIRECT;
        }
        Map<String, String> routes = new HashMap<>();
        for (int j = 0; j < addresses.size(); j++) {
            if (j != i) {
                routes.put(addresses.get(j), network.route(i, j));
            }
        }
        return new NodeNetwork(listen.get(i), routes);
    }

    private void startProcess(int i, NodeNetwork net) throws IOException {
        Path log = root.resolve("node" + i + ".log");
        long from = Files.exists(log) ? Files.size(log) : 0;
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-ea",
                "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow",
                "-Xmx512m",
                "-D" + NodeProcess.CATCH_UP_RATE + "=" + processCatchUpRate,
                "-cp",
                System.getProperty("java.class.path"),
                NodeProcess.class.getName()));
        cmd.addAll(NodeProcess.arguments(config(i), ca != null, TEST_DISK_RESERVE, net));
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
        processes[i] = p;
        String[] ready = new String[1];
        try {
            await(
                    Duration.ofSeconds(120),
                    () -> {
                        ready[0] = readyLine(log, from);
                        if (ready[0] == null && !p.isAlive()) {
                            throw new AssertionError("node " + i + " exited with status " + p.exitValue()
                                    + " before it ran; log " + log);
                        }
                        return ready[0] != null;
                    },
                    "node " + i + " runs (log " + log + ")");
        } catch (AssertionError e) {
            p.destroyForcibly();
            processes[i] = null;
            throw new AssertionError(e.getMessage() + "; its log ends:\n" + tail(log, 40), e);
        }
        String uri = ready[0].substring(NodeProcess.READY.length()).trim();
        processAdmin[i] = uri.equals("-") ? null : URI.create(uri);
    }

    /** The last {@code lines} lines of a log file (for failure messages). */
    private static String tail(Path log, int lines) {
        try {
            List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException | UncheckedIOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    /** The node's READY line in its log after byte {@code from}, or null. */
    private static String readyLine(Path log, long from) {
        try {
            byte[] all = Files.readAllBytes(log);
            String tail = new String(
                    all,
                    (int) Math.min(from, all.length),
                    all.length - (int) Math.min(from, all.length),
                    StandardCharsets.UTF_8);
            for (String line : tail.split("\n")) {
                if (line.startsWith(NodeProcess.READY)) {
                    return line;
                }
            }
            return null;
        } catch (IOException e) {
            return null;
        }
    }

    private static InetSocketAddress socketAddress(String address) {
        int colon = address.lastIndexOf(':');
        return new InetSocketAddress(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)));
    }

    /**
     * The base address of node {@code i}'s admin port, e.g. {@code http://127.0.0.1:40123/}.
     *
     * @throws IllegalStateException if the node is stopped
     */
    public URI adminUri(int i) {
        if (processAdmin[i] != null) {
            return processAdmin[i];
        }
        if (nodes[i] == null) {
            throw new IllegalStateException("node " + i + " is stopped");
        }
        return nodes[i].adminUri().orElseThrow();
    }

    /** A client connected through the first running node; shared, closed with the cluster. */
    public HoldfastClient client() throws HoldfastException {
        if (client == null) {
            for (int i = 0; i < nodes.length; i++) {
                if (isRunning(i)) {
                    String a = addresses.get(i);
                    int colon = a.lastIndexOf(':');
                    HoldfastClient c = awaitValue(
                            Duration.ofSeconds(30),
                            () -> {
                                try {
                                    return Optional.of(HoldfastClient.connect(
                                            a.substring(0, colon),
                                            Integer.parseInt(a.substring(colon + 1)),
                                            clientEnv()));
                                } catch (HoldfastException e) {
                                    return Optional.empty();
                                }
                            },
                            "client connects to " + a);
                    client = c;
                    break;
                }
            }
        }
        if (client == null) {
            throw new HoldfastException(Errno.EIO, "no node is running");
        }
        return client;
    }

    /**
     * Creates a volume on the given node indexes and waits until its replica group answers.
     */
    public VolumeService createVolume(String name, int... replicaIndexes) throws IOException {
        List<String> replicas =
                Arrays.stream(replicaIndexes).mapToObj(addresses::get).toList();
        HoldfastClient c = client();
        await(
                Duration.ofSeconds(30),
                () -> {
                    try {
                        c.admin().createVolume(name, replicas);
                        return true;
                    } catch (HoldfastException e) {
                        if (e.errno() == Errno.EEXIST) {
                            return true;
                        }
                        return false;
                    }
                },
                "volume " + name + " created");
        VolumeService v = c.volume(name);
        await(
                Duration.ofSeconds(60),
                () -> {
                    try {
                        return v.query(new Request.GetAttr("/", false)).get(10, TimeUnit.SECONDS)
                                instanceof Response.AttrReply;
                    } catch (Exception e) {
                        return false;
                    }
                },
                "volume " + name + " answers");
        return v;
    }

    /**
     * Waits until every member of the volume's group reports the same digest at the same applied
     * index, and returns that digest.
     *
     * @throws AssertionError if they do not converge within {@code timeout}
     */
    public Response.Digest awaitConvergence(String volume, Duration timeout) throws IOException {
        HoldfastClient c = client();
        Response.Digest[] last = new Response.Digest[1];
        StringBuilder seen = new StringBuilder();
        try {
            await(
                    timeout,
                    () -> {
                        try {
                            Map<String, Response> d = c.probe().memberDigests(volume);
                            seen.setLength(0);
                            seen.append(d);
                            Response first = null;
                            for (Response r : d.values()) {
                                if (!(r instanceof Response.Digest)) {
                                    return false;
                                }
                                if (first != null && !first.equals(r)) {
                                    return false;
                                }
                                first = r;
                            }
                            last[0] = (Response.Digest) first;
                            return first != null;
                        } catch (HoldfastException e) {
                            seen.setLength(0);
                            seen.append(e);
                            return false;
                        }
                    },
                    "members of " + volume + " converge");
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; last seen: " + seen, e);
        }
        return last[0];
    }

    /** The cluster map as the cluster group sees it now. */
    public ClusterMap map() throws HoldfastException {
        return client().refreshMap();
    }

    /**
     * Polls {@code condition} until it holds. Polling is how a test waits for replicas to
     * converge: there is no event to wait on across processes.
     *
     * @throws AssertionError naming {@code what} if it does not hold within {@code timeout}
     */
    public static void await(Duration timeout, BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long pauseMillis = 10;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out after " + timeout + " waiting until " + what);
            }
            try {
                Thread.sleep(pauseMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting until " + what);
            }
            pauseMillis = Math.min(200, pauseMillis * 2);
        }
    }

    /** Polls {@code s} until it yields a value; fails the test after {@code timeout}. */
    public static <T> T awaitValue(Duration timeout, Supplier<Optional<T>> s, String what) {
        @SuppressWarnings("unchecked")
        T[] box = (T[]) new Object[1];
        await(
                timeout,
                () -> {
                    Optional<T> v = s.get();
                    v.ifPresent(x -> box[0] = x);
                    return v.isPresent();
                },
                what);
        return box[0];
    }

    /**
     * Runs the final checks (see the class comment), stops every node and deletes nothing (the
     * caller owns {@code root}).
     *
     * @throws AssertionError if a final check fails
     * @throws IOException if a node cannot be stopped
     */
    @Override
    public void close() throws IOException {
        List<String> problems = new ArrayList<>();
        if (finalChecksSkipped == null) {
            if (network != null) {
                network.heal();
            }
            try {
                checkRunningMembersAgree();
            } catch (IOException | RuntimeException | AssertionError e) {
                problems.add("running members: " + e.getMessage());
            }
        } else {
            System.out.println("MiniCluster: final checks skipped: " + finalChecksSkipped);
        }
        if (client != null) {
            client.close();
        }
        IOException first = null;
        for (int i = 0; i < nodes.length; i++) {
            try {
                stop(i);
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (network != null) {
            network.close();
        }
        closeDisks(); // syncs them: the bricks are read from their backing directories
        if (finalChecksSkipped == null) {
            problems.addAll(checkBricksOnDisk());
        }
        if (!problems.isEmpty()) {
            AssertionError e = new AssertionError(
                    "MiniCluster final checks failed (" + root + "):\n  " + String.join("\n  ", problems));
            if (first != null) {
                e.addSuppressed(first);
            }
            throw e;
        }
        if (first != null) {
            throw first;
        }
    }

    /** Waits until the running members of every volume report one digest at one applied index. */
    private void checkRunningMembersAgree() throws IOException {
        if (IntStream.range(0, nodes.length).noneMatch(this::isRunning)) {
            return;
        }
        HoldfastClient c = client();
        ClusterMap m = awaitValue(
                Duration.ofSeconds(60),
                () -> {
                    try {
                        return Optional.of(c.refreshMap());
                    } catch (HoldfastException e) {
                        return Optional.empty();
                    }
                },
                "the cluster map can be read");
        for (ClusterMap.Volume v : m.volumes().values()) {
            List<String> running = v.replicas().stream()
                    .filter(a -> {
                        int i = addresses.indexOf(a);
                        return i >= 0 && isRunning(i);
                    })
                    .toList();
            Map<String, Response> seen = new TreeMap<>();
            try {
                await(
                        Duration.ofSeconds(90),
                        () -> {
                            seen.clear();
                            for (String a : running) {
                                try {
                                    seen.put(a, c.probe().queryMember(v.name(), a, new Request.GetDigest()));
                                } catch (HoldfastException e) {
                                    seen.put(a, new Response.Error(e.errno(), e.getMessage()));
                                }
                            }
                            return seen.values().stream().allMatch(r -> r instanceof Response.Digest)
                                    && seen.values().stream().distinct().count() <= 1;
                        },
                        "the running members of volume " + v.name() + " " + running + " report one digest");
            } catch (AssertionError e) {
                throw new AssertionError(e.getMessage() + "; last seen: " + seen, e);
            }
        }
    }

    /**
     * Opens every brick left under the nodes' data directories on its own (its start-up check),
     * computes its digest (CRC-checking every content), and compares the digests of bricks of one
     * volume group at one applied index.
     *
     * @return what is wrong, empty if nothing
     */
    private List<String> checkBricksOnDisk() {
        List<String> problems = new ArrayList<>();
        Map<String, Map<Long, Map<String, Response.Digest>>> byGroup = new TreeMap<>();
        for (int i = 0; i < nodes.length; i++) {
            Path bricks = storedDataDir(i).resolve("bricks");
            if (!Files.isDirectory(bricks)) {
                continue;
            }
            List<Path> dirs;
            try (Stream<Path> s = Files.list(bricks)) {
                dirs = s.filter(Files::isDirectory).sorted().toList();
            } catch (IOException e) {
                problems.add("node " + i + ": cannot list " + bricks + ": " + e);
                continue;
            }
            for (Path dir : dirs) {
                try (Brick b = Brick.open(dir)) {
                    Response.Digest d = b.digest();
                    byGroup.computeIfAbsent(dir.getFileName().toString(), k -> new TreeMap<>())
                            .computeIfAbsent(d.appliedIndex(), k -> new TreeMap<>())
                            .put("node " + i, d);
                } catch (IOException | RuntimeException e) {
                    problems.add("node " + i + ": brick " + dir + " fails its own check: " + e);
                }
            }
        }
        byGroup.forEach((group, byIndex) -> byIndex.forEach((index, digests) -> {
            if (digests.values().stream().distinct().count() > 1) {
                problems.add("group " + group + ": bricks at applied index " + index + " differ: " + digests);
            }
        }));
        return problems;
    }
}
