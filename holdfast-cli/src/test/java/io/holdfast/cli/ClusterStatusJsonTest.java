package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.server.admin.Health;
import io.holdfast.server.admin.StatusReport;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The shape of {@code holdfast cluster status --json}, without a cluster. */
class ClusterStatusJsonTest {
    private static final List<String> MEMBERS = List.of("10.0.0.1:7001", "10.0.0.2:7001", "10.0.0.3:7001");

    /** Every object in the tree that names an address, by address. */
    private static void collect(JsonNode n, Map<String, List<JsonNode>> out) {
        if (n.isObject() && n.has("address")) {
            out.computeIfAbsent(n.get("address").asText(), k -> new ArrayList<>())
                    .add(n);
        }
        n.forEach(child -> collect(child, out));
    }

    @Test
    void eachMemberHasOneAppliedIndexInTheDocument() throws Exception {
        List<ClusterCommands.Status.Member> volumeMembers = new ArrayList<>();
        List<StatusReport.Member> groupMembers = new ArrayList<>();
        for (String a : MEMBERS) {
            volumeMembers.add(new ClusterCommands.Status.Member(a, true, "ab".repeat(32), null));
            groupMembers.add(new StatusReport.Member(
                    a,
                    a.equals(MEMBERS.get(0)) ? "leader" : "follower",
                    true,
                    42L,
                    41L,
                    null,
                    1L,
                    null,
                    0.1,
                    "ab".repeat(32)));
        }
        StatusReport.Group group = new StatusReport.Group(
                "mail",
                "41b58cf9-0000-0000-0000-000000000000",
                MEMBERS.get(0),
                1L,
                true,
                Health.HEALTHY,
                "",
                groupMembers,
                null);
        ClusterCommands.Status.Report report = new ClusterCommands.Status.Report(
                "806fc5d3",
                2,
                "admin \"admin\"",
                MEMBERS,
                MEMBERS,
                List.of(new ClusterCommands.Status.VolumeStatus("mail", group.groupId(), MEMBERS, true, volumeMembers)),
                true,
                "healthy",
                MEMBERS.stream()
                        .map(a -> new StatusReport.Node(a, true, null, true, false))
                        .toList(),
                List.of(group),
                2,
                List.of());

        JsonNode doc = new ObjectMapper().readTree(ClusterCommands.Status.json(report));
        Map<String, List<JsonNode>> byAddress = new HashMap<>();
        collect(doc, byAddress);
        assertThat(byAddress).containsOnlyKeys(MEMBERS);
        for (String a : MEMBERS) {
            List<JsonNode> applied =
                    byAddress.get(a).stream().filter(n -> n.has("appliedIndex")).toList();
            assertThat(applied).as(a).hasSize(1);
            assertThat(applied.getFirst().get("appliedIndex").asLong()).isEqualTo(41);
        }
        JsonNode volumeMember = doc.get("volumes").get(0).get("members").get(0);
        assertThat(volumeMember.has("digest")).isTrue();
        assertThat(volumeMember.has("up")).isTrue();
    }
}
