package io.holdfast.server;

import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Placement;
import io.holdfast.protocol.ScrubStats;
import io.holdfast.server.admin.AdminOptions;
import io.holdfast.server.admin.AdminServer;
import io.holdfast.server.admin.NodeMetrics;
import io.holdfast.server.admin.NodeObserver;
import io.holdfast.server.admin.StatusReport;
import io.holdfast.server.volume.BrickIdentity;
import io.holdfast.server.volume.VolumeStateMachine;
import io.holdfast.transport.ClusterIds;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.BindException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.GroupManagementRequest;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.SnapshotManagementRequest;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.StateMachine;
import org.apache.ratis.util.ExitUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Holdfast node: a Ratis server that hosts the cluster group (if this node is among the
 * first three peers) and a replica group for every volume with a replica here.
 *
 * <p>Layout of the data directory: {@code raft/<group-uuid>/} holds each group's Raft log and
 * snapshots; {@code bricks/<group-uuid>/} holds each volume replica's brick.
 *
 * <p>Lifecycle: {@link #start} returns a running node; {@link #close} stops it (idempotent).
 * Thread-safe.
 */
public final class HoldfastNode implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HoldfastNode.class);

    private final NodeConfig config;
    private final Gatekeeper gatekeeper;
    private final AccessControl access = new AccessControl();
    private final RaftServer server;
    private final ExecutorService groupAdder;
    private final AtomicLong callIds = new AtomicLong();
    private final CompletableFuture<Void> running = new CompletableFuture<>();
    private final MapFollower mapFollower;
    private final Advertiser advertiser;
    /** The halts of this node's members, by group (see {@link LogFormatGuard}). */
    private final Map<UUID, Supplier<Optional<LogFormatGuard.Halt>>> halts = new ConcurrentHashMap<>();
    /** This node's volume members, for their read lease counts. */
    private final Map<UUID, VolumeStateMachine> leases = new ConcurrentHashMap<>();

    private volatile ClusterMap knownMap;
    private final NodeMetrics metrics;
    private final NodeObserver observer;
    private volatile AdminServer admin;
    private volatile boolean closed;
    private final NodeNetwork network;
    private final LeaderWatch leaderWatch;

    private HoldfastNode(NodeOptions options) throws IOException {
        NodeConfig config = options.config();
        NodeSecurity security = options.security();
        InstantSource clock = options.clock();
        ScrubSettings scrub = options.scrub();
        this.config = config;
        this.network = options.network();
        this.gatekeeper = new Gatekeeper(security, options.catchUpBytesPerSecond());
        this.metrics = new NodeMetrics(config.address(), access::volumeName, this::connectionStats);
        gatekeeper.onCatchUp((group, received, expected, done) -> {
            metrics.snapshotProgress(group, received, expected);
            if (done) {
                metrics.snapshotFinished(group);
            }
        });
        Handshake handshake = new Handshake(config.address(), security);
        Path raftDir = config.dataDir().resolve("raft");
        Files.createDirectories(raftDir);
        Files.createDirectories(config.dataDir().resolve("bricks"));
        this.groupAdder = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "holdfast-group-adder-" + config.address());
            t.setDaemon(true);
            return t;
        });
        String listen = network.listenAddress(config);
        int colon = listen.lastIndexOf(':');
        RaftProperties props = RaftSettings.server(
                raftDir.toFile(),
                listen.substring(0, colon),
                Integer.parseInt(listen.substring(colon + 1)),
                config.snapshotThreshold());
        RaftGroupId clusterGroup = ClusterIds.CLUSTER_GROUP;
        StateMachine.Registry registry = groupId -> {
            if (groupId.equals(clusterGroup)) {
                ClusterStateMachine c = new ClusterStateMachine(
                        config.clusterId(),
                        config.peers(),
                        config.clusterGroupMembers(),
                        clock,
                        this::mapKnown,
                        access,
                        handshake,
                        config.address(),
                        config.maxLogFormat());
                halts.put(groupId.getUuid(), c::halted);
                return c;
            }
            VolumeStateMachine v = new VolumeStateMachine(
                    brickDir(groupId.getUuid()),
                    clock,
                    access,
                    config.clusterId(),
                    config.address(),
                    this::joinedGeneration,
                    metrics.volume(groupId.getUuid()),
                    scrub,
                    security.transport(),
                    options.diskReserveBytes(),
                    options.catchUpBytesPerSecond(),
                    options.changeFeedRetention(),
                    config.maxLogFormat());
            halts.put(groupId.getUuid(), v::halted);
            leases.put(groupId.getUuid(), v);
            // the scrub counters, read at each scrape (zeros until the member has started)
            metrics.registerScrubber(
                    groupId.getUuid(),
                    () -> v.scrubStats()
                            .map(x -> new NodeMetrics.ScrubStats(
                                    x.bytesVerified(),
                                    x.blocksVerified(),
                                    x.badBlocks(),
                                    x.repairedBlocks(),
                                    x.passes()))
                            .orElse(new NodeMetrics.ScrubStats(0, 0, 0, 0, 0)));
            return v;
        };
        Parameters parameters = security.transport().parameters();
        GrpcConfigKeys.Server.setServicesCustomizer(parameters, gatekeeper);
        RaftServer.Builder b = RaftServer.newBuilder()
                .setServerId(RaftPeerId.valueOf(ClusterMap.peerId(config.address())))
                .setStateMachineRegistry(registry)
                .setProperties(props)
                .setParameters(parameters)
                .setOption(RaftStorage.StartupOption.RECOVER);
        if (config.clusterGroupMembers().contains(config.address()) && !network.routed()) {
            b.setGroup(ClusterIds.group(clusterGroup, config.clusterGroupMembers()));
        }
        this.server = b.build();
        this.advertiser = new Advertiser(config, parameters);
        network.register(server); // a routed node adds its cluster group once started: see start()
        this.leaderWatch = new LeaderWatch(
                server,
                RaftSettings.ELECTION_TIMEOUT_MIN,
                peer -> network.peerRoutes().getOrDefault(peer, peer));
        this.mapFollower = config.clusterGroupMembers().contains(config.address())
                ? null
                : new MapFollower(config, parameters, this::mapKnown);
        this.observer = new NodeObserver(
                config, server, this::knownMap, access::volumeName, metrics, this::connectionStats, clock, this::halts);
        metrics.registerLogFormats(config.maxLogFormat(), this::halts);
        metrics.registerLeases(
                () -> leases.values().stream()
                        .mapToLong(VolumeStateMachine::leaseSessions)
                        .sum(),
                () -> leases.values().stream()
                        .mapToLong(VolumeStateMachine::leaseRevocations)
                        .sum());
    }

    private Path brickDir(UUID group) {
        return config.dataDir().resolve("bricks").resolve(group.toString());
    }

    /** Where Ratis keeps this node's log of a group (its storage directory is named by the group's UUID). */
    private Path groupLogDir(UUID group) {
        return config.dataDir().resolve("raft").resolve(group.toString());
    }

    /**
     * Starts a node: binds its admin port (if enabled, first: a taken port fails fast), starts
     * Ratis and the node's groups, and returns once the node runs.
     *
     * @param options configuration, security and the settings with defaults ({@link NodeOptions})
     * @throws IOException if the data directory cannot be used or a port cannot be bound (for
     *     the admin port, a message naming it and {@code --admin-address}); the node is closed
     */
    public static HoldfastNode start(NodeOptions options) throws IOException {
        NodeConfig config = options.config();
        NodeSecurity security = options.security();
        AdminOptions admin = options.admin();
        HoldfastNode node = new HoldfastNode(options);
        try {
            if (admin.enabled()) {
                node.admin = AdminServer.start(admin, node.observer); // before Ratis: a taken port fails fast
            }
            startRaft(node);
            node.addRoutedClusterGroup();
            node.leaderWatch.start();
            node.observer.start();
            node.advertiser.start();
            node.running.complete(null);
            if (node.mapFollower != null) {
                node.mapFollower.start();
            }
        } catch (IOException | RuntimeException e) {
            node.close();
            throw e;
        }
        LOG.info(
                "node {} started, data in {}, {}, admin {}",
                config.address(),
                config.dataDir(),
                security.transport().isPlaintext() ? "PLAINTEXT (--insecure)" : "mutual TLS 1.3",
                node.admin == null ? "off" : node.admin.uri());
        return node;
    }

    /**
     * Starts the node's Ratis server. Ratis 3.3.0 ends the whole JVM ({@code System.exit(1)},
     * through {@code ExitUtils.terminate}) when its gRPC server cannot bind; that would take
     * every other node, mount and test in the process with it. Holdfast turns Ratis's exits off
     * (JVM-wide, once: no Ratis code path may end a Holdfast process) and reports a taken port
     * as a {@link BindException} naming the address, as for the admin port.
     *
     * @throws BindException if the Raft address is in use or cannot be bound
     * @throws IOException if Ratis cannot start for another reason
     */
    private static void startRaft(HoldfastNode node) throws IOException {
        ExitUtils.disableSystemExit();
        String address = node.network.listen() != null ? node.network.listen() : node.config.address();
        try {
            node.server.start();
        } catch (RuntimeException e) {
            // gRPC reports "Failed to bind to address", caused by Netty's native "Address already in use"
            String why = null;
            for (Throwable t = e; t != null; t = t.getCause()) {
                String m = String.valueOf(t.getMessage());
                if (m.toLowerCase(Locale.ROOT).contains("already in use")) {
                    why = "is in use (another node or process listens there)";
                    break;
                }
                if (t instanceof BindException || m.startsWith("Failed to bind")) {
                    why = "cannot be bound (" + rootMessage(t) + ")";
                }
            }
            if (why != null) {
                BindException b = new BindException("Raft address " + address + " " + why);
                b.initCause(e);
                throw b;
            }
            if (e instanceof ExitUtils.ExitException) {
                throw new IOException("Ratis could not start on " + address + ": " + e.getMessage(), e);
            }
            throw e;
        }
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage();
    }

    /**
     * Adds the cluster group to a routed node's running server (a direct node is built with it):
     * given at build time, Ratis would register the peers' own addresses before the routes. A
     * group restored from disk is already there.
     */
    private void addRoutedClusterGroup() throws IOException {
        RaftGroupId id = ClusterIds.CLUSTER_GROUP;
        if (!network.routed() || !config.clusterGroupMembers().contains(config.address())) {
            return;
        }
        for (RaftGroupId g : server.getGroupIds()) {
            if (g.equals(id)) {
                return;
            }
        }
        RaftClientReply reply = server.groupManagement(GroupManagementRequest.newAdd(
                ClientId.randomId(),
                server.getId(),
                callIds.incrementAndGet(),
                ClusterIds.group(id, config.clusterGroupMembers())));
        if (!reply.isSuccess()) {
            throw new IOException("could not start the cluster group: " + reply.getException());
        }
    }

    /**
     * Told every cluster map this node learns (from its cluster group member's log, or from the
     * {@link MapFollower} on a node outside the cluster group): brings the groups this node
     * serves in line with it, on one thread, in order.
     */
    private void mapKnown(ClusterMap map) {
        if (!map.clusterId().equals(config.clusterId())) {
            LOG.error(
                    "ignoring a cluster map of cluster {}: this node belongs to cluster {}",
                    map.clusterId(),
                    config.clusterId());
            return;
        }
        ClusterMap known = knownMap;
        if (known != null && known.epoch() > map.epoch()) {
            return;
        }
        knownMap = map;
        advertiser.mapKnown(map);
        if (mapFollower != null) {
            access.update(map); // the cluster state machine does this for its members
        }
        groupAdder.execute(this::reconcile);
    }

    /** The generation at which this node joined a volume's group, per the latest map; 1 if unknown. */
    private long joinedGeneration(UUID group) {
        return access.volume(group)
                .map(v -> v.sinceOf(config.address()).orElse(1))
                .orElse(1L);
    }

    /**
     * Starts the groups of volumes placed on this node (as a replica, or joining one), and leaves
     * those of volumes it no longer serves (replaced): the group is removed from the Raft server
     * (its log kept under {@code removed/raft/}) and the brick moved to {@code removed/bricks/}.
     * A brick older than this node's latest joining of the volume (it was replaced, then put
     * back) is set aside the same way and the member starts afresh: a replaced member never
     * comes back as current.
     */
    private void reconcile() {
        try {
            running.get(); // groups can be added only once our own server runs
        } catch (InterruptedException | CancellationException e) {
            Thread.currentThread().interrupt();
            return;
        } catch (ExecutionException e) {
            LOG.error("node did not start", e);
            return;
        }
        ClusterMap map = knownMap;
        try {
            Set<RaftGroupId> served = new HashSet<>();
            server.getGroupIds().forEach(served::add);
            for (ClusterMap.Volume v : map.volumes().values()) {
                for (UUID group : Placement.groupsOf(v)) {
                    RaftGroupId id = RaftGroupId.valueOf(group);
                    boolean mine = v.servedBy(config.address());
                    if (mine && served.contains(id)) {
                        long since = v.sinceOf(config.address()).orElse(1);
                        long brick = BrickIdentity.generationOf(brickDir(group));
                        if (brick < since) {
                            leave(
                                    v,
                                    group,
                                    "its brick is of membership generation " + brick
                                            + ", older than this member's joining at " + since);
                            join(v, group);
                        }
                    } else if (mine) {
                        join(v, group);
                    } else if (served.contains(id)) {
                        leave(v, group, "the cluster map no longer names this node among its replicas " + v.replicas());
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            if (!closed) {
                LOG.error("could not bring this node's volume groups in line with the cluster map", e);
            }
        }
    }

    private void join(ClusterMap.Volume volume, UUID group) throws IOException {
        RaftGroupId id = RaftGroupId.valueOf(group);
        // anything left from an earlier membership of this volume is set aside, never reused
        setAside(groupLogDir(group), "raft");
        setAside(brickDir(group), "bricks");
        // A joining member starts without a configuration: it learns the group's from the leader
        // (snapshot, then log) once the configuration change names it, and never campaigns before.
        RaftGroup members = volume.joining().equals(config.address())
                ? RaftGroup.valueOf(id)
                : ClusterIds.group(id, volume.replicas());
        RaftClientReply reply = server.groupManagement(
                GroupManagementRequest.newAdd(ClientId.randomId(), server.getId(), callIds.incrementAndGet(), members));
        if (!reply.isSuccess()) {
            LOG.error("could not start replica of volume {}: {}", volume.name(), reply.getException());
        } else {
            LOG.info(
                    "serving volume {} (group {}, membership generation {}{})",
                    volume.name(),
                    id,
                    volume.generation(),
                    volume.joining().equals(config.address()) ? ", joining" : "");
        }
    }

    private void leave(ClusterMap.Volume volume, UUID group, String why) throws IOException {
        RaftGroupId id = RaftGroupId.valueOf(group);
        clearStrayInterrupt();
        StateMachine sm = server.getDivision(id).getStateMachine();
        RaftClientReply reply = server.groupManagement(GroupManagementRequest.newRemove(
                ClientId.randomId(), server.getId(), callIds.incrementAndGet(), id, false, true));
        if (!reply.isSuccess()) {
            LOG.error("could not leave volume {}: {}", volume.name(), reply.getException());
            return;
        }
        if (sm instanceof VolumeStateMachine v) {
            // the brick must be closed before it is moved, and before a later join opens one at its place
            clearStrayInterrupt();
            v.awaitClosed(Duration.ofSeconds(60));
        }
        // Ratis moves the group's log to removed/raft/ unless its close was cut short
        setAside(groupLogDir(group), "raft");
        Path aside = setAside(brickDir(group), "bricks");
        LOG.warn(
                "left volume {} (group {}): {}; its brick is kept in {} (delete it when no longer wanted)",
                volume.name(),
                id,
                why,
                aside);
    }

    /**
     * Clears an interrupt of the group thread that is not a shutdown. (Seen once in the catch-up
     * bench, source unknown: it cut short Ratis's wait for a removed group's close, which then
     * left the brick open and its RocksDB lock held, so a later join of that volume failed.)
     */
    private void clearStrayInterrupt() {
        if (!closed && Thread.interrupted()) {
            LOG.warn(
                    "the group thread was interrupted while the node is not stopping; carrying on",
                    new Exception("stack of the check"));
        }
    }

    /** Moves {@code dir} (if it exists) to {@code removed/KIND/NAME-MILLIS}; returns where. */
    private Path setAside(Path dir, String kind) throws IOException {
        if (!Files.exists(dir)) {
            return null;
        }
        Path target = config.dataDir()
                .resolve("removed")
                .resolve(kind)
                .resolve(dir.getFileName() + "-" + System.currentTimeMillis());
        Files.createDirectories(target.getParent());
        Files.move(dir, target);
        return target;
    }

    /** The latest cluster map this node knows, or null before it knows one. */
    public ClusterMap knownMap() {
        return knownMap;
    }

    /** This node's address. */
    public String address() {
        return config.address();
    }

    /** Connection counters of this node's port (as its metrics and status page show them). */
    public StatusReport.Connections connectionStats() {
        return new StatusReport.Connections(
                gatekeeper.connections(), gatekeeper.refusedConnections(), gatekeeper.refusedCalls());
    }

    /**
     * The admin port's base address, e.g. {@code http://127.0.0.1:8001/} (with the actual
     * port when 0 was asked for); empty when the admin port is off.
     */
    public Optional<URI> adminUri() {
        AdminServer a = admin;
        return a == null ? Optional.empty() : Optional.of(a.uri());
    }

    /**
     * This node's metrics: where a snapshot transfer reports its progress and a scrubber
     * registers its counters.
     */
    public NodeMetrics metrics() {
        return metrics;
    }

    /** What this node's status page shows now (sampled afresh). */
    public StatusReport status() {
        return observer.status();
    }

    /** The configuration the node runs with. */
    public NodeConfig config() {
        return config;
    }

    /**
     * What this node knows of one of its Raft groups.
     *
     * @param role LEADER, FOLLOWER, CANDIDATE, LISTENER
     * @param term current term
     * @param leader the leader's peer id, or empty if unknown
     * @param commitIndex highest log index known committed
     * @param appliedIndex highest log index applied to the state machine
     * @param logStartIndex first index still in this member's log (earlier ones are purged
     *     into snapshots)
     */
    public record GroupStatus(
            String role, long term, String leader, long commitIndex, long appliedIndex, long logStartIndex) {}

    /**
     * The status of a Raft group on this node.
     *
     * @param groupId a volume's group id, or {@link ClusterIds#CLUSTER_GROUP}'s UUID
     * @return empty if this node does not serve that group
     */
    public Optional<GroupStatus> groupStatus(UUID groupId) {
        try {
            RaftServer.Division d = server.getDivision(RaftGroupId.valueOf(groupId));
            var info = d.getInfo();
            var log = d.getRaftLog();
            RaftPeerId leader = info.getLeaderId();
            return Optional.of(new GroupStatus(
                    info.getCurrentRole().name(),
                    info.getCurrentTerm(),
                    leader == null ? "" : leader.toString(),
                    log.getLastCommittedIndex(),
                    info.getLastAppliedIndex(),
                    log.getStartIndex()));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * Takes a snapshot of this node's member of a group now, as Ratis does by itself every
     * {@link NodeConfig#snapshotThreshold} applied entries (a volume member with a large brick waits
     * for more log first; this one does not), and purges the member's log up to it
     * (whole closed segments only, and only once at least {@code min(threshold, 1024)} entries
     * are past the previous purge). No entry is applied while the snapshot is written. Blocks.
     * For tools and benchmarks that need data to be in a snapshot, e.g. before a member catches up.
     *
     * @param groupId a volume's group id (or {@link ClusterIds#CLUSTER_GROUP}'s UUID)
     * @param timeout how long to wait for the snapshot to be written
     * @return the log index the snapshot covers, as Ratis reports it (not a new snapshot if this
     *     member takes none now, e.g. while quarantined by scrub)
     * @throws IOException if this node does not serve that group, or the snapshot failed or
     *     took longer than {@code timeout}
     */
    public long takeSnapshot(UUID groupId, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        RaftServer.Division division = server.getDivision(RaftGroupId.valueOf(groupId));
        StateMachine sm = division.getStateMachine();
        long wanted = division.getInfo().getLastAppliedIndex();
        if (sm instanceof VolumeStateMachine v) {
            v.requestSnapshot(); // not paced by log volume (VolumeStateMachine.requestSnapshot)
        }
        // a volume's snapshot is written in the background: the first request freezes the state
        // (and answers -1), the one after the file is written reports it to Ratis, which purges;
        // one that was being written already when this was called may be older than wanted
        for (int attempt = 0; ; attempt++) {
            long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000);
            RaftClientReply reply = server.snapshotManagement(SnapshotManagementRequest.newCreate(
                    ClientId.randomId(),
                    server.getId(),
                    RaftGroupId.valueOf(groupId),
                    callIds.incrementAndGet(),
                    left,
                    1));
            if (!reply.isSuccess()) {
                throw new IOException(
                        config.address() + " took no snapshot of group " + groupId + ": " + reply.getException());
            }
            if (reply.getLogIndex() >= wanted || !(sm instanceof LifecycleStateMachine l) || attempt >= 4) {
                return reply.getLogIndex();
            }
            if (reply.getLogIndex() >= 0) {
                continue; // an older one finished: ask for one at the current index
            }
            try {
                if (!l.awaitBackgroundSnapshot(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())))) {
                    throw new IOException(config.address() + " did not finish writing the snapshot of group " + groupId
                            + " within " + timeout);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted waiting for a snapshot of group " + groupId);
            }
        }
    }

    /**
     * What this node's member of volume group {@code groupId} fetched from other members and
     * reused from its own brick while catching up from snapshot manifests, since it started.
     *
     * @return empty if this node does not serve that volume group
     */
    public Optional<VolumeStateMachine.CatchUpTotals> catchUpTotals(UUID groupId) {
        try {
            return server.getDivision(RaftGroupId.valueOf(groupId)).getStateMachine() instanceof VolumeStateMachine v
                    ? Optional.of(v.catchUpTotals())
                    : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * How long the latest snapshot of this node's member of {@code groupId} that was written in
     * the background held the member's apply thread (checkpoint and freeze), in nanoseconds.
     *
     * @return empty if this node does not serve that group or its member took no such snapshot yet
     */
    public Optional<Long> snapshotPauseNanos(UUID groupId) {
        try {
            return server.getDivision(RaftGroupId.valueOf(groupId)).getStateMachine() instanceof LifecycleStateMachine l
                            && l.lastSnapshotPauseNanos() >= 0
                    ? Optional.of(l.lastSnapshotPauseNanos())
                    : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * The scrub state and counters of this node's member of a volume group, e.g. for metrics.
     * Cheap: reads counters. Thread-safe.
     *
     * @param groupId a volume's group id
     * @return empty if this node does not serve that group (or not yet)
     */
    public Optional<ScrubStats> scrubStats(UUID groupId) {
        try {
            return server.getDivision(RaftGroupId.valueOf(groupId)).getStateMachine() instanceof VolumeStateMachine v
                    ? v.scrubStats()
                    : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * Where this node's member of {@code groupId} stopped applying an entry its code cannot
     * decode, if it has ({@link LogFormatGuard}); empty for a group this node does not serve.
     */
    public Optional<String> haltReason(UUID groupId) {
        var h = halts.get(groupId);
        return h == null ? Optional.empty() : h.get().map(LogFormatGuard.Halt::reason);
    }

    /** The halts of this node's members, group id → what the member needs; empty when none halted. */
    public Map<UUID, String> halts() {
        Map<UUID, String> m = new TreeMap<>();
        halts.forEach((g, h) -> h.get().ifPresent(x -> m.put(g, x.reason())));
        return m;
    }

    /** Stops the node; pending requests fail with retryable errors. Idempotent. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        running.cancel(false);
        if (mapFollower != null) {
            mapFollower.close();
        }
        advertiser.close();
        observer.close();
        AdminServer a = admin;
        if (a != null) {
            a.close();
        }
        groupAdder.shutdownNow();
        leaderWatch.close();
        server.close();
        LOG.info("node {} stopped", config.address());
    }
}
