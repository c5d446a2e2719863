package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code holdfast demo --nbd} run as a user runs it (its own JVM, which starts the three node
 * processes), with a 64 MiB export so CI stays quick: it must pass, a node must have been killed
 * while the copy was in progress (data written after the kill), and the image read back through
 * NBD must carry the source's SHA-256.
 */
class DemoNbdIT {
    @TempDir
    Path tmp;

    /**
     * The first of three free consecutive loopback ports (and their admin ports at +1000), below
     * Linux's default ephemeral range (32768-60999), so no outgoing connection takes one between
     * this check and the nodes binding it.
     */
    private static int freeBasePort() throws IOException {
        Random random = new Random();
        for (int attempt = 0; attempt < 200; attempt++) {
            int base = 20_000 + random.nextInt(11_000);
            boolean free = true;
            for (int p : new int[] {base, base + 1, base + 2, base + 1000, base + 1001, base + 1002}) {
                try (ServerSocket s = new ServerSocket(p, 1, InetAddress.getLoopbackAddress())) {
                    s.setReuseAddress(true);
                } catch (IOException e) {
                    free = false;
                    break;
                }
            }
            if (free) {
                return base;
            }
        }
        throw new IOException("no three free consecutive loopback ports from 20000");
    }

    @Test
    void theNbdDemoKillsANodeMidCopyAndReadsTheImageBackIdentical() throws Exception {
        assumeTrue(NbdDemo.missingTools() == null, String.valueOf(NbdDemo.missingTools()));
        Path log = tmp.resolve("demo.log");
        Process demo = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "--enable-native-access=ALL-UNNAMED",
                        "--sun-misc-unsafe-memory-access=allow",
                        "-cp",
                        System.getProperty("java.class.path"),
                        Main.class.getName(),
                        "demo",
                        "--nbd",
                        "--nbd-size",
                        "64MiB",
                        "--nbd-port",
                        "0",
                        "--base-port",
                        String.valueOf(freeBasePort()),
                        "--data",
                        tmp.resolve("data").toString())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        boolean ended = demo.waitFor(15, TimeUnit.MINUTES);
        if (!ended) {
            demo.destroy();
            if (!demo.waitFor(60, TimeUnit.SECONDS)) {
                demo.destroyForcibly().waitFor();
            }
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        System.out.println(out);
        assertThat(ended).as("the demo ended within 15 minutes").isTrue();
        if (demo.exitValue() != 0) {
            for (int i = 1; i <= 3; i++) {
                Path node = tmp.resolve("data/n" + i + "/server.log");
                if (Files.exists(node)) {
                    List<String> lines = Files.readAllLines(node, StandardCharsets.UTF_8);
                    System.out.println("--- tail of " + node);
                    lines.subList(Math.max(0, lines.size() - 40), lines.size()).forEach(System.out::println);
                }
            }
        }
        assertThat(demo.exitValue()).as("exit; output:%n%s", out).isZero();

        // the source image and its checksum
        Matcher source = Pattern.compile("(?m)^image +ext4 from .*: .* of data, SHA-256 ([0-9a-f]{64})$")
                .matcher(out);
        assertThat(source.find()).as("the summary names the source's SHA-256").isTrue();
        String sha = source.group(1);
        assertThat(out)
                .contains("made an ext4 image")
                .contains("created the export demo/disk.img (64 MiB, sparse, 3 replicas)")
                .contains("NBD gateway serving nbds://127.0.0.1:")
                .contains("TLS required");

        // a node killed while the copy ran; the copy finished without an error and wrote on after it
        assertThat(out).containsPattern("killed node 127\\.0\\.0\\.1:\\d+ with SIGKILL \\(.*\\); copy continues");
        int killAt = out.indexOf("killed node");
        int copied = out.indexOf("copy finished without an error");
        assertThat(copied).as("the copy finished after the kill").isGreaterThan(killAt);
        Matcher after = Pattern.compile("; ([\\d.]+) (B|KiB|MiB) written after the kill;")
                .matcher(out);
        assertThat(after.find()).as("bytes written after the kill are reported").isTrue();
        assertThat(Double.parseDouble(after.group(1)))
                .as("data was written after the kill")
                .isGreaterThan(0);
        assertThat(out).containsPattern("(?m)^node killed +127\\.0\\.0\\.1:\\d+ \\(SIGKILL, .*\\) mid-copy");

        // the node came back, the members converged, and NBD gives back the source's bytes
        assertThat(out).containsPattern("restarted node 127\\.0\\.0\\.1:\\d+; waiting for it to catch up");
        assertThat(out).containsPattern("all 3 members identical at applied index \\d+");
        assertThat(out)
                .contains("read the export back with nbdcopy in ")
                .contains("SHA-256 " + sha.substring(0, 16) + "… (identical to the source)");
        assertThat(out).containsPattern("e2fsck -fn on the image read back: holdfast-demo: \\d+/\\d+ files");
        assertThat(out).contains("verification      PASS: the image read back through NBD has the source's SHA-256");
        assertThat(tmp.resolve("data/nbd/readback.img")).doesNotExist();
    }
}
