package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.testkit.MiniCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code holdfast cluster add-node|remove-node} and {@code volume replace-replica} against a cluster in this JVM. */
class MembershipCommandsIT {
    @TempDir
    Path root;

    private static String[] with(String[] cluster, String... args) {
        return Stream.concat(Stream.of(args), Stream.of(cluster)).toArray(String[]::new);
    }

    @Test
    void addReplaceAndRemoveANode() throws Exception {
        try (MiniCluster c = MiniCluster.start(root, 3, 1, 50, true)) {
            VolumeService v = c.createVolume("mail", 0, 1, 2);
            for (int i = 0; i < 100; i++) {
                assertThat(v.submit(new Request.Mkdir(Caller.ROOT, "/d" + i, 0755))
                                .join())
                        .isInstanceOf(Response.AttrReply.class);
            }
            List<String> a = c.addresses();
            String[] cluster = {"--cluster=" + a.get(0), "--tls=" + root.resolve("tls-admin")};

            assertThat(Cli.run("volume", "replace-replica", "--help").out())
                    .contains("OLD_NODE", "NEW_NODE", "run the same command again");

            Cli unknown = Cli.run(with(cluster, "volume", "replace-replica", "mail", a.get(2), a.get(3)));
            assertThat(unknown.exit()).isNotZero();
            assertThat(unknown.err()).contains("is not a node of the cluster", "add-node");

            Cli added = Cli.run(with(cluster, "cluster", "add-node", a.get(3)));
            assertThat(added.exit()).as(added.err()).isZero();
            assertThat(added.out()).contains("added node " + a.get(3));

            Cli replaced = Cli.run(with(cluster, "volume", "replace-replica", "mail", a.get(2), a.get(3)));
            System.out.println(replaced.out() + replaced.err());
            assertThat(replaced.exit()).as(replaced.err()).isZero();
            assertThat(replaced.out())
                    .contains("replicas " + a.get(0) + ", " + a.get(1) + ", " + a.get(3), "generation 2");

            Cli info = Cli.run(with(cluster, "volume", "info", "mail"));
            assertThat(info.out()).contains("generation 2", a.get(3)).doesNotContain("joining");

            Cli refused = Cli.run(with(cluster, "cluster", "remove-node", a.get(1)));
            assertThat(refused.exit()).isNotZero();
            assertThat(refused.err()).contains("holds the cluster group");

            Cli removed = Cli.run(with(cluster, "cluster", "remove-node", a.get(3)));
            System.out.println(removed.out() + removed.err());
            assertThat(removed.exit()).as(removed.err()).isZero();
            ClusterMap m = c.client().refreshMap();
            assertThat(m.nodes()).containsExactly(a.get(0), a.get(1), a.get(2));
            assertThat(m.volume("mail").orElseThrow().replicas())
                    .containsExactlyInAnyOrder(a.get(0), a.get(1), a.get(2));
            c.awaitConvergence("mail", Duration.ofSeconds(60));
        }
    }
}
