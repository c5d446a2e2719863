package io.holdfast.server.admin;

import io.holdfast.common.Errno;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's metrics, kept in a Micrometer registry and served in Prometheus's text format
 * ({@link #scrape}, {@code GET /metrics} on the admin port).
 *
 * <h2>Series</h2>
 *
 * Every series carries {@code node} (this node's address). Volume series carry {@code volume}
 * (the name, {@code (cluster)} for the cluster group, empty while this node does not know it
 * yet) and {@code group} (the Raft group id).
 *
 * <table>
 *   <caption>Series</caption>
 *   <tr><th>name</th><th>labels</th><th>what</th></tr>
 *   <tr><td>{@code holdfast_ops_total}</td><td>kind (mutation|query), op</td><td>mutations applied by this
 *       member (every member applies each one) and queries it answered, by request type</td></tr>
 *   <tr><td>{@code holdfast_bytes_total}</td><td>op (Write|Read)</td><td>bytes written by applied Write
 *       mutations; bytes returned by Read queries</td></tr>
 *   <tr><td>{@code holdfast_apply_seconds}</td><td>op</td><td>histogram: time to apply one mutation to the
 * brick</td></tr>
 *   <tr><td>{@code holdfast_query_seconds}</td><td>op</td><td>histogram: time to answer one query</td></tr>
 *   <tr><td>{@code holdfast_errors_total}</td><td>op, errno</td><td>outcomes that were errors: applied
 *       mutations, answered queries, and proposals the leader refused (op {@code unknown} if the request
 *       could not be decoded)</td></tr>
 *   <tr><td>{@code holdfast_raft_leader}</td><td></td><td>1 if this node leads the group, else 0</td></tr>
 *   <tr><td>{@code holdfast_raft_term}</td><td></td><td>this member's current term</td></tr>
 *   <tr><td>{@code holdfast_raft_commit_index}</td><td>member</td><td>each member's commit index as this node
 *       knows it</td></tr>
 *   <tr><td>{@code holdfast_raft_applied_index}</td><td>member</td><td>this member's applied index (only its
 *       own)</td></tr>
 *   <tr><td>{@code holdfast_raft_match_index}</td><td>member</td><td>leader only: each follower's match index</td></tr>
 *   <tr><td>{@code holdfast_raft_lag_entries}</td><td>member</td><td>leader only: commit index − match index</td></tr>
 *   <tr><td>{@code holdfast_raft_lag_seconds}</td><td>member</td><td>leader only: see {@link LagTracker}</td></tr>
 *   <tr><td>{@code holdfast_raft_last_contact_seconds}</td><td>member</td><td>leader only: since the follower
 *       last answered</td></tr>
 *   <tr><td>{@code holdfast_catchup_snapshot_installing}</td><td></td><td>1 while this member receives or
 *       loads a snapshot</td></tr>
 *   <tr><td>{@code holdfast_catchup_snapshot_received_bytes}</td><td></td><td>bytes of that snapshot received
 *       ({@link #snapshotProgress})</td></tr>
 *   <tr><td>{@code holdfast_catchup_applied_ratio}</td><td></td><td>applied index / leader commit index</td></tr>
 *   <tr><td>{@code holdfast_scrub_*_total}</td><td></td><td>only for groups with a registered scrubber
 *       ({@link #registerScrubber}): bytes, blocks, corrupt blocks, repaired blocks, passes</td></tr>
 *   <tr><td>{@code holdfast_node_up}</td><td>peer</td><td>1 if the peer answered the latest probe</td></tr>
 *   <tr><td>{@code holdfast_node_last_seen_seconds}</td><td>peer</td><td>since it last answered</td></tr>
 *   <tr><td>{@code holdfast_connections_open}, {@code holdfast_connections_refused_total},
 *       {@code holdfast_calls_refused_total}</td><td></td><td>this node's Raft port</td></tr>
 * </table>
 *
 * <p>Raft and liveness gauges are set from samples ({@link #update}); the node observer
 * samples every second and before each scrape. Counters and histograms are recorded by the
 * state machines as they work.
 *
 * <p>Thread-safe.
 */
public final class NodeMetrics {
    private static final Logger LOG = LoggerFactory.getLogger(NodeMetrics.class);
    /** Content type of {@link #scrape()}: Prometheus text exposition format 0.0.4. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    /** Op label for a request that could not be decoded. */
    public static final String UNKNOWN_OP = "unknown";

    private final PrometheusMeterRegistry registry;
    private final Function<UUID, Optional<String>> volumeNames;
    private final Map<UUID, VolumeMeters> volumes = new ConcurrentHashMap<>();
    private final Map<UUID, SnapshotProgress> snapshots = new ConcurrentHashMap<>();
    private final Map<UUID, List<Meter>> scrubMeters = new ConcurrentHashMap<>();
    /**
     * The objects behind the function counters, held here: Micrometer holds a function counter's
     * object weakly, and a supplier kept nowhere else reads NaN after a garbage collection.
     */
    private final Map<UUID, Supplier<ScrubStats>> scrubSources = new ConcurrentHashMap<>();

    private final Supplier<StatusReport.Connections> connections;
    private final MultiGauge leader;
    private final MultiGauge term;
    private final MultiGauge commitIndex;
    private final MultiGauge appliedIndex;
    private final MultiGauge matchIndex;
    private final MultiGauge lagEntries;
    private final MultiGauge lagSeconds;
    private final MultiGauge lastContact;
    private final MultiGauge snapshotInstalling;
    private final MultiGauge snapshotReceived;
    private final MultiGauge snapshotExpected;
    private final MultiGauge appliedRatio;
    private final MultiGauge nodeUp;
    private final MultiGauge nodeLastSeen;
    private final MultiGauge georepPosition;
    private final MultiGauge georepBehind;
    private final MultiGauge georepLag;
    private final MultiGauge georepReportAge;
    private final MultiGauge georepRpo;

    /**
     * Registers the log format gauges: {@code holdfast_log_format_max} (the newest log format this
     * node reads) and {@code holdfast_members_halted} (how many of this node's members stopped at
     * an entry they cannot decode; see {@code LogFormatGuard}; anything above 0 needs an operator).
     *
     * @param halts this node's halted members, group id → reason, read at each scrape
     */
    public void registerLogFormats(int maxLogFormat, Supplier<Map<UUID, String>> halts) {
        Gauge.builder("holdfast.log.format.max", () -> maxLogFormat)
                .description("the newest replicated-log format this node reads")
                .register(registry);
        Gauge.builder("holdfast.members.halted", halts, h -> h.get().size())
                .strongReference(true) // the supplier lives nowhere else: a weak one read NaN after a GC
                .description("members of this node halted at a log entry they cannot decode (upgrade the node)")
                .register(registry);
    }

    /**
     * Registers the read lease gauges (see {@code LeaseTable}): {@code holdfast_lease_sessions}
     * (client sessions holding a read lease from the volumes this node leads) and
     * {@code holdfast_lease_revocations} (leases revoked so far by those volumes: one per session
     * per change by another client; a counter, though registered as a gauge read at each scrape).
     */
    public void registerLeases(LongSupplier sessions, LongSupplier revocations) {
        Gauge.builder("holdfast.lease.sessions", sessions, LongSupplier::getAsLong)
                .strongReference(true)
                .description("client sessions holding a read lease from volumes this node leads")
                .register(registry);
        Gauge.builder("holdfast.lease.revocations", revocations, LongSupplier::getAsLong)
                .strongReference(true)
                .description("read leases revoked by volumes this node leads, since it started")
                .register(registry);
    }

    /**
     * @param node this node's address (the {@code node} label of every series)
     * @param volumeNames a group id's volume name, if this node knows it (from its cluster map)
     * @param connections this node's connection counters
     */
    public NodeMetrics(
            String node, Function<UUID, Optional<String>> volumeNames, Supplier<StatusReport.Connections> connections) {
        this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        registry.config().commonTags("node", node);
        this.volumeNames = volumeNames;
        this.connections = connections;
        leader = gauge("holdfast.raft.leader", null, "1 if this node leads the group, else 0");
        term = gauge("holdfast.raft.term", null, "this member's current Raft term");
        commitIndex = gauge("holdfast.raft.commit.index", null, "each member's commit index, as this node knows it");
        appliedIndex = gauge("holdfast.raft.applied.index", null, "this member's applied index");
        matchIndex = gauge("holdfast.raft.match.index", null, "leader only: each follower's match index");
        lagEntries = gauge(
                "holdfast.raft.lag.entries",
                null,
                "leader only: the leader's commit index minus the follower's match index");
        lagSeconds = gauge(
                "holdfast.raft.lag",
                "seconds",
                "leader only: age of the oldest committed entry the follower lacks (0 if none), sampled every second");
        lastContact =
                gauge("holdfast.raft.last.contact", "seconds", "leader only: time since the follower last answered");
        snapshotInstalling =
                gauge("holdfast.catchup.snapshot.installing", null, "1 while this member receives or loads a snapshot");
        snapshotReceived = gauge(
                "holdfast.catchup.snapshot.received", "bytes", "bytes of the snapshot being installed received so far");
        snapshotExpected = gauge(
                "holdfast.catchup.snapshot.expected", "bytes", "size of the snapshot being installed, when known");
        appliedRatio = gauge(
                "holdfast.catchup.applied.ratio",
                null,
                "this member's applied index divided by the leader's commit index");
        nodeUp = gauge(
                "holdfast.node.up", null, "1 if the peer accepted a connection at the latest probe (every second)");
        nodeLastSeen = gauge("holdfast.node.last.seen", "seconds", "time since the peer last accepted a connection");
        georepPosition = gauge(
                "holdfast.georep.session.position", null, "geo-replication: the feed index the worker last reported");
        georepBehind = gauge(
                "holdfast.georep.session.entries.behind",
                null,
                "geo-replication: the volume's applied index here minus the reported position (members only)");
        georepLag = gauge(
                "holdfast.georep.session.lag",
                "seconds",
                "geo-replication: now minus the commit time last reported, while behind; 0 when caught up");
        georepReportAge =
                gauge("holdfast.georep.session.report.age", "seconds", "geo-replication: time since the last report");
        georepRpo = gauge("holdfast.georep.session.rpo", "seconds", "geo-replication: the session's RPO, 0 = none");
        Gauge.builder("holdfast.connections.open", connections, c -> c.get().open())
                .strongReference(true)
                .description("connections open on this node's Raft port")
                .register(registry);
        FunctionCounter.builder(
                        "holdfast.connections.refused",
                        connections,
                        c -> c.get().refusedConnections())
                .description("connections refused (limits, unusable certificates) since start")
                .register(registry);
        FunctionCounter.builder(
                        "holdfast.calls.refused", connections, c -> c.get().refusedCalls())
                .description("calls refused (limits, certificates, roles) since start")
                .register(registry);
    }

    private MultiGauge gauge(String name, String unit, String description) {
        MultiGauge.Builder b = MultiGauge.builder(name).description(description);
        if (unit != null) {
            b.baseUnit(unit);
        }
        return b.register(registry);
    }

    /** Every series, in Prometheus's text exposition format ({@link #CONTENT_TYPE}). */
    public String scrape() {
        return registry.scrape();
    }

    // ------------------------------------------------------------------ catch-up

    /**
     * Reports the progress of a snapshot this node's member of {@code group} is receiving. The
     * snapshot transfer calls it as bytes arrive; until {@link #snapshotFinished} the member
     * counts as installing a snapshot. Thread-safe, cheap (no allocation beyond the first call).
     *
     * @param bytesReceived bytes received so far, at least 0
     * @param bytesExpected the snapshot's total size, or -1 if not known
     * @throws IllegalArgumentException if {@code bytesReceived} is negative
     */
    public void snapshotProgress(UUID group, long bytesReceived, long bytesExpected) {
        if (bytesReceived < 0) {
            throw new IllegalArgumentException("bytesReceived must be >= 0, got " + bytesReceived);
        }
        snapshots
                .computeIfAbsent(Objects.requireNonNull(group, "group"), g -> new SnapshotProgress())
                .set(bytesReceived, bytesExpected);
    }

    /** Reports that the snapshot of {@code group} was installed (or abandoned). Thread-safe. */
    public void snapshotFinished(UUID group) {
        SnapshotProgress p = snapshots.get(group);
        if (p != null) {
            p.finish();
        }
    }

    /** The reported snapshot progress of {@code group}: (installing, received, expected). */
    SnapshotProgress.View snapshot(UUID group) {
        SnapshotProgress p = snapshots.get(group);
        return p == null ? SnapshotProgress.View.NONE : p.view();
    }

    /** A group's reported snapshot transfer; thread-safe. */
    static final class SnapshotProgress {
        /** One consistent reading. */
        record View(boolean installing, long received, long expected) {
            static final View NONE = new View(false, 0, -1);
        }

        private volatile View view = View.NONE;

        void set(long received, long expected) {
            view = new View(true, received, expected);
        }

        void finish() {
            view = View.NONE;
        }

        View view() {
            return view;
        }
    }

    // ------------------------------------------------------------------ scrubbing

    /**
     * Cumulative counters of a scrubber (the background checker that reads every block of a
     * brick and verifies its checksum), since it started. Every value only grows.
     *
     * @param bytesVerified bytes read and checked
     * @param blocksVerified blocks read and checked
     * @param corruptBlocks blocks whose checksum did not match
     * @param repairedBlocks corrupt blocks replaced with a good copy
     * @param passes complete passes over the brick
     */
    public record ScrubStats(
            long bytesVerified, long blocksVerified, long corruptBlocks, long repairedBlocks, long passes) {}

    /**
     * Exposes a scrubber's counters as {@code holdfast_scrub_verified_bytes_total},
     * {@code holdfast_scrub_verified_blocks_total}, {@code holdfast_scrub_corrupt_blocks_total},
     * {@code holdfast_scrub_repaired_blocks_total} and {@code holdfast_scrub_passes_total} for
     * {@code group}. Groups without a scrubber have no such series. {@code stats} is called on
     * every scrape (once per series), from the admin server's threads: it must be cheap and
     * thread-safe. Registering again for the same group replaces the previous scrubber.
     *
     * @return closing it removes the series (e.g. when the scrubber or the group stops)
     */
    public synchronized AutoCloseable registerScrubber(UUID group, Supplier<ScrubStats> stats) {
        Objects.requireNonNull(stats, "stats");
        Tags tags = volumeTags(Objects.requireNonNull(group, "group"));
        List<Meter> meters = new ArrayList<>();
        scrubCounter(
                meters,
                "holdfast.scrub.verified",
                "bytes",
                "bytes the scrubber read and verified",
                tags,
                stats,
                ScrubStats::bytesVerified);
        scrubCounter(
                meters,
                "holdfast.scrub.verified.blocks",
                null,
                "blocks the scrubber read and verified",
                tags,
                stats,
                ScrubStats::blocksVerified);
        scrubCounter(
                meters,
                "holdfast.scrub.corrupt.blocks",
                null,
                "blocks whose checksum did not match",
                tags,
                stats,
                ScrubStats::corruptBlocks);
        scrubCounter(
                meters,
                "holdfast.scrub.repaired.blocks",
                null,
                "corrupt blocks replaced with a good copy",
                tags,
                stats,
                ScrubStats::repairedBlocks);
        scrubCounter(
                meters,
                "holdfast.scrub.passes",
                null,
                "complete scrub passes over the brick",
                tags,
                stats,
                ScrubStats::passes);
        scrubMeters.put(group, meters); // the previous scrubber's meters were replaced above
        scrubSources.put(group, stats);
        return () -> {
            synchronized (this) {
                if (scrubMeters.get(group) == meters) { // identity: meters equal by id, a newer scrubber's too
                    scrubMeters.remove(group);
                    scrubSources.remove(group);
                    meters.forEach(registry::remove);
                }
            }
        };
    }

    private void scrubCounter(
            List<Meter> out,
            String name,
            String unit,
            String description,
            Tags tags,
            Supplier<ScrubStats> stats,
            ToDoubleFunction<ScrubStats> value) {
        // a new registration replaces the meter's function: remove any existing one first
        registry.find(name).tags(tags).meters().forEach(registry::remove);
        FunctionCounter.Builder<Supplier<ScrubStats>> b = FunctionCounter.builder(
                        name, stats, s -> value.applyAsDouble(s.get()))
                .description(description)
                .tags(tags);
        if (unit != null) {
            b.baseUnit(unit);
        }
        out.add(b.register(registry));
    }

    // ------------------------------------------------------------------ Raft state and liveness

    /**
     * Sets the geo-replication session gauges (tagged {@code session} and {@code volume}); series of
     * sessions that are gone disappear, unknown values have no series.
     */
    synchronized void updateGeorep(List<StatusReport.Georep> sessions) {
        List<MultiGauge.Row<?>> position = new ArrayList<>();
        List<MultiGauge.Row<?>> behind = new ArrayList<>();
        List<MultiGauge.Row<?>> lag = new ArrayList<>();
        List<MultiGauge.Row<?>> age = new ArrayList<>();
        List<MultiGauge.Row<?>> rpo = new ArrayList<>();
        for (StatusReport.Georep g : sessions) {
            Tags tags = Tags.of("session", g.name(), "volume", g.volume());
            position.add(MultiGauge.Row.of(tags, g.position()));
            rpo.add(MultiGauge.Row.of(tags, g.rpoSeconds()));
            if (g.entriesBehind() != null) {
                behind.add(MultiGauge.Row.of(tags, g.entriesBehind()));
            }
            if (g.lagSeconds() != null) {
                lag.add(MultiGauge.Row.of(tags, g.lagSeconds()));
            }
            if (g.reportAgeSeconds() != null) {
                age.add(MultiGauge.Row.of(tags, g.reportAgeSeconds()));
            }
        }
        georepPosition.register(position, true);
        georepBehind.register(behind, true);
        georepLag.register(lag, true);
        georepReportAge.register(age, true);
        georepRpo.register(rpo, true);
    }

    /**
     * Sets the Raft, catch-up and liveness gauges from a sample: series of groups and members
     * that are gone disappear, leader-only series exist only where this node leads.
     */
    synchronized void update(List<GroupSample> groups, List<Liveness.State> nodes) {
        List<MultiGauge.Row<?>> leaderRows = new ArrayList<>();
        List<MultiGauge.Row<?>> termRows = new ArrayList<>();
        List<MultiGauge.Row<?>> commitRows = new ArrayList<>();
        List<MultiGauge.Row<?>> appliedRows = new ArrayList<>();
        List<MultiGauge.Row<?>> matchRows = new ArrayList<>();
        List<MultiGauge.Row<?>> lagRows = new ArrayList<>();
        List<MultiGauge.Row<?>> lagSecondsRows = new ArrayList<>();
        List<MultiGauge.Row<?>> contactRows = new ArrayList<>();
        List<MultiGauge.Row<?>> installingRows = new ArrayList<>();
        List<MultiGauge.Row<?>> receivedRows = new ArrayList<>();
        List<MultiGauge.Row<?>> expectedRows = new ArrayList<>();
        List<MultiGauge.Row<?>> ratioRows = new ArrayList<>();
        for (GroupSample g : groups) {
            Tags tags = Tags.of("volume", g.name(), "group", g.groupId().toString());
            leaderRows.add(MultiGauge.Row.of(tags, g.isLeader() ? 1 : 0));
            termRows.add(MultiGauge.Row.of(tags, g.term()));
            g.commitIndexes()
                    .forEach((member, index) -> commitRows.add(MultiGauge.Row.of(tags.and("member", member), index)));
            appliedRows.add(MultiGauge.Row.of(tags.and("member", g.self()), g.appliedIndex()));
            g.followers().forEach((member, f) -> {
                Tags t = tags.and("member", member);
                matchRows.add(MultiGauge.Row.of(t, f.matchIndex()));
                lagRows.add(MultiGauge.Row.of(t, f.lagEntries()));
                lagSecondsRows.add(MultiGauge.Row.of(t, f.lagSeconds()));
                contactRows.add(MultiGauge.Row.of(t, f.lastContactSeconds()));
            });
            installingRows.add(MultiGauge.Row.of(tags, g.catchUp().snapshotInstalling() ? 1 : 0));
            receivedRows.add(MultiGauge.Row.of(tags, g.catchUp().bytesReceived()));
            if (g.catchUp().bytesExpected() >= 0) {
                expectedRows.add(MultiGauge.Row.of(tags, g.catchUp().bytesExpected()));
            }
            ratioRows.add(MultiGauge.Row.of(tags, g.catchUp().appliedFraction()));
        }
        leader.register(leaderRows, true);
        term.register(termRows, true);
        commitIndex.register(commitRows, true);
        appliedIndex.register(appliedRows, true);
        matchIndex.register(matchRows, true);
        lagEntries.register(lagRows, true);
        lagSeconds.register(lagSecondsRows, true);
        lastContact.register(contactRows, true);
        snapshotInstalling.register(installingRows, true);
        snapshotReceived.register(receivedRows, true);
        snapshotExpected.register(expectedRows, true);
        appliedRatio.register(ratioRows, true);

        List<MultiGauge.Row<?>> upRows = new ArrayList<>();
        List<MultiGauge.Row<?>> seenRows = new ArrayList<>();
        for (Liveness.State n : nodes) {
            Tags t = Tags.of("peer", n.address());
            upRows.add(MultiGauge.Row.of(t, n.up() ? 1 : 0));
            if (n.lastSeenSecondsAgo() != null) {
                seenRows.add(MultiGauge.Row.of(t, n.lastSeenSecondsAgo()));
            }
        }
        nodeUp.register(upRows, true);
        nodeLastSeen.register(seenRows, true);
    }

    // ------------------------------------------------------------------ operations

    /** The recorder for the volume served by {@code group} (created on first use). */
    public VolumeMeters volume(UUID group) {
        return volumes.computeIfAbsent(group, VolumeMeters::new);
    }

    private Tags volumeTags(UUID group) {
        return Tags.of("volume", volumeNames.apply(group).orElse(""), "group", group.toString());
    }

    /**
     * Records the operations of one volume's state machine. Meters are created on first use
     * per request type and cached. The volume's name is looked up until this node knows it
     * (after a restart a volume's log can be replayed before the cluster map has caught up);
     * series recorded before that, labelled {@code volume=""}, are then removed.
     *
     * <p>Thread-safe: apply runs on Ratis's state machine thread, queries on many threads.
     */
    public final class VolumeMeters {
        private final UUID group;
        private final Tags unnamed;
        private final Map<OpKey, Op> ops = new ConcurrentHashMap<>();
        private final Map<ErrorKey, Counter> errors = new ConcurrentHashMap<>();
        private volatile Tags named; // set once this node knows the volume's name
        private volatile boolean failureLogged;

        private record OpKey(Tags tags, String op) {}

        private record ErrorKey(Tags tags, String op, Errno errno) {}

        private VolumeMeters(UUID group) {
            this.group = group;
            this.unnamed = Tags.of("volume", "", "group", group.toString());
        }

        /**
         * Records an applied mutation: its type, time, bytes written, and an error outcome. Never
         * throws: a metrics failure must not stop a member from applying.
         */
        public void applied(Request.Mutation m, Response outcome, long nanos) {
            record(
                    "mutation",
                    m.getClass().getSimpleName(),
                    Request.Write.carriedBy(m) instanceof Request.Write w ? w.data().length : -1,
                    outcome,
                    nanos);
        }

        /**
         * Records a query: its type ({@link NodeMetrics#UNKNOWN_OP} if undecodable), time,
         * bytes returned by a read, and an error outcome. Never throws.
         */
        public void queried(String op, Response outcome, long nanos) {
            record("query", op, outcome instanceof Response.Data d ? d.bytes().length : -1, outcome, nanos);
        }

        /** Counts one operation of {@code kind}, its time, its bytes (if {@code bytes} ≥ 0) and an error outcome. */
        private void record(String kind, String op, long bytes, Response outcome, long nanos) {
            try {
                Op meters = op(kind, op);
                meters.count.increment();
                meters.latency.record(nanos, TimeUnit.NANOSECONDS);
                if (bytes >= 0) {
                    meters.bytes().increment(bytes);
                }
                if (outcome instanceof Response.Error e) {
                    error(op, e.errno());
                }
            } catch (RuntimeException e) {
                failed(e);
            }
        }

        /**
         * Reports the bytes fetched so far by a catch-up from a snapshot manifest (as
         * {@link NodeMetrics#snapshotProgress} for this group). Never throws.
         *
         * @param expected at most this many bytes will be fetched (the snapshot stream's size)
         */
        public void catchUpProgress(long fetched, long expected) {
            try {
                snapshotProgress(group, Math.max(0, fetched), expected);
            } catch (RuntimeException e) {
                failed(e);
            }
        }

        /** Reports that a catch-up from a snapshot manifest ended (as {@link NodeMetrics#snapshotFinished}). */
        public void catchUpFinished() {
            try {
                snapshotFinished(group);
            } catch (RuntimeException e) {
                failed(e);
            }
        }

        /**
         * Counts what a catch-up from a snapshot manifest fetched from another member and reused
         * from this member's own data files ({@code holdfast_catchup_fetched_bytes_total},
         * {@code holdfast_catchup_reused_bytes_total}). Never throws.
         */
        public void catchUpAssembled(long fetchedBytes, long reusedBytes) {
            try {
                Tags tags = tags();
                Counter.builder("holdfast.catchup.fetched")
                        .baseUnit("bytes")
                        .description("snapshot bytes fetched from another member by manifest catch-ups")
                        .tags(tags)
                        .register(registry)
                        .increment(fetchedBytes);
                Counter.builder("holdfast.catchup.reused")
                        .baseUnit("bytes")
                        .description("snapshot bytes a manifest catch-up copied from this member's own data files")
                        .tags(tags)
                        .register(registry)
                        .increment(reusedBytes);
            } catch (RuntimeException e) {
                failed(e);
            }
        }

        /** Records a proposal the leader refused before logging it. Never throws. */
        public void refused(String op, Errno errno) {
            try {
                error(op, errno);
            } catch (RuntimeException e) {
                failed(e);
            }
        }

        private void failed(RuntimeException e) {
            if (!failureLogged) {
                failureLogged = true;
                LOG.warn("group {}: recording metrics failed (reported once): {}", group, e.toString());
            }
        }

        private void error(String op, Errno errno) {
            Tags tags = tags();
            errors.computeIfAbsent(
                            new ErrorKey(tags, op, errno),
                            k -> Counter.builder("holdfast.errors")
                                    .description("outcomes that were errors, by request type and errno")
                                    .tags(tags)
                                    .tags("op", op, "errno", errno.name())
                                    .register(registry))
                    .increment();
        }

        private Op op(String kind, String op) {
            Tags tags = tags();
            return ops.computeIfAbsent(new OpKey(tags, op), k -> new Op(kind, op, tags));
        }

        /** This volume's tags; on learning its name, drops the series recorded without it. */
        private Tags tags() {
            Tags t = named;
            if (t != null) {
                return t;
            }
            Optional<String> name = volumeNames.apply(group);
            if (name.isEmpty()) {
                return unnamed;
            }
            synchronized (this) {
                if (named == null) {
                    named = Tags.of("volume", name.get(), "group", group.toString());
                    for (String meter : List.of(
                            "holdfast.ops", "holdfast.bytes", "holdfast.apply", "holdfast.query", "holdfast.errors")) {
                        registry.find(meter).tags(unnamed).meters().forEach(registry::remove);
                    }
                    ops.keySet().removeIf(k -> k.tags().equals(unnamed));
                    errors.keySet().removeIf(k -> k.tags().equals(unnamed));
                }
                return named;
            }
        }

        /** The meters of one request type. */
        private final class Op {
            final Tags tags;
            final Counter count;
            final Timer latency;
            private final String op;
            private volatile Counter bytes;

            Op(String kind, String op, Tags volumeTags) {
                this.tags = volumeTags;
                this.op = op;
                this.count = Counter.builder("holdfast.ops")
                        .description("operations by type: mutations applied, queries answered")
                        .tags(volumeTags)
                        .tags("kind", kind, "op", op)
                        .register(registry);
                this.latency = Timer.builder(kind.equals("mutation") ? "holdfast.apply" : "holdfast.query")
                        .description(
                                kind.equals("mutation")
                                        ? "time to apply one mutation to the brick"
                                        : "time to answer one query")
                        .tags(volumeTags)
                        .tags("op", op)
                        .publishPercentileHistogram()
                        .minimumExpectedValue(Duration.ofNanos(1_000))
                        .maximumExpectedValue(Duration.ofSeconds(10))
                        .register(registry);
            }

            Counter bytes() {
                Counter c = bytes;
                if (c == null) {
                    c = Counter.builder("holdfast.bytes")
                            .baseUnit("bytes")
                            .description("bytes written by Write mutations and returned by Read queries")
                            .tags(tags)
                            .tags("op", op)
                            .register(registry);
                    bytes = c;
                }
                return c;
            }
        }
    }
}
