package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Caller;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Placement;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A brick copied in from elsewhere (another volume, another member) is refused at start-up
 * with a message naming what is wrong, and never served; once it is moved away the member
 * catches up from the others and all digests agree.
 */
class StaleBrickIT {
    @TempDir
    Path root;

    @Test
    void bricksFromAnotherVolumeOrMemberAreRefused() throws Exception {
        try (MiniCluster c = MiniCluster.start(root, 3, 100_000)) {
            VolumeService a = c.createVolume("a", 0, 1, 2);
            VolumeService b = c.createVolume("b", 0, 1, 2);
            for (int i = 0; i < 10; i++) {
                assertThat(a.submit(new Request.Mkdir(Caller.ROOT, "/a" + i, 0755))
                                .join())
                        .isInstanceOf(Response.AttrReply.class);
            }
            assertThat(b.submit(new Request.Mkdir(Caller.ROOT, "/only-in-b", 0755))
                            .join())
                    .isInstanceOf(Response.AttrReply.class);
            Response.Digest digestA = c.awaitConvergence("a", Duration.ofSeconds(30));
            c.awaitConvergence("b", Duration.ofSeconds(30));
            ClusterMap map = c.map();
            Path brickA2 = brick(c, 2, map, "a");

            // 1. node 2's brick of "a" replaced by node 0's brick of "b"
            c.stop(2);
            Path aside = root.resolve("aside");
            Files.move(brickA2, aside);
            copyTree(brick(c, 0, map, "b"), brickA2);
            assertThatThrownBy(() -> c.restart(2))
                    .satisfies(e -> System.out.println("brick of another volume: " + rootMessage(e)))
                    .satisfies(e -> assertThat(rootMessage(e))
                            .contains("refusing brick")
                            .contains("a brick of another volume"));

            // 2. node 2's brick of "a" replaced by node 0's brick of "a" (another member's)
            c.stop(2);
            deleteTree(brickA2);
            copyTree(brick(c, 0, map, "a"), brickA2);
            assertThatThrownBy(() -> c.restart(2))
                    .satisfies(e -> System.out.println("brick of another member: " + rootMessage(e)))
                    .satisfies(e -> assertThat(rootMessage(e)).contains("copied from another member"));

            // 3. the operator moves the foreign brick away: node 2 starts, catches up, all agree
            c.stop(2);
            deleteTree(brickA2);
            c.restart(2);
            assertThat(c.awaitConvergence("a", Duration.ofSeconds(60))).isEqualTo(digestA);
            assertThat(Files.readString(brickA2.resolve("identity")))
                    .contains("member=" + c.addresses().get(2).replace(":", "\\:"));
            deleteTree(aside);
        }
    }

    private static Path brick(MiniCluster c, int node, ClusterMap map, String volume) {
        return c.dataDir(node)
                .resolve("bricks")
                .resolve(Placement.onlyGroup(map.volume(volume).orElseThrow()).toString());
    }

    private static String rootMessage(Throwable e) {
        StringBuilder all = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            all.append(t.getMessage()).append(" | ");
        }
        return all.toString();
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
