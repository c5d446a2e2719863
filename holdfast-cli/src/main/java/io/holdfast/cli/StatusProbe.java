package io.holdfast.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.MemberProbe;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Placement;
import io.holdfast.protocol.Response;
import io.holdfast.server.LogFormatGuard;
import io.holdfast.server.admin.Health;
import io.holdfast.server.admin.StatusReport;
import io.holdfast.transport.ClusterIds;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Builds the {@link StatusReport} that {@code holdfast cluster status} and {@code holdfast
 * volume info} print, from a client's point of view: it asks every node whether it answers
 * (Raft admin group list) and every member of every group for its own state (Raft admin group
 * info: role, commit and applied index; the leader adds its term and each follower's last
 * contact), and every volume member for its state digest.
 *
 * <p>Lag here is the leader's commit index minus the member's own applied index (entries it
 * has yet to apply). Lag in seconds needs the leader's sampled history and is only on the
 * leader's status page and metrics; the CLI leaves it empty.
 */
final class StatusProbe {
    private StatusProbe() {}

    /**
     * A report and the digests it was made with.
     *
     * @param digests volume name → member address → its digest, or the error it answered
     */
    record Result(StatusReport report, Map<String, Map<String, Response>> digests) {}

    /** The whole cluster: nodes, volumes, the cluster group and every volume's group. */
    static Result report(HoldfastClient client, ClusterMap map) throws HoldfastException {
        Map<String, String> probes = client.probe().probeNodes(map.nodes());
        List<String> clusterGroup = map.clusterGroup();
        List<StatusReport.Node> nodes = new ArrayList<>();
        for (String n : map.nodes()) {
            nodes.add(new StatusReport.Node(n, probes.get(n) == null, null, clusterGroup.contains(n), false)
                    .advertised(map));
        }
        List<StatusReport.Volume> volumes = new ArrayList<>();
        List<StatusReport.Group> groups = new ArrayList<>();
        Map<String, Map<String, Response>> digests = new LinkedHashMap<>();
        groups.add(group(client, StatusReport.Group.CLUSTER, ClusterIds.CLUSTER_GROUP.getUuid(), clusterGroup, null));
        for (ClusterMap.Volume v : map.volumes().values()) {
            volumes.add(new StatusReport.Volume(v.name(), Placement.onlyGroup(v).toString(), v.replicas()));
            digests.put(v.name(), client.probe().memberDigests(v.name()));
            groups.add(group(client, v.name(), Placement.onlyGroup(v), v.replicas(), digests.get(v.name())));
        }
        List<StatusReport.Halted> halted = new ArrayList<>();
        digests.forEach((volume, byMember) -> byMember.forEach((member, answer) -> {
            if (answer instanceof Response.Error e && e.message().startsWith(LogFormatGuard.HALTED)) {
                halted.add(
                        new StatusReport.Halted(volume, member, e.message().substring(LogFormatGuard.HALTED.length())));
            }
        }));
        return new Result(
                new StatusReport(
                        map.clusterId().toString(),
                        "client " + client.welcome().peer(),
                        Instant.now().truncatedTo(ChronoUnit.MILLIS).toString(),
                        nodes,
                        volumes,
                        groups,
                        null,
                        map.featureLevel(),
                        halted),
                digests);
    }

    /**
     * One group as its members tell it.
     *
     * @param digests member → digest (or error), or null not to show digests
     */
    static StatusReport.Group group(
            HoldfastClient client, String name, UUID groupId, List<String> members, Map<String, Response> digests) {
        Map<String, MemberProbe.MemberInfo> infos = client.probe().groupInfo(groupId, members);
        MemberProbe.MemberInfo leader = infos.values().stream()
                .filter(i -> "leader".equals(i.role()))
                .findFirst()
                .orElse(null);
        String leaderAddress = leader != null
                ? leader.address()
                : infos.values().stream()
                        .filter(MemberProbe.MemberInfo::answered)
                        .map(MemberProbe.MemberInfo::leader)
                        .filter(l -> l != null)
                        .findFirst()
                        .orElse(null);
        List<StatusReport.Member> rows = new ArrayList<>();
        for (String a : members) {
            MemberProbe.MemberInfo i = infos.get(a);
            Long contactMillis =
                    leader == null ? null : leader.lastContactMillis().get(a);
            Double contact = contactMillis == null ? null : contactMillis / 1000.0;
            StatusReport.Member m;
            if (i != null && i.answered()) {
                Long lag = leader == null ? null : Math.max(0, leader.commitIndex() - i.appliedIndex());
                m = new StatusReport.Member(
                        a, i.role(), true, i.commitIndex(), i.appliedIndex(), null, lag, null, contact, null);
            } else {
                // down: what the leader last heard of its commit index
                Long commit = leader == null ? null : leader.commitIndexes().get(a);
                m = new StatusReport.Member(a, "-", false, commit, null, null, null, null, contact, null);
            }
            if (digests != null && digests.get(a) instanceof Response.Digest d) {
                m = m.withDigest(d.hex());
            }
            rows.add(m);
        }
        Health.Assessment h = Health.assess(rows, leaderAddress);
        return new StatusReport.Group(
                name,
                groupId.toString(),
                leaderAddress,
                leader == null ? null : leader.term(),
                leader != null,
                h.health(),
                h.reason(),
                rows,
                null);
    }
}
