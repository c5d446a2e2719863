package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.testkit.MiniCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code holdfast cluster status} and {@code volume info} show what the status page shows:
 * nodes up and down, each group's leader, term and health, members' commit and applied index
 * and lag; before and after a node is stopped.
 */
class ClusterStatusIT {
    @TempDir
    Path root;

    private static Cli holdfast(MiniCluster c, Path root, String... args) {
        String[] all = Arrays.copyOf(args, args.length + 2);
        all[args.length] = "--cluster=" + c.addresses().get(0);
        all[args.length + 1] = "--tls=" + root.resolve("tls-admin");
        return Cli.run(all);
    }

    private static Map<String, JsonNode> byKey(JsonNode array, String key) {
        Map<String, JsonNode> out = new HashMap<>();
        array.forEach(n -> out.put(n.get(key).asText(), n));
        return out;
    }

    @Test
    void tableAndJsonShowNodesLeadersIndexesLagAndHealth() throws Exception {
        try (MiniCluster c = MiniCluster.start(root, 3, 100_000)) {
            c.createVolume("st", 0, 1, 2);
            for (String dir : new String[] {"st:/a", "st:/b", "st:/c"}) {
                assertThat(holdfast(c, root, "mkdir", dir).exit()).isZero();
            }
            c.awaitConvergence("st", Duration.ofSeconds(60));

            // The members' digests are sampled one after another while the groups keep committing (the
            // cluster group's own entries, heartbeats of leadership): wait for a sample in which every
            // group's members agree, rather than assume the cluster is quiet.
            Cli[] last = new Cli[1];
            MiniCluster.await(
                    Duration.ofSeconds(60),
                    () -> {
                        last[0] = holdfast(c, root, "cluster", "status");
                        return last[0].exit() == 0 && !last[0].out().contains("not (yet) identical");
                    },
                    "cluster status shows every group healthy and its members identical");
            Cli table = last[0];
            assertThat(table.out())
                    .contains(
                            "connected as admin",
                            "health healthy",
                            "nodes:",
                            "groups:",
                            "(cluster)",
                            "HEALTHY",
                            "member",
                            "role",
                            "commit",
                            "applied",
                            "lag",
                            "digest",
                            "members identical");
            for (String a : c.addresses()) {
                assertThat(table.out()).containsPattern("(?m)^  " + Pattern.quote(a) + " +up ");
            }

            Cli json = holdfast(c, root, "cluster", "status", "--json");
            assertThat(json.exit()).isZero();
            JsonNode doc = new ObjectMapper().readTree(json.out());
            assertThat(doc.get("healthy").asBoolean()).isTrue();
            assertThat(doc.get("health").asText()).isEqualTo("healthy");
            assertThat(doc.get("nodeStatus"))
                    .hasSize(3)
                    .allSatisfy(n -> assertThat(n.get("up").asBoolean()).isTrue());
            Map<String, JsonNode> groups = byKey(doc.get("groups"), "name");
            assertThat(groups).containsKeys("(cluster)", "st");
            JsonNode st = groups.get("st");
            String leader = st.get("leader").asText();
            assertThat(c.addresses()).contains(leader);
            assertThat(st.get("term").asLong()).isPositive();
            assertThat(st.get("health").asText()).isEqualTo("healthy");
            for (JsonNode m : st.get("members")) {
                assertThat(m.get("up").asBoolean()).isTrue();
                assertThat(m.get("role").asText())
                        .isEqualTo(m.get("address").asText().equals(leader) ? "leader" : "follower");
                assertThat(m.get("commitIndex").asLong()).as(json.out()).isGreaterThanOrEqualTo(3);
                assertThat(m.get("appliedIndex").asLong()).as(json.out()).isGreaterThanOrEqualTo(3);
                assertThat(m.get("lagEntries").asLong()).isGreaterThanOrEqualTo(0);
                assertThat(m.get("digest").asText()).hasSize(64);
            }
            // one applied index per member: in groups, not again under volumes
            for (JsonNode m : doc.get("volumes").get(0).get("members")) {
                assertThat(m.has("appliedIndex")).as(json.out()).isFalse();
                assertThat(m.get("digest").asText()).hasSize(64);
            }

            // stop a node that is not the one the CLI connects to
            c.stop(2);
            String down = c.addresses().get(2);
            Cli after = holdfast(c, root, "cluster", "status");
            assertThat(after.exit()).as("a member does not answer").isEqualTo(3);
            assertThat(after.out()).containsPattern("(?m)^  " + Pattern.quote(down) + " +DOWN ");
            assertThat(after.out()).contains("DEGRADED (1 of 3 members down: " + down + ")", "health degraded");
            JsonNode afterDoc = new ObjectMapper()
                    .readTree(holdfast(c, root, "cluster", "status", "--json").out());
            assertThat(byKey(afterDoc.get("nodeStatus"), "address")
                            .get(down)
                            .get("up")
                            .asBoolean())
                    .isFalse();
            JsonNode stAfter = byKey(afterDoc.get("groups"), "name").get("st");
            assertThat(stAfter.get("health").asText()).isEqualTo("degraded");
            assertThat(byKey(stAfter.get("members"), "address")
                            .get(down)
                            .get("up")
                            .asBoolean())
                    .isFalse();
            assertThat(afterDoc.get("healthy").asBoolean()).isFalse();

            Cli info = holdfast(c, root, "volume", "info", "st");
            assertThat(info.exit()).isEqualTo(3);
            assertThat(info.out()).contains("volume   st", "DEGRADED", down);
            System.out.println(after.out());
        }
    }
}
