package io.holdfast.server.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Series names, labels and values as Prometheus sees them. */
class NodeMetricsTest {
    private static final String NODE = "127.0.0.1:7001";
    private final UUID group = UUID.fromString("00000000-0000-0000-0000-0000000000aa");
    private final Map<UUID, String> names = new ConcurrentHashMap<>();
    private final NodeMetrics metrics =
            new NodeMetrics(NODE, g -> Optional.ofNullable(names.get(g)), () -> new StatusReport.Connections(4, 1, 2));

    /** The values of the series named {@code name} whose labels include every {@code label="value"} given. */
    static List<Double> values(String scrape, String name, String... labels) {
        List<Double> found = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{([^}]*)\\} (\\S+)$")
                .matcher(scrape);
        while (m.find()) {
            boolean all = true;
            for (String l : labels) {
                all &= m.group(1).contains(l);
            }
            if (all) {
                found.add(Double.parseDouble(m.group(2)));
            }
        }
        return found;
    }

    /** The value of the one series named {@code name} whose labels include every {@code label="value"} given. */
    static double value(String scrape, String name, String... labels) {
        List<Double> found = values(scrape, name, labels);
        assertThat(found)
                .as("series %s%s in%n%s", name, List.of(labels), scrape)
                .isNotEmpty();
        assertThat(found)
                .as("more than one series %s%s in%n%s", name, List.of(labels), scrape)
                .hasSize(1);
        return found.getFirst();
    }

    static boolean has(String scrape, String name, String... labels) {
        return !values(scrape, name, labels).isEmpty();
    }

    private static Request.Write write(int bytes) {
        return new Request.Write(Caller.ROOT, 7, 0, new byte[bytes], 0);
    }

    @Test
    void gaugesOfSuppliersHeldNowhereElseStillReadAfterAGarbageCollection() {
        // as HoldfastNode registers them: method references made for the call and kept only by the gauge
        metrics.registerLogFormats(2, () -> Map.of(group, "halted here"));
        metrics.registerLeases(() -> 3, () -> 5);
        names.put(group, "mail");
        metrics.registerScrubber(group, () -> new NodeMetrics.ScrubStats(4096, 2, 0, 0, 1));
        for (int i = 0; i < 3; i++) {
            System.gc(); // a weakly held supplier is gone after this, and its gauge reads NaN
        }
        String scrape = metrics.scrape();
        assertThat(value(scrape, "holdfast_members_halted")).isEqualTo(1.0);
        assertThat(value(scrape, "holdfast_lease_sessions")).isEqualTo(3.0);
        assertThat(value(scrape, "holdfast_lease_revocations")).isEqualTo(5.0);
        assertThat(value(scrape, "holdfast_connections_open")).isEqualTo(4.0);
        assertThat(value(scrape, "holdfast_connections_refused_total")).isEqualTo(1.0);
        assertThat(value(scrape, "holdfast_scrub_passes_total", "volume=\"mail\""))
                .isEqualTo(1.0);
    }

    @Test
    void operationsBytesLatencyAndErrorsByType() {
        names.put(group, "mail");
        NodeMetrics.VolumeMeters v = metrics.volume(group);
        v.applied(write(100), new Response.Ok(), 2_000_000);
        v.applied(write(50), new Response.Ok(), 3_000_000);
        v.applied(new Request.Mkdir(Caller.ROOT, "/d", 0755), new Response.Error(Errno.EEXIST, "exists"), 1_000_000);
        v.queried("Read", new Response.Data(new byte[4096], 0), 500_000);
        v.queried("GetAttr", new Response.Error(Errno.ENOENT, "no"), 100_000);
        v.refused(NodeMetrics.UNKNOWN_OP, Errno.EACCES);

        String s = metrics.scrape();
        String vol = "volume=\"mail\"";
        String grp = "group=\"" + group + "\"";
        assertThat(value(
                        s,
                        "holdfast_ops_total",
                        vol,
                        grp,
                        "kind=\"mutation\"",
                        "op=\"Write\"",
                        "node=\"" + NODE + "\""))
                .isEqualTo(2);
        assertThat(value(s, "holdfast_ops_total", vol, "kind=\"mutation\"", "op=\"Mkdir\""))
                .isEqualTo(1);
        assertThat(value(s, "holdfast_ops_total", vol, "kind=\"query\"", "op=\"Read\""))
                .isEqualTo(1);
        assertThat(value(s, "holdfast_bytes_total", vol, "op=\"Write\"")).isEqualTo(150);
        assertThat(value(s, "holdfast_bytes_total", vol, "op=\"Read\"")).isEqualTo(4096);
        assertThat(value(s, "holdfast_errors_total", vol, "op=\"Mkdir\"", "errno=\"EEXIST\""))
                .isEqualTo(1);
        assertThat(value(s, "holdfast_errors_total", vol, "op=\"GetAttr\"", "errno=\"ENOENT\""))
                .isEqualTo(1);
        assertThat(value(s, "holdfast_errors_total", vol, "op=\"unknown\"", "errno=\"EACCES\""))
                .isEqualTo(1);
        // latency: histograms in seconds with buckets, for percentiles
        assertThat(value(s, "holdfast_apply_seconds_count", vol, "op=\"Write\""))
                .isEqualTo(2);
        assertThat(value(s, "holdfast_apply_seconds_sum", vol, "op=\"Write\"")).isEqualTo(0.005);
        assertThat(value(s, "holdfast_apply_seconds_bucket", vol, "op=\"Write\"", "le=\"+Inf\""))
                .isEqualTo(2);
        assertThat(s).containsPattern("holdfast_apply_seconds_bucket\\{[^}]*le=\"0\\.00[0-9]+\"");
        assertThat(value(s, "holdfast_query_seconds_count", vol, "op=\"Read\"")).isEqualTo(1);
        // help and type lines, as Prometheus expects
        assertThat(s)
                .contains(
                        "# TYPE holdfast_ops_total counter",
                        "# TYPE holdfast_apply_seconds histogram",
                        "# HELP holdfast_bytes_total ");
        // connection counters of the Raft port
        assertThat(value(s, "holdfast_connections_open")).isEqualTo(4);
        assertThat(value(s, "holdfast_connections_refused_total")).isEqualTo(1);
        assertThat(value(s, "holdfast_calls_refused_total")).isEqualTo(2);
    }

    @Test
    void seriesRecordedBeforeTheVolumeNameIsKnownAreReplacedOnceItIs() {
        NodeMetrics.VolumeMeters v = metrics.volume(group);
        v.applied(write(10), new Response.Ok(), 1000);
        assertThat(value(metrics.scrape(), "holdfast_ops_total", "volume=\"\"", "op=\"Write\""))
                .isEqualTo(1);
        names.put(group, "late");
        v.applied(write(10), new Response.Ok(), 1000);
        String s = metrics.scrape();
        assertThat(has(s, "holdfast_ops_total", "volume=\"\"")).isFalse();
        assertThat(has(s, "holdfast_bytes_total", "volume=\"\"")).isFalse();
        assertThat(value(s, "holdfast_ops_total", "volume=\"late\"", "op=\"Write\""))
                .isEqualTo(1);
    }

    private GroupSample sample(
            String role, String leader, Map<String, GroupSample.Follower> followers, GroupSample.CatchUp catchUp) {
        return new GroupSample(
                group,
                "mail",
                NODE,
                role,
                3,
                leader,
                List.of(NODE, "127.0.0.1:7002", "127.0.0.1:7003"),
                118,
                Map.of(NODE, 120L, "127.0.0.1:7002", 119L),
                followers,
                catchUp);
    }

    @Test
    void raftGaugesFollowTheSamplesAndLeaderOnlySeriesLeaveWithLeadership() {
        GroupSample.CatchUp none = new GroupSample.CatchUp(false, 0, -1, 1.0);
        metrics.update(
                List.of(sample(
                        "leader",
                        NODE,
                        Map.of(
                                "127.0.0.1:7002",
                                new GroupSample.Follower(119, 1, 0.0, 0.2),
                                "127.0.0.1:7003",
                                new GroupSample.Follower(20, 100, 12.5, 14.0)),
                        none)),
                List.of(new Liveness.State(NODE, true, 0.0), new Liveness.State("127.0.0.1:7003", false, 14.2)));
        String s = metrics.scrape();
        String vol = "volume=\"mail\"";
        assertThat(value(s, "holdfast_raft_leader", vol)).isEqualTo(1);
        assertThat(value(s, "holdfast_raft_term", vol)).isEqualTo(3);
        assertThat(value(s, "holdfast_raft_commit_index", vol, "member=\"" + NODE + "\""))
                .isEqualTo(120);
        assertThat(value(s, "holdfast_raft_commit_index", vol, "member=\"127.0.0.1:7002\""))
                .isEqualTo(119);
        assertThat(value(s, "holdfast_raft_applied_index", vol, "member=\"" + NODE + "\""))
                .isEqualTo(118);
        assertThat(value(s, "holdfast_raft_match_index", vol, "member=\"127.0.0.1:7003\""))
                .isEqualTo(20);
        assertThat(value(s, "holdfast_raft_lag_entries", vol, "member=\"127.0.0.1:7003\""))
                .isEqualTo(100);
        assertThat(value(s, "holdfast_raft_lag_seconds", vol, "member=\"127.0.0.1:7003\""))
                .isEqualTo(12.5);
        assertThat(value(s, "holdfast_raft_last_contact_seconds", vol, "member=\"127.0.0.1:7003\""))
                .isEqualTo(14.0);
        assertThat(value(s, "holdfast_catchup_applied_ratio", vol)).isEqualTo(1.0);
        assertThat(value(s, "holdfast_catchup_snapshot_installing", vol)).isEqualTo(0);
        assertThat(value(s, "holdfast_node_up", "peer=\"127.0.0.1:7003\"")).isEqualTo(0);
        assertThat(value(s, "holdfast_node_last_seen_seconds", "peer=\"127.0.0.1:7003\""))
                .isEqualTo(14.2);

        // leadership moves away: the leader-only series go, the others stay with new values
        metrics.update(
                List.of(sample("follower", "127.0.0.1:7002", Map.of(), new GroupSample.CatchUp(true, 4096, 8192, 0.5))),
                List.of());
        s = metrics.scrape();
        assertThat(value(s, "holdfast_raft_leader", vol)).isEqualTo(0);
        assertThat(has(s, "holdfast_raft_match_index")).isFalse();
        assertThat(has(s, "holdfast_raft_lag_entries")).isFalse();
        assertThat(has(s, "holdfast_raft_lag_seconds")).isFalse();
        assertThat(has(s, "holdfast_node_up")).isFalse();
        assertThat(value(s, "holdfast_catchup_snapshot_installing", vol)).isEqualTo(1);
        assertThat(value(s, "holdfast_catchup_snapshot_received_bytes", vol)).isEqualTo(4096);
        assertThat(value(s, "holdfast_catchup_snapshot_expected_bytes", vol)).isEqualTo(8192);
        assertThat(value(s, "holdfast_catchup_applied_ratio", vol)).isEqualTo(0.5);

        // the group goes: all its series go
        metrics.update(List.of(), List.of());
        assertThat(has(metrics.scrape(), "holdfast_raft_leader")).isFalse();
    }

    @Test
    void snapshotProgressIsReportedUntilFinished() {
        assertThat(metrics.snapshot(group).installing()).isFalse();
        metrics.snapshotProgress(group, 1000, -1);
        assertThat(metrics.snapshot(group)).isEqualTo(new NodeMetrics.SnapshotProgress.View(true, 1000, -1));
        metrics.snapshotProgress(group, 5000, 9000);
        assertThat(metrics.snapshot(group)).isEqualTo(new NodeMetrics.SnapshotProgress.View(true, 5000, 9000));
        metrics.snapshotFinished(group);
        assertThat(metrics.snapshot(group).installing()).isFalse();
        assertThatThrownBy(() -> metrics.snapshotProgress(group, -1, -1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void scrubSeriesExistOnlyWhileAScrubberIsRegistered() throws Exception {
        names.put(group, "mail");
        assertThat(metrics.scrape()).doesNotContain("holdfast_scrub");
        AtomicLong corrupt = new AtomicLong();
        AutoCloseable registration =
                metrics.registerScrubber(group, () -> new NodeMetrics.ScrubStats(1 << 20, 16, corrupt.get(), 0, 1));
        corrupt.set(2);
        String s = metrics.scrape();
        assertThat(value(s, "holdfast_scrub_verified_bytes_total", "volume=\"mail\""))
                .isEqualTo(1 << 20);
        assertThat(value(s, "holdfast_scrub_verified_blocks_total", "volume=\"mail\""))
                .isEqualTo(16);
        assertThat(value(s, "holdfast_scrub_corrupt_blocks_total", "volume=\"mail\""))
                .isEqualTo(2);
        assertThat(value(s, "holdfast_scrub_repaired_blocks_total", "volume=\"mail\""))
                .isEqualTo(0);
        assertThat(value(s, "holdfast_scrub_passes_total", "volume=\"mail\"")).isEqualTo(1);
        // a new scrubber for the same group replaces the old one's values
        AutoCloseable second = metrics.registerScrubber(group, () -> new NodeMetrics.ScrubStats(7, 1, 0, 0, 0));
        assertThat(value(metrics.scrape(), "holdfast_scrub_verified_bytes_total", "volume=\"mail\""))
                .isEqualTo(7);
        registration.close(); // stale handle: no effect on the newer registration
        assertThat(value(metrics.scrape(), "holdfast_scrub_verified_bytes_total", "volume=\"mail\""))
                .isEqualTo(7);
        second.close();
        assertThat(metrics.scrape()).doesNotContain("holdfast_scrub");
    }

    @Test
    void georepSessionsOfTheMapAreSeriesWithTheirLagAgainstTheVolumesAppliedIndex() {
        long now = 1_800_000_000_000_000_000L;
        ClusterMap map = new ClusterMap(
                        1,
                        new UUID(1, 2),
                        List.of(NODE),
                        Map.of("mail", new ClusterMap.Volume("mail", group, List.of(NODE), 1)))
                .withGeorepSession(new ClusterMap.GeorepSession("dr", "mail", "/srv/dr", 30_000, 1, 0, 0, 0)
                        .reported(100, now - 5_000_000_000L, now - 2_000_000_000L))
                .withGeorepSession(new ClusterMap.GeorepSession("far", "other", "/x", 1_000, 1, 0, 0, 0)
                        .reported(7, now - 9_000_000_000L, now - 1_000_000_000L))
                .withGeorepSession(new ClusterMap.GeorepSession("new", "mail", "/y", 0, 1, 0, 0, 0));
        GroupSample.CatchUp none = new GroupSample.CatchUp(false, 0, -1, 1.0);
        List<StatusReport.Georep> rows = NodeObserver.georep(map, List.of(sample("leader", NODE, Map.of(), none)), now);
        assertThat(rows)
                .extracting(StatusReport.Georep::name, StatusReport.Georep::state)
                .containsExactly(tuple("dr", "ok"), tuple("far", "ok"), tuple("new", "no report"));
        StatusReport.Georep dr = rows.getFirst();
        assertThat(dr.entriesBehind()).isEqualTo(18); // applied 118
        assertThat(dr.lagSeconds()).isEqualTo(5.0);
        assertThat(dr.reportAgeSeconds()).isEqualTo(2.0);
        assertThat(rows.get(1).entriesBehind())
                .as("not a member of that volume's group here")
                .isNull();
        // 31 s later without a report: above its 30 s RPO
        assertThat(NodeObserver.georep(map, List.of(sample("leader", NODE, Map.of(), none)), now + 26_000_000_000L)
                        .getFirst()
                        .state())
                .isEqualTo("above RPO");

        metrics.updateGeorep(rows);
        String s = metrics.scrape();
        assertThat(value(s, "holdfast_georep_session_position", "session=\"dr\"", "volume=\"mail\""))
                .isEqualTo(100);
        assertThat(value(s, "holdfast_georep_session_entries_behind", "session=\"dr\""))
                .isEqualTo(18);
        assertThat(value(s, "holdfast_georep_session_lag_seconds", "session=\"dr\""))
                .isEqualTo(5);
        assertThat(value(s, "holdfast_georep_session_rpo_seconds", "session=\"dr\""))
                .isEqualTo(30);
        assertThat(has(s, "holdfast_georep_session_entries_behind", "session=\"far\""))
                .isFalse();
        assertThat(has(s, "holdfast_georep_session_report_age_seconds", "session=\"new\""))
                .isFalse();
        metrics.updateGeorep(List.of());
        assertThat(has(metrics.scrape(), "holdfast_georep_session_position", "session=\"dr\""))
                .isFalse();

        StatusReport r = new StatusReport(
                "c", "node " + NODE, "now", List.of(), List.of(), List.of(), null, null, List.of(), rows);
        String page = StatusPage.render(r);
        assertThat(page).contains("<table id=\"georep\">").contains("data-session=\"dr\" data-state=\"ok\"");
        assertThat(page).doesNotContain("/srv/dr");
    }
}
