package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.client.HoldfastClient;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With one member of three stopped, the group has a majority, so every linearizable read must
 * be answered: the client spreads reads over members and must route around the stopped one
 * ("a member that fails a read is skipped"). Each read here gets 10 s, more than three times
 * the client's 3 s Raft request timeout.
 */
class QueriesWithAMemberDownIT {
    @TempDir
    Path root;

    @Test
    void everyReadIsAnsweredWhileAMinorityIsDown() throws Exception {
        try (MiniCluster c = MiniCluster.start(root, 3, 100_000)) {
            c.createVolume("vol", 0, 1, 2);
            Volumes.createExclusive(c.client().volume("vol"), "/x");
            var group = Volumes.groupId(c, "vol");
            int follower = (Volumes.awaitLeader(c, 3, group) + 1) % 3;
            // a fresh client, connected through a node that stays up, with a short deadline
            int via = (follower + 1) % 3;
            String a = c.addresses().get(via);
            try (HoldfastClient client = HoldfastClient.connect(
                    a.substring(0, a.indexOf(':')),
                    Integer.parseInt(a.substring(a.indexOf(':') + 1)),
                    withDeadline(c.clientEnv(), Duration.ofSeconds(10)))) {
                VolumeService v = client.volume("vol");
                c.stop(follower);
                List<String> failures = new ArrayList<>();
                List<Long> latencies = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    long t0 = System.nanoTime();
                    try {
                        Response r = v.query(new Request.GetAttr("/x", false)).get(15, TimeUnit.SECONDS);
                        assertThat(r).isInstanceOf(Response.AttrReply.class);
                    } catch (Exception e) {
                        failures.add("read " + i + ": " + e);
                    }
                    latencies.add((System.nanoTime() - t0) / 1_000_000);
                }
                System.out.println(
                        "read latencies ms with node" + follower + " down: " + latencies + ", failures " + failures);
                assertThat(failures)
                        .as("reads that failed with a majority up (latencies ms " + latencies + ")")
                        .isEmpty();
            }
        }
    }

    private static Map<String, Object> withDeadline(Map<String, Object> env, Duration d) {
        env.put("holdfast.deadline", d);
        return env;
    }
}
