package io.holdfast.server.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.protocol.ClusterMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The plain-text tables of {@code holdfast cluster status} and {@code volume info}. */
class StatusTextTest {
    @Test
    void rendersNodesVolumesGroupsAndUnknownsAsDashes() {
        String text = StatusText.render(StatusPageTest.report("mail", "127.0.0.1:7003", true));
        assertThat(text)
                .contains("nodes:\n  127.0.0.1:7001         up    this node, cluster group, "
                        + "log formats not advertised\n");
        assertThat(text)
                .contains("  127.0.0.1:7003         DOWN  last seen 4.3 s ago, cluster group, log formats not "
                        + "advertised\n");
        assertThat(text)
                .contains("  mail             group 0000-group  replicas 3: 127.0.0.1:7001, 127.0.0.1:7002, "
                        + "127.0.0.1:7003\n");
        assertThat(text)
                .contains("  mail  group 0000-group  leader 127.0.0.1:7001  term 2  DEGRADED (1 of 3 members down: "
                        + "127.0.0.1:7003)\n");
        assertThat(text).containsPattern("(?m)^    127\\.0\\.0\\.1:7003 +follower +DOWN +31 +- +9 +3\\.5 +4\\.0$");
        assertThat(text).contains("connections: 3 open, 0 refused, 1 calls refused");
        assertThat(text).doesNotContain("digest", "known to the leader");
    }

    @Test
    void versionsTheFeatureLevelAndHaltedMembersAreShown() {
        StatusReport r = StatusPageTest.report("mail", "127.0.0.1:7003", true);
        ClusterMap map = new ClusterMap(1, new UUID(1, 2), List.of("127.0.0.1:7001", "127.0.0.1:7002"), Map.of())
                .withNodeInfo("127.0.0.1:7001", new ClusterMap.NodeInfo(1, 2, "0.2.0"));
        StatusReport mixed = new StatusReport(
                r.cluster(),
                r.reporter(),
                r.generatedAt(),
                r.nodes().stream().map(n -> n.advertised(map)).toList(),
                r.volumes(),
                r.groups(),
                r.connections(),
                map.featureLevel(),
                List.of(new StatusReport.Halted("mail", "127.0.0.1:7002", "entry 9 cannot be applied here")));
        String text = StatusText.render(mixed);
        assertThat(text)
                .contains("  127.0.0.1:7001         up    this node, cluster group, version 0.2.0, log formats 1..2\n");
        assertThat(text)
                .contains("feature level: log format 1 (the newest every node supports; leaders log nothing newer)\n");
        assertThat(text).contains("HALTED: member 127.0.0.1:7002 of mail: entry 9 cannot be applied here\n");
    }

    @Test
    void aFollowersViewSaysWhereTheLagIsKnown() {
        String text = StatusText.render(StatusPageTest.report("mail", "127.0.0.1:7003", false));
        assertThat(text).contains("    (lag and contact are known to the leader, 127.0.0.1:7002)\n");
    }

    @Test
    void digestsAddAColumnAndTheIdenticalVerdict() {
        StatusReport.Member a =
                new StatusReport.Member("a:1", "leader", true, 5L, 5L, null, 0L, null, null, "ab".repeat(32));
        StatusReport.Member b =
                new StatusReport.Member("b:1", "follower", true, 5L, 5L, null, 0L, null, 0.1, "ab".repeat(32));
        StatusReport.Group g =
                new StatusReport.Group("v", "g", "a:1", 1L, true, Health.HEALTHY, "", List.of(a, b), null);
        assertThat(StatusText.group(g)).contains("  digest\n", "  abababababababab\n", "    members identical\n");
        StatusReport.Group differ = new StatusReport.Group(
                "v", "g", "a:1", 1L, true, Health.HEALTHY, "", List.of(a, b.withDigest("cd".repeat(32))), null);
        assertThat(StatusText.group(differ)).contains("    members not (yet) identical\n");
        assertThat(StatusText.identical(List.of())).isFalse();
    }
}
