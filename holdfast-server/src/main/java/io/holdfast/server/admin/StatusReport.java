package io.holdfast.server.admin;

import io.holdfast.protocol.ClusterMap;
import java.util.List;
import java.util.Objects;

/**
 * What one observer knows of the cluster: nodes, volumes, Raft groups with their members,
 * and health. The status page ({@code GET /}), {@code GET /status.json} and
 * {@code holdfast cluster status} (table and {@code --json}) all show this one model.
 *
 * <p>A value that the observer cannot know is {@code null}, never a guess: a node that does
 * not lead a group knows neither its followers' match indexes nor their lag (only the leader
 * does; {@link Group#leaderView()} says whether this report has the leader's view), and only
 * a member itself knows its applied index.
 *
 * @param cluster the cluster id
 * @param reporter who made the report, e.g. {@code "node 127.0.0.1:7001"}
 * @param generatedAt when, ISO-8601 UTC
 * @param nodes every node the reporter knows, in configuration order
 * @param volumes every volume in the reporter's cluster map (empty on a node that holds no map)
 * @param groups the Raft groups the reporter reports on
 * @param connections the reporting node's connection counters, or null if not a node
 * @param featureLevel the cluster's feature level: the newest log format every node of the
 *     reporter's map supports ({@link io.holdfast.protocol.ClusterMap#featureLevel()}); null
 *     if the reporter knows no map
 * @param halted members that stopped applying at a log entry they cannot decode, as the
 *     reporter knows them (a node reports its own; the CLI asks every member)
 * @param georep the geo-replication sessions of the reporter's cluster map (without their
 *     targets, which name paths at the disaster-recovery site), as {@link Georep}; empty on a
 *     node that holds no map or when absent from a report (an older node's JSON)
 */
public record StatusReport(
        String cluster,
        String reporter,
        String generatedAt,
        List<Node> nodes,
        List<Volume> volumes,
        List<Group> groups,
        Connections connections,
        Integer featureLevel,
        List<Halted> halted,
        List<Georep> georep) {

    /** A report without geo-replication sessions. */
    public StatusReport(
            String cluster,
            String reporter,
            String generatedAt,
            List<Node> nodes,
            List<Volume> volumes,
            List<Group> groups,
            Connections connections,
            Integer featureLevel,
            List<Halted> halted) {
        this(cluster, reporter, generatedAt, nodes, volumes, groups, connections, featureLevel, halted, List.of());
    }

    /**
     * A geo-replication session as the cluster map holds it ({@code ClusterMap.GeorepSession}),
     * with what its worker last reported.
     *
     * @param name the session
     * @param volume the replicated volume
     * @param position the feed index the worker last reported as applied at its target (0 = none)
     * @param entriesBehind the volume's applied index on the reporting node minus the position, or
     *     null if the reporting node is not a member of the volume's group
     * @param lagSeconds seconds since the commit time of the last change the worker applied while
     *     the volume is ahead of it (0 when caught up), or null where entries behind are unknown
     * @param rpoSeconds the session's recovery point objective, 0 = none
     * @param reportAgeSeconds seconds since the last report was applied, or null if none yet
     * @param state {@code no report} (none yet), {@code above RPO}, {@code silent} (no report for
     *     over {@value #SILENT_SECONDS} s while behind: the worker may be down), or {@code ok}
     */
    public record Georep(
            String name,
            String volume,
            long position,
            Long entriesBehind,
            Double lagSeconds,
            double rpoSeconds,
            Double reportAgeSeconds,
            String state) {
        /** A worker reports at least once a minute while it runs: this much longer without one is silence. */
        public static final int SILENT_SECONDS = 120;
    }

    /** A report without feature level or halts. */
    public StatusReport(
            String cluster,
            String reporter,
            String generatedAt,
            List<Node> nodes,
            List<Volume> volumes,
            List<Group> groups,
            Connections connections) {
        this(cluster, reporter, generatedAt, nodes, volumes, groups, connections, null, List.of(), List.of());
    }

    /**
     * A member halted at an entry its code cannot decode.
     *
     * @param group the group's name (volume name, or {@value Group#CLUSTER})
     * @param member the member's node address
     * @param reason what it needs, for people
     */
    public record Halted(String group, String member, String reason) {}

    public StatusReport {
        Objects.requireNonNull(cluster, "cluster");
        Objects.requireNonNull(reporter, "reporter");
        Objects.requireNonNull(generatedAt, "generatedAt");
        nodes = List.copyOf(nodes);
        volumes = List.copyOf(volumes);
        groups = List.copyOf(groups);
        halted = halted == null ? List.of() : List.copyOf(halted);
        georep = georep == null ? List.of() : List.copyOf(georep);
    }

    /**
     * A node and whether it answers.
     *
     * @param address its {@code host:port}
     * @param up whether it answered the latest probe (a node is always up to itself)
     * @param lastSeenSecondsAgo seconds since it last answered; null if the reporter has not
     *     seen it answer (since the reporting node started; the CLI does not track it)
     * @param clusterGroup whether it is one of the first three nodes, which hold the cluster map
     * @param self whether it is the reporting node
     * @param version the software version it advertised, or null if it has not
     * @param logFormats the log formats it advertised ({@code "1..2"}), or null if it has not
     */
    public record Node(
            String address,
            boolean up,
            Double lastSeenSecondsAgo,
            boolean clusterGroup,
            boolean self,
            String version,
            String logFormats) {
        /** A node whose advertisement is not known. */
        public Node(String address, boolean up, Double lastSeenSecondsAgo, boolean clusterGroup, boolean self) {
            this(address, up, lastSeenSecondsAgo, clusterGroup, self, null, null);
        }

        /** This node with what it advertised in {@code map}, if it did. */
        public Node advertised(ClusterMap map) {
            if (map == null || !map.nodeInfo().containsKey(address)) {
                return this;
            }
            ClusterMap.NodeInfo i = map.infoOf(address);
            return new Node(address, up, lastSeenSecondsAgo, clusterGroup, self, i.version(), i.logFormats());
        }
    }

    /**
     * A volume of the cluster map.
     *
     * @param name the volume's name
     * @param groupId its replica group's id
     * @param replicas the nodes that hold a replica
     */
    public record Volume(String name, String groupId, List<String> replicas) {
        public Volume {
            replicas = List.copyOf(replicas);
        }
    }

    /**
     * A Raft group: the cluster group or a volume's replica group.
     *
     * @param name the volume's name, {@value #CLUSTER} for the cluster group, or empty if the
     *     reporter does not know the volume's name (a node without the cluster map)
     * @param groupId the group's id
     * @param leader the leader's address, or null if none is known
     * @param term the latest term the reporter knows, or null
     * @param leaderView whether the leader-only values (match index, lag) come from the leader
     * @param health the verdict of {@link Health#assess}
     * @param healthReason why, for people (empty when healthy)
     * @param members every member, in configuration order
     * @param catchUp the reporting node's own catch-up progress in this group, or null
     */
    public record Group(
            String name,
            String groupId,
            String leader,
            Long term,
            boolean leaderView,
            Health health,
            String healthReason,
            List<Member> members,
            CatchUp catchUp) {
        /** {@link #name()} of the cluster group. */
        public static final String CLUSTER = "(cluster)";

        public Group {
            members = List.copyOf(members);
        }
    }

    /**
     * One member of a group, as the reporter knows it.
     *
     * @param address the member's node address
     * @param role {@code leader}, {@code follower}, {@code candidate}, {@code listener}, or
     *     {@code -} if unknown (a member that did not answer the CLI)
     * @param up whether the member's node answers
     * @param commitIndex the highest log index the member has committed, as known to the
     *     reporter (reported by the member itself, or relayed by the leader); null if unknown
     * @param appliedIndex the highest index the member applied to its state machine; known only
     *     to the member itself (null elsewhere)
     * @param matchIndex the highest index the leader knows the member holds (leader only)
     * @param lagEntries how many committed entries the member lacks: the leader's commit index
     *     minus the member's match index (or, in {@code holdfast cluster status}, minus its
     *     applied index); null if unknown
     * @param lagSeconds how long ago the oldest committed entry the member lacks was committed,
     *     at the leader's sampling resolution (1 s); 0 when it lacks none; null if unknown
     * @param lastContactSeconds seconds since the leader last heard from the member (leader only)
     * @param digest the member's state digest, hex, if the reporter asked for it (the CLI does;
     *     the status page does not, as it reads the whole brick)
     */
    public record Member(
            String address,
            String role,
            boolean up,
            Long commitIndex,
            Long appliedIndex,
            Long matchIndex,
            Long lagEntries,
            Double lagSeconds,
            Double lastContactSeconds,
            String digest) {
        /** This member with a digest. */
        public Member withDigest(String hex) {
            return new Member(
                    address,
                    role,
                    up,
                    commitIndex,
                    appliedIndex,
                    matchIndex,
                    lagEntries,
                    lagSeconds,
                    lastContactSeconds,
                    hex);
        }
    }

    /**
     * How far the reporting node's member of a group has caught up.
     *
     * @param snapshotInstalling whether a snapshot from the leader is being received or loaded
     * @param snapshotBytesReceived bytes of that snapshot received so far (0 when none)
     * @param snapshotBytesExpected its total size, or null if not known
     * @param appliedFraction this member's applied index divided by the leader's commit index,
     *     0–1 (1 when caught up or when nothing was committed)
     */
    public record CatchUp(
            boolean snapshotInstalling,
            long snapshotBytesReceived,
            Long snapshotBytesExpected,
            double appliedFraction) {}

    /**
     * Connection counters of the reporting node's Raft port.
     *
     * @param open connections open now
     * @param refusedConnections connections refused since start
     * @param refusedCalls calls refused since start
     */
    public record Connections(int open, long refusedConnections, long refusedCalls) {}

    /** The worst health of all groups; {@link Health#HEALTHY} when there are none. */
    public Health worstHealth() {
        Health h = Health.HEALTHY;
        for (Group g : groups) {
            h = h.worst(g.health());
        }
        return h;
    }
}
