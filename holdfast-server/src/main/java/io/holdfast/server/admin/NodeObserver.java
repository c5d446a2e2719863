package io.holdfast.server.admin;

import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Placement;
import io.holdfast.server.NodeConfig;
import io.holdfast.transport.ClusterIds;
import java.time.Instant;
import java.time.InstantSource;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches this node for the admin port: once a second (on one daemon thread,
 * {@code holdfast-observer-ADDRESS}) it probes the other nodes ({@link Liveness}) and samples
 * the Raft groups into the metrics ({@link RaftSampler}, {@link NodeMetrics#update}). Status
 * reports and scrapes sample afresh, so they are never older than the request; liveness is at
 * most one probe round (about a second) old.
 *
 * <p>The nodes it knows: the configured peers, then any other node of the cluster map or of a
 * group this node serves.
 *
 * <p>Lifecycle: {@link #start} once, {@link #close} (idempotent). Thread-safe.
 */
public final class NodeObserver implements AdminServer.Source, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NodeObserver.class);
    /** Time between probe-and-sample rounds, in milliseconds. */
    static final long PERIOD_MILLIS = 1000;

    private final NodeConfig config;
    private final Supplier<ClusterMap> map;
    private final NodeMetrics metrics;
    private final Liveness liveness;
    private final RaftSampler sampler;
    private final Supplier<StatusReport.Connections> connections;
    private final InstantSource clock;
    private final ScheduledExecutorService ticker;
    private final Supplier<Map<UUID, String>> halts;
    private final Function<UUID, Optional<String>> volumeNames;

    /**
     * An observer that probes nodes by TCP connect ({@link Liveness#tcpConnect}) on the system's
     * monotonic clock; not started.
     *
     * @param map the latest cluster map this node knows, or null before it knows one
     * @param halts this node's halted members, group id → reason
     */
    public NodeObserver(
            NodeConfig config,
            RaftServer server,
            Supplier<ClusterMap> map,
            Function<UUID, Optional<String>> volumeNames,
            NodeMetrics metrics,
            Supplier<StatusReport.Connections> connections,
            InstantSource clock,
            Supplier<Map<UUID, String>> halts) {
        this(
                config,
                server,
                map,
                volumeNames,
                metrics,
                connections,
                clock,
                System::nanoTime,
                Liveness::tcpConnect,
                halts);
    }

    /**
     * @param map the latest cluster map this node knows, or null before it knows one
     * @param nanoClock monotonic nanoseconds ({@code System::nanoTime})
     * @param prober how to probe a node ({@link Liveness#tcpConnect})
     * @param halts this node's halted members, group id → reason
     */
    NodeObserver(
            NodeConfig config,
            RaftServer server,
            Supplier<ClusterMap> map,
            Function<UUID, Optional<String>> volumeNames,
            NodeMetrics metrics,
            Supplier<StatusReport.Connections> connections,
            InstantSource clock,
            LongSupplier nanoClock,
            Liveness.Prober prober,
            Supplier<Map<UUID, String>> halts) {
        this.halts = halts;
        this.volumeNames = volumeNames;
        this.config = config;
        this.map = map;
        this.metrics = metrics;
        this.connections = connections;
        this.clock = clock;
        this.liveness = new Liveness(config.address(), nanoClock, prober);
        this.sampler = new RaftSampler(
                server,
                config.address(),
                volumeNames,
                Comparator.comparingInt(this::nodeRank).thenComparing(Comparator.naturalOrder()),
                metrics,
                clock,
                nanoClock);
        this.ticker = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "holdfast-observer-" + config.address());
            t.setDaemon(true);
            return t;
        });
    }

    /** Starts probing and sampling, the first round at once. */
    public void start() {
        ticker.scheduleAtFixedRate(this::tick, 0, PERIOD_MILLIS, TimeUnit.MILLISECONDS);
    }

    private void tick() {
        try {
            liveness.probe(nodes());
            metrics.update(sampler.sample(), liveness.states(nodes()));
        } catch (RuntimeException e) {
            LOG.warn(
                    "observer of {}: sampling failed: {}",
                    config.address(),
                    e.toString()); // the next round tries again
        }
    }

    /** Position in the configured peers; nodes not configured sort after them. */
    private int nodeRank(String address) {
        int i = config.peers().indexOf(address);
        return i < 0 ? Integer.MAX_VALUE : i;
    }

    /** Every node this node knows, configured peers first. */
    private List<String> nodes() {
        Set<String> all = new LinkedHashSet<>(config.peers());
        ClusterMap m = map.get();
        if (m != null) {
            all.addAll(m.nodes());
        }
        return new ArrayList<>(all);
    }

    @Override
    public String metrics() {
        List<GroupSample> samples = sampler.sample();
        metrics.update(samples, liveness.states(nodes()));
        metrics.updateGeorep(georep(map.get(), samples));
        return metrics.scrape();
    }

    /**
     * The map's geo-replication sessions with their lag against the volume's applied index on
     * this node (unknown where this node is not a member of the volume's group).
     */
    private List<StatusReport.Georep> georep(ClusterMap m, List<GroupSample> samples) {
        Instant now = clock.instant();
        return georep(m, samples, now.getEpochSecond() * 1_000_000_000L + now.getNano());
    }

    /** {@link #georep(ClusterMap, List)} at {@code nowNanos} (nanoseconds since the epoch). */
    static List<StatusReport.Georep> georep(ClusterMap m, List<GroupSample> samples, long nowNanos) {
        if (m == null) {
            return List.of();
        }
        List<StatusReport.Georep> rows = new ArrayList<>();
        for (ClusterMap.GeorepSession g : m.georep().values()) {
            Long applied = null;
            ClusterMap.Volume v = m.volumes().get(g.volume());
            if (v != null) {
                UUID group = Placement.onlyGroup(v);
                for (GroupSample sample : samples) {
                    if (sample.groupId().equals(group)) {
                        applied = sample.appliedIndex();
                    }
                }
            }
            Long behind = applied == null ? null : Math.max(0, applied - g.position());
            Double lag = applied == null ? null : g.lagSeconds(applied, nowNanos);
            Double age = g.reportedNanos() == 0 ? null : Math.max(0, nowNanos - g.reportedNanos()) / 1e9;
            double rpo = g.rpoMillis() / 1000.0;
            String state;
            if (age == null) {
                state = "no report";
            } else if (lag != null && g.rpoMillis() > 0 && lag > rpo) {
                state = "above RPO";
            } else if (age > StatusReport.Georep.SILENT_SECONDS && (behind == null || behind > 0)) {
                state = "silent";
            } else {
                state = "ok";
            }
            rows.add(new StatusReport.Georep(g.name(), g.volume(), g.position(), behind, lag, rpo, age, state));
        }
        return rows;
    }

    @Override
    public StatusReport status() {
        List<GroupSample> samples = sampler.sample();
        List<String> nodes = nodes();
        for (GroupSample g : samples) {
            g.members().stream().filter(a -> !nodes.contains(a)).forEach(nodes::add);
        }
        List<Liveness.State> live = liveness.states(nodes);
        metrics.update(samples, live);
        ClusterMap m = map.get();
        List<StatusReport.Georep> georep = georep(m, samples);
        metrics.updateGeorep(georep);
        List<String> clusterGroup = m != null ? m.clusterGroup() : config.clusterGroupMembers();
        List<StatusReport.Node> nodeRows = live.stream()
                .map(n -> new StatusReport.Node(
                                n.address(),
                                n.up(),
                                n.lastSeenSecondsAgo(),
                                clusterGroup.contains(n.address()),
                                n.address().equals(config.address()))
                        .advertised(m))
                .toList();
        List<StatusReport.Volume> volumes = m == null
                ? List.of()
                : m.volumes().values().stream()
                        .map(v -> new StatusReport.Volume(
                                v.name(), Placement.onlyGroup(v).toString(), v.replicas()))
                        .toList();
        List<StatusReport.Group> groups = samples.stream().map(this::group).toList();
        List<StatusReport.Halted> halted = halts.get().entrySet().stream()
                .map(e -> new StatusReport.Halted(
                        e.getKey().equals(ClusterIds.CLUSTER_GROUP.getUuid())
                                ? StatusReport.Group.CLUSTER
                                : volumeNames
                                        .apply(e.getKey())
                                        .orElse(e.getKey().toString()),
                        config.address(),
                        e.getValue()))
                .toList();
        return new StatusReport(
                config.clusterId().toString(),
                "node " + config.address(),
                clock.instant().truncatedTo(ChronoUnit.MILLIS).toString(),
                nodeRows,
                volumes,
                groups,
                connections.get(),
                m == null ? null : m.featureLevel(),
                halted,
                georep);
    }

    /** A group as the status shows it: what this node knows, null where only another member would. */
    StatusReport.Group group(GroupSample g) {
        boolean leaderView = g.isLeader();
        List<StatusReport.Member> members = new ArrayList<>();
        for (String a : g.members()) {
            boolean self = a.equals(g.self());
            String role = self ? g.role() : a.equals(g.leader()) ? "leader" : "follower";
            GroupSample.Follower f = g.followers().get(a);
            Long lagEntries = f != null ? Long.valueOf(f.lagEntries()) : leaderView && self ? Long.valueOf(0) : null;
            Double lagSeconds =
                    f != null ? Double.valueOf(f.lagSeconds()) : leaderView && self ? Double.valueOf(0) : null;
            members.add(new StatusReport.Member(
                    a,
                    role,
                    liveness.isUp(a),
                    g.commitIndexes().get(a),
                    self ? g.appliedIndex() : null,
                    f == null ? null : f.matchIndex(),
                    lagEntries,
                    lagSeconds,
                    f == null ? null : f.lastContactSeconds(),
                    null));
        }
        Health.Assessment health = Health.assess(members, g.leader());
        GroupSample.CatchUp c = g.catchUp();
        return new StatusReport.Group(
                g.name(),
                g.groupId().toString(),
                g.leader(),
                g.term(),
                leaderView,
                health.health(),
                health.reason(),
                members,
                new StatusReport.CatchUp(
                        c.snapshotInstalling(),
                        c.bytesReceived(),
                        c.bytesExpected() < 0 ? null : c.bytesExpected(),
                        c.appliedFraction()));
    }

    /** Stops the thread; a round in progress finishes on its own. Idempotent. */
    @Override
    public void close() {
        ticker.shutdownNow();
    }
}
