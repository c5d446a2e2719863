package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.common.Caller;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Placement;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.testing.TestSeed;
import io.holdfast.testkit.MiniCluster;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code holdfast scrub start|pause|status} against a three-node cluster in this JVM. */
class ScrubCommandsIT {
    @TempDir
    Path root;

    @Test
    void startWaitsAndReportsARepairPauseAndStatus() throws Exception {
        try (MiniCluster c = MiniCluster.start(root, 3, 100_000)) {
            VolumeService v = c.createVolume("v", 0, 1, 2);
            byte[] content = new byte[200_000];
            TestSeed.random("ScrubCommandsIT").nextBytes(content);
            long inode = ((Response.AttrReply) v.submit(new Request.Create(Caller.ROOT, "/f", 0644, true))
                            .join())
                    .attr()
                    .inode();
            v.submit(new Request.Write(Caller.ROOT, inode, 0, content, Checksums.crc32c(content)))
                    .join();
            c.awaitConvergence("v", Duration.ofSeconds(60));
            String address = c.addresses().get(0);
            String[] cluster = {"--cluster=" + address, "--tls=" + root.resolve("tls-admin")};

            Cli help = Cli.run("scrub", "--help");
            assertThat(help.exit()).isZero();
            assertThat(help.out()).contains("start", "pause", "status", "QUARANTINED", "Exit status");

            Cli before = Cli.run(concat(new String[] {"scrub", "status", "v"}, cluster));
            assertThat(before.exit()).isZero();
            assertThat(before.out())
                    .contains("volume v", "MEMBER", "idle", "never run", "never")
                    .doesNotContain("100%");

            // a flipped byte on member 1's disk is found and repaired by the pass we wait for
            Path data = c.dataDir(1)
                    .resolve("bricks")
                    .resolve(Placement.onlyGroup(c.map().volume("v").orElseThrow())
                            .toString())
                    .resolve("data")
                    .resolve(String.format("%016x", inode));
            try (RandomAccessFile raf = new RandomAccessFile(data.toFile(), "rw")) {
                raf.seek(100_000);
                int x = raf.read();
                raf.seek(100_000);
                raf.write(x ^ 4);
            }
            Cli run = Cli.run(concat(new String[] {"scrub", "start", "v", "--wait", "--rate", "32"}, cluster));
            System.out.println(run.out());
            assertThat(run.exit()).isZero();
            assertThat(run.out())
                    .containsPattern(
                            "(?m)^  " + Pattern.quote(c.addresses().get(1)) + " +idle +100% +195 KiB +1 +1 +0 +0 ");
            assertThat(run.out()).contains("last found: repaired block 1 of inode " + inode);

            Cli json = Cli.run(concat(new String[] {"scrub", "status", "--json"}, cluster));
            assertThat(json.exit()).isZero();
            JsonNode members = new ObjectMapper().readTree(json.out()).get(0).get("members");
            assertThat(members).hasSize(3);
            for (JsonNode m : members) {
                assertThat(m.get("up").asBoolean()).isTrue();
                assertThat(m.get("passes").asLong()).isEqualTo(1);
                assertThat(m.get("rateBytesPerSecond").asLong()).isEqualTo(32L << 20);
                assertThat(m.get("bytesVerified").asLong()).isEqualTo(content.length);
            }

            Cli paused = Cli.run(concat(new String[] {"scrub", "pause", "v"}, cluster));
            assertThat(paused.exit()).isZero();
            assertThat(paused.out()).contains("paused");
            assertThat(Cli.run(concat(new String[] {"scrub", "status", "v"}, cluster))
                            .out())
                    .doesNotContain(" idle ");

            // bad input changes nothing
            assertThat(Cli.run(concat(new String[] {"scrub", "start", "v", "--rate", "0"}, cluster))
                            .exit())
                    .isEqualTo(2);
            assertThat(Cli.run(concat(new String[] {"scrub", "start", "nosuch"}, cluster))
                            .exit())
                    .isEqualTo(2);
            assertThat(Cli.run(concat(new String[] {"scrub", "status", "v"}, cluster))
                            .out())
                    .contains("paused");
        }
    }

    private static String[] concat(String[] a, String[] b) {
        String[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
