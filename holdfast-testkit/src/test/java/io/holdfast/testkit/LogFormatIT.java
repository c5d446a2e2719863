package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.LogFormat;
import io.holdfast.protocol.Placement;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.server.admin.StatusReport;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rolling upgrades and the log format (issue: a replicated log safe across versions). A node
 * that "runs older code" is simulated with {@link MiniCluster#maxLogFormat}: it reads,
 * advertises and logs at most log format 1, so it cannot apply mknod (log format 2).
 *
 * <ul>
 *   <li>A leader refuses to log a kind a member lacks, with ENOTSUP naming the member, while
 *       entries every member reads go on; once the member is upgraded the kind is logged.
 *   <li>A member fed an entry of a newer format (it was downgraded while the log already held
 *       one) halts there: it applies nothing more, refuses reads with the reason, reports it,
 *       and after its "upgrade" resumes and converges with the others; nothing diverged.
 * </ul>
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class LogFormatIT {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final int FIFO = 0010644;

    @TempDir
    Path root;

    @Test
    void aLeaderRefusesAKindAMemberLacksUntilItIsUpgraded() throws Exception {
        try (MiniCluster cluster = MiniCluster.start(root, 3, 0, 20_000, true)) {
            String old = cluster.addresses().get(2);
            cluster.maxLogFormat(2, 1);
            cluster.restart(2);
            VolumeService v = cluster.createVolume("mail", 0, 1, 2);
            awaitAdvertised(cluster, old, "1..1");
            assertThat(cluster.map().featureLevel()).isEqualTo(1);

            Response refused =
                    v.submit(new Request.Mknod(Caller.ROOT, "/fifo", FIFO, 0)).get(30, TimeUnit.SECONDS);
            assertThat(refused).isInstanceOfSatisfying(Response.Error.class, e -> {
                assertThat(e.errno()).isEqualTo(Errno.ENOTSUP);
                assertThat(e.message())
                        .contains("Mknod needs log format 2")
                        .contains("member " + old)
                        .contains("1..1")
                        .contains("upgrade it");
            });
            // entries every member reads are logged as before
            applied(v.submit(new Request.Mkdir(Caller.ROOT, "/dir", 0755)).get(30, TimeUnit.SECONDS));
            assertThat(v.query(new Request.GetAttr("/fifo", false)).get(30, TimeUnit.SECONDS))
                    .isInstanceOfSatisfying(
                            Response.Error.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT));

            cluster.maxLogFormat(2, 2); // the upgrade
            cluster.restart(2);
            awaitAdvertised(cluster, old, "1..2");
            assertThat(cluster.map().featureLevel()).isEqualTo(2);
            MiniCluster.await(
                    WAIT,
                    () -> ok(v, new Request.Mknod(Caller.ROOT, "/fifo", FIFO, 0)),
                    "mknod logged after the upgrade");
            cluster.awaitConvergence("mail", WAIT);
        }
    }

    @Test
    void aMemberFedANewerEntryHaltsWithoutDivergingAndResumesAfterItsUpgrade() throws Exception {
        try (MiniCluster cluster = MiniCluster.start(root, 3, 0, 20_000, true)) {
            VolumeService v = cluster.createVolume("files", 0, 1, 2);
            String downgraded = cluster.addresses().get(2);
            awaitAdvertised(cluster, downgraded, LogFormat.range(LogFormat.MIN, LogFormat.MAX));
            UUID group = Placement.onlyGroup(cluster.map().volume("files").orElseThrow());
            applied(v.submit(new Request.Mkdir(Caller.ROOT, "/before", 0755)).get(30, TimeUnit.SECONDS));
            cluster.awaitConvergence("files", WAIT);

            // the log gets a format-2 entry while node 2 is down; it comes back running "older code"
            cluster.stop(2);
            applied(v.submit(new Request.Mknod(Caller.ROOT, "/fifo", FIFO, 0)).get(30, TimeUnit.SECONDS));
            applied(v.submit(new Request.Mkdir(Caller.ROOT, "/after", 0755)).get(30, TimeUnit.SECONDS));
            cluster.maxLogFormat(2, 1);
            cluster.restart(2);

            String reason = MiniCluster.awaitValue(WAIT, () -> cluster.node(2).haltReason(group), "node 2 halts");
            assertThat(reason)
                    .contains("log format 2, this node supports 1..1: upgrade this node")
                    .contains("TOO_NEW");
            // it says so to the CLI (digest query), in its status report, and it serves no reads
            Map<String, Response> digests = cluster.client().probe().memberDigests("files");
            assertThat(digests.get(downgraded))
                    .isInstanceOfSatisfying(
                            Response.Error.class,
                            e -> assertThat(e.message()).startsWith("HALTED: ").contains("upgrade this node"));
            StatusReport status = cluster.node(2).status();
            assertThat(status.halted()).singleElement().satisfies(h -> {
                assertThat(h.group()).isEqualTo("files");
                assertThat(h.member()).isEqualTo(downgraded);
            });
            assertThat(cluster.node(2).metrics().scrape()).containsPattern("holdfast_members_halted\\{[^}]*\\} 1\\.0");
            // the others go on: format-1 entries are logged, format-2 ones refused now that node 2 advertises 1..1
            awaitAdvertised(cluster, downgraded, "1..1");
            applied(v.submit(new Request.Mkdir(Caller.ROOT, "/during", 0755)).get(30, TimeUnit.SECONDS));
            assertThat(v.submit(new Request.Mknod(Caller.ROOT, "/fifo2", FIFO, 0))
                            .get(30, TimeUnit.SECONDS))
                    .isInstanceOfSatisfying(
                            Response.Error.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOTSUP));
            Response.Digest healthy = cluster.client()
                                    .probe()
                                    .memberDigests("files")
                                    .get(cluster.addresses().get(0))
                            instanceof Response.Digest d
                    ? d
                    : null;
            assertThat(healthy).as("node 0 answers its digest").isNotNull();

            // the upgrade: node 2 applies the entry it stopped at and everything after, and converges
            cluster.maxLogFormat(2, 2);
            cluster.restart(2);
            Response.Digest converged = cluster.awaitConvergence("files", WAIT);
            assertThat(converged.appliedIndex()).isGreaterThanOrEqualTo(healthy.appliedIndex());
            assertThat(cluster.node(2).haltReason(group)).isEmpty();
            assertThat(cluster.node(2).status().halted()).isEmpty();
        }
    }

    private static void applied(Response r) {
        assertThat(r).as("applied").isNotInstanceOf(Response.Error.class);
    }

    private static boolean ok(VolumeService v, Request.Mutation m) {
        try {
            Response r = v.submit(m).get(30, TimeUnit.SECONDS);
            return !(r instanceof Response.Error);
        } catch (Exception e) {
            return false;
        }
    }

    /**
     * Waits until the cluster map says {@code node} supports {@code formats}, as every running
     * node has applied it: a volume's leader decides the feature level from its own node's map,
     * which may apply the change a little after the cluster group's leader answers with it.
     */
    private static void awaitAdvertised(MiniCluster cluster, String node, String formats) {
        MiniCluster.await(
                WAIT,
                () -> {
                    try {
                        if (!advertises(cluster.map(), node, formats)) {
                            return false;
                        }
                        for (int i = 0; i < cluster.addresses().size(); i++) {
                            if (cluster.node(i) != null
                                    && !advertises(cluster.node(i).knownMap(), node, formats)) {
                                return false;
                            }
                        }
                        return true;
                    } catch (Exception e) {
                        return false;
                    }
                },
                node + " advertises log formats " + formats + " in every running node's map");
    }

    private static boolean advertises(ClusterMap m, String node, String formats) {
        return m != null
                && m.nodeInfo().containsKey(node)
                && m.infoOf(node).logFormats().equals(formats);
    }
}
