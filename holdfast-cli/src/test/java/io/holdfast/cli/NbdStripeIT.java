package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.nbd.NbdServer;
import io.holdfast.nbd.VolumeExports;
import io.holdfast.testkit.MiniCluster;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A striped export over two volumes (two replica groups) of one three-node cluster, made and
 * managed with {@code holdfast nbd create --stripe|list|resize|rm} and served by the gateway:
 * qemu-io patterns across stripe-unit boundaries read back through NBD and land on the member
 * images where the RAID-0 mapping says; discard shows as holes in {@code nbdinfo --map}; an
 * {@code nbdcopy} round trip keeps the SHA-256; a resize reaches the next connection; rm removes
 * the members with the descriptor.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class NbdStripeIT {
    private static final int KIB = 1024;
    private static final int MIB = 1 << 20;

    @TempDir
    Path root;

    private MiniCluster cluster;

    private static boolean tool(String name) {
        return Files.isExecutable(Path.of("/usr/bin", name));
    }

    private Cli holdfast(String... args) {
        String[] all = Arrays.copyOf(args, args.length + 2);
        all[args.length] = "--cluster=" + cluster.addresses().getFirst();
        all[args.length + 1] = "--tls=" + root.resolve("cluster").resolve("tls-admin");
        Cli r = Cli.run(all);
        System.out.println("$ holdfast " + String.join(" ", args) + " (exit " + r.exit() + ")\n" + r.out() + r.err());
        return r;
    }

    private Cli ok(String... args) {
        Cli r = holdfast(args);
        assertThat(r.exit()).as("exit of %s: %s", List.of(args), r.err()).isZero();
        return r;
    }

    private static String run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(240, TimeUnit.SECONDS)).isTrue();
        System.out.println("$ " + String.join(" ", command) + "\n" + out);
        assertThat(p.exitValue()).as("%s: %s", List.of(command), out).isZero();
        return out;
    }

    private static String[] qemuIo(String uri, String... commands) {
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", "raw", uri));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        return cmd.toArray(String[]::new);
    }

    /** Bytes of a file on a volume, through a new holdfast:// client (node 1, not the gateway's). */
    private byte[] onVolume(String volume, String path, long offset, int length) throws IOException {
        try (FileSystem fs = FileSystems.newFileSystem(
                        URI.create("holdfast://" + cluster.addresses().get(1) + "/" + volume), cluster.clientEnv());
                FileChannel ch = FileChannel.open(fs.getPath(path), StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(length);
            while (b.hasRemaining() && ch.read(b, offset + b.position()) >= 0) {
                // until full
            }
            return b.array();
        }
    }

    private boolean exists(String volume, String path) throws IOException {
        try (FileSystem fs = FileSystems.newFileSystem(
                URI.create("holdfast://" + cluster.addresses().get(1) + "/" + volume), cluster.clientEnv())) {
            return Files.exists(fs.getPath(path));
        }
    }

    private static byte[] filled(int n, int value) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }

    @Test
    void stripedExportOverTwoVolumes() throws Exception {
        assumeTrue(tool("qemu-io") && tool("nbdinfo") && tool("nbdcopy"), "qemu-utils and libnbd-bin (.ci/run)");
        cluster = MiniCluster.start(root.resolve("cluster"), 3, 100_000);
        try {
            cluster.createVolume("v1", 0, 1, 2);
            cluster.createVolume("v2", 0, 1, 2);
            assertThat(ok("nbd", "create", "--stripe", "v1,v2", "--stripe-unit", "64KiB", "v1:/s.img", "8MiB")
                            .out())
                    .contains("striped over 2 volumes (v1, v2), unit 64 KiB; export name v1/s.img");
            assertThat(holdfast("nbd", "create", "--stripe", "v2,v1", "v1:/t.img", "8MiB")
                            .exit())
                    .as("the descriptor must be on the first volume")
                    .isEqualTo(2);
            assertThat(holdfast("nbd", "create", "--stripe", "v1,v2", "--stripe-unit", "100KiB", "v1:/t.img", "8MiB")
                            .exit())
                    .as("not a power of two")
                    .isEqualTo(2);
            assertThat(exists("v1", "/t.img.stripe0"))
                    .as("a refused create makes nothing")
                    .isFalse();
            assertThat(ok("nbd", "list", "v1").out()).contains("v1/s.img").contains("striped over 2 volumes");
            assertThat(ok("nbd", "list", "v2").out())
                    .contains("v2/s.img.stripe1")
                    .contains("(a stripe member)");
            assertThat(holdfast("nbd", "rm", "v2:/s.img.stripe1").exit())
                    .as("a member alone")
                    .isEqualTo(1);

            try (VolumeExports exports =
                            new VolumeExports(cluster.addresses().getFirst(), cluster.clientEnv(), List.of(), false);
                    NbdServer server = NbdServer.start(
                            NbdServer.Config.defaults(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)),
                            exports)) {
                String uri = "nbd://127.0.0.1:" + server.port() + "/v1/s.img";
                assertThat(run("nbdinfo", "--json", uri)).contains("\"export-size\": " + 8 * MIB);
                // a member is not an export by itself
                Process member = new ProcessBuilder("nbdinfo", "nbd://127.0.0.1:" + server.port() + "/v2/s.img.stripe1")
                        .redirectErrorStream(true)
                        .start();
                member.getInputStream().readAllBytes();
                assertThat(member.waitFor()).isNotZero();

                // patterns across unit boundaries: 0..100k, then 60k..68k (units 0 and 1), 1M..4M, then flush
                run(qemuIo(uri, "write -P 0x11 0 100k", "write -P 0x22 60k 8k", "write -P 0x33 1M 3M", "flush"));
                assertThat(run(qemuIo(
                                uri,
                                "read -P 0x11 0 60k",
                                "read -P 0x22 60k 8k",
                                "read -P 0x11 68k 32k",
                                "read -P 0 100k 924k",
                                "read -P 0x33 1M 3M",
                                "read -P 0 4M 4M")))
                        .doesNotContain("verification failed");
                // where RAID-0 puts them: unit 1 (64k..128k) is member 1's first unit
                assertThat(onVolume("v2", "/s.img.stripe1", 0, 4 * KIB)).isEqualTo(filled(4 * KIB, 0x22));
                assertThat(onVolume("v2", "/s.img.stripe1", 4 * KIB, 32 * KIB)).isEqualTo(filled(32 * KIB, 0x11));
                assertThat(onVolume("v1", "/s.img.stripe0", 0, 60 * KIB)).isEqualTo(filled(60 * KIB, 0x11));
                assertThat(onVolume("v1", "/s.img.stripe0", 60 * KIB, 4 * KIB)).isEqualTo(filled(4 * KIB, 0x22));
                // unit 16 (1M) is member 0's ninth unit
                assertThat(onVolume("v1", "/s.img.stripe0", 8L * 64 * KIB, 64 * KIB))
                        .isEqualTo(filled(64 * KIB, 0x33));

                // discard four whole units (two per member) and zero a range across a boundary
                run(qemuIo(uri, "discard 2M 256k", "write -z 3141632 8k", "flush"));
                assertThat(run(qemuIo(
                                uri,
                                "read -P 0x33 1M 1M",
                                "read -P 0 2M 256k",
                                "read -P 0x33 2359296 782336",
                                "read -P 0 3141632 8k",
                                "read -P 0x33 3149824 1044480")))
                        .doesNotContain("verification failed");
                String map = run("nbdinfo", "--map", uri);
                assertThat(map).containsPattern("(?m)^\\s*2097152\\s+262144\\s+3\\s");

                // nbdcopy round trip with a checksum
                byte[] content = new byte[8 * MIB];
                new Random(6).nextBytes(content);
                Path src = Files.write(root.resolve("src.raw"), content);
                Path back = root.resolve("back.raw");
                run("nbdcopy", "--flush", src.toString(), uri);
                run("nbdcopy", uri, back.toString());
                String want = sha256(content);
                String got = sha256(Files.readAllBytes(back));
                System.out.println("sha256 in " + want + " out " + got);
                assertThat(got).isEqualTo(want);
                Files.write(root.resolve("content.raw"), content);
            }
            // resize (the CLI opens the volumes itself, as another process would: the gateway is stopped
            // first, since one JVM holds one file system per node and volume); a new gateway sees it
            ok("nbd", "resize", "v1:/s.img", "16MiB");
            assertThat(holdfast("nbd", "resize", "v1:/s.img", "4MiB").exit())
                    .as("shrinking needs --shrink")
                    .isEqualTo(2);
            try (VolumeExports exports =
                            new VolumeExports(cluster.addresses().getFirst(), cluster.clientEnv(), List.of(), false);
                    NbdServer server = NbdServer.start(
                            NbdServer.Config.defaults(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)),
                            exports)) {
                String uri = "nbd://127.0.0.1:" + server.port() + "/v1/s.img";
                assertThat(run("nbdinfo", "--json", uri)).contains("\"export-size\": " + 16 * MIB);
                Path back = root.resolve("grown.raw");
                run("nbdcopy", uri, back.toString());
                byte[] grown = Files.readAllBytes(back);
                assertThat(Arrays.copyOf(grown, 8 * MIB)).isEqualTo(Files.readAllBytes(root.resolve("content.raw")));
                assertThat(Arrays.copyOfRange(grown, 8 * MIB, 16 * MIB)).containsOnly(0);
            }
            assertThat(ok("nbd", "rm", "v1:/s.img").out()).contains("removed");
            assertThat(exists("v1", "/s.img")).isFalse();
            assertThat(exists("v1", "/s.img.stripe0")).isFalse();
            assertThat(exists("v2", "/s.img.stripe1")).isFalse();
        } finally {
            cluster.close();
        }
    }
}
