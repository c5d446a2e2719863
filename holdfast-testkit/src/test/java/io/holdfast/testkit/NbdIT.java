package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.client.nio.HoldfastFiles;
import io.holdfast.nbd.NbdServer;
import io.holdfast.nbd.VolumeExports;
import io.holdfast.testing.TestSeed;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The NBD gateway over a three-node volume, driven by real NBD clients: libnbd's {@code nbdinfo}
 * and {@code nbdcopy}, qemu's {@code qemu-io} and {@code qemu-img} (Debian packages libnbd-bin
 * and qemu-utils, which {@code .ci/run} installs). Data written through NBD is read back through
 * NBD and through a second, independent {@code holdfast://} client after a flush (what a flush
 * promises: committed on the volume); a trim shows as a hole in {@code nbdinfo --map}; garbage
 * sent to the port ends that connection only. The members must converge afterwards.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class NbdIT {
    private static final String VOLUME = "blocks";
    private static final long SIZE = 64L << 20;
    private static final int MIB = 1 << 20;

    @TempDir
    static Path clusterRoot;

    @TempDir
    static Path tmp;

    private static MiniCluster cluster;
    private static VolumeExports exports;
    private static NbdServer server;

    @BeforeAll
    static void start() throws IOException {
        cluster = MiniCluster.start(clusterRoot, 3, 100_000);
        cluster.createVolume(VOLUME, 0, 1, 2);
        try (FileSystem fs = volume()) {
            for (String name : List.of("/disk.img", "/copy.img", "/map.img", "/fio.img", "/vm.img", "/conv.img")) {
                Path p = fs.getPath(name);
                try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    HoldfastFiles.fallocate(ch, 0, 0, SIZE);
                }
            }
        }
        exports = new VolumeExports(cluster.addresses().getFirst(), cluster.clientEnv(), List.of(), false);
        server = NbdServer.start(
                NbdServer.Config.defaults(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)), exports);
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (server != null) {
                server.close();
            }
            if (exports != null) {
                exports.close();
            }
            if (cluster != null) {
                cluster.awaitConvergence(VOLUME, Duration.ofSeconds(60));
            }
        } finally {
            if (cluster != null) {
                cluster.close();
            }
        }
    }

    /**
     * A new client of the volume, independent of the gateway's (which is reached through the first
     * node; file systems are per node address and volume).
     */
    private static FileSystem volume() throws IOException {
        return FileSystems.newFileSystem(
                URI.create("holdfast://" + cluster.addresses().get(1) + "/" + VOLUME), cluster.clientEnv());
    }

    private static String uri(String image) {
        return "nbd://127.0.0.1:" + server.port() + "/" + VOLUME + "/" + image;
    }

    private static void assumeTool(String tool) {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin", tool)), tool + " is not installed (see .ci/run)");
    }

    private static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(240, TimeUnit.SECONDS))
                .as("%s finished", List.of(command))
                .isTrue();
        assertThat(p.exitValue())
                .as("exit status of %s; output:%n%s", List.of(command), out)
                .isZero();
        System.out.println("$ " + String.join(" ", command) + "\n" + out);
        return out;
    }

    /** Reads {@code length} bytes of an image through a new holdfast:// client. */
    private static byte[] readThroughAnotherClient(String image, long offset, int length) throws IOException {
        try (FileSystem fs = volume();
                FileChannel ch = FileChannel.open(fs.getPath("/" + image), StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(length);
            while (b.hasRemaining()) {
                int n = ch.read(b, offset + b.position());
                if (n < 0) {
                    break;
                }
            }
            return b.array();
        }
    }

    /** One line of {@code nbdinfo --map}: offset, length, type. */
    private record Extent(long offset, long length, int type) {}

    private static List<Extent> map(String image) throws Exception {
        List<Extent> extents = new ArrayList<>();
        for (String line : run("nbdinfo", "--map", uri(image)).lines().toList()) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 3 && f[0].matches("\\d+")) {
                extents.add(new Extent(Long.parseLong(f[0]), Long.parseLong(f[1]), Integer.parseInt(f[2])));
            }
        }
        return extents;
    }

    /** The type {@code nbdinfo --map} reports at {@code offset}. */
    private static int typeAt(List<Extent> map, long offset) {
        for (Extent e : map) {
            if (offset >= e.offset() && offset < e.offset() + e.length()) {
                return e.type();
            }
        }
        throw new AssertionError("no extent covers " + offset + " in " + map);
    }

    @Test
    void nbdinfoReportsTheImage() throws Exception {
        assumeTool("nbdinfo");
        String out = run("nbdinfo", "--json", uri("disk.img"));
        assertThat(out).contains("\"export-size\": " + SIZE);
        assertThat(out).contains("\"can_multi_conn\": true");
        assertThat(out).contains("\"can_flush\": true");
        assertThat(out).contains("\"can_fua\": true");
        assertThat(out).contains("\"can_trim\": true");
        assertThat(out).contains("\"can_zero\": true");
        assertThat(out).contains("\"can_fast_zero\": true");
        assertThat(out).contains("\"is_read_only\": false");
    }

    @Test
    void qemuIoDataIsReadBackAndIsOnTheVolumeAfterAFlush() throws Exception {
        assumeTool("qemu-io");
        run(
                "qemu-io",
                "-f",
                "raw",
                "-c",
                "write -P 0xab 0 1M",
                "-c",
                "write -P 0xcd 5M 64k",
                "-c",
                "write -P 0xef 7M 4k",
                "-c",
                "flush",
                uri("disk.img"));
        String read = run(
                "qemu-io",
                "-f",
                "raw",
                "-c",
                "read -P 0xab 0 1M",
                "-c",
                "read -P 0xcd 5M 64k",
                "-c",
                "read -P 0xef 7M 4k",
                "-c",
                "read -P 0 2M 1M",
                uri("disk.img"));
        assertThat(read).doesNotContain("verification failed");
        // flushed, so committed on the volume: an independent client sees it
        byte[] first = readThroughAnotherClient("disk.img", 0, MIB);
        byte[] expected = new byte[MIB];
        Arrays.fill(expected, (byte) 0xab);
        assertThat(first).isEqualTo(expected);
        assertThat(readThroughAnotherClient("disk.img", 7 * MIB, 4096)).containsOnly((byte) 0xef);
        // write zeroes and discard read back as zeros
        run("qemu-io", "-f", "raw", "-c", "write -z 0 64k", "-c", "discard 5M 64k", uri("disk.img"));
        assertThat(run(
                        "qemu-io",
                        "-f",
                        "raw",
                        "-c",
                        "read -P 0 0 64k",
                        "-c",
                        "read -P 0 5M 64k",
                        "-c",
                        "read -P 0xab 64k 960k",
                        uri("disk.img")))
                .doesNotContain("verification failed");
    }

    @Test
    void trimLeavesHolesThatBlockStatusReports() throws Exception {
        assumeTool("qemu-io");
        assumeTool("nbdinfo");
        List<Extent> fresh = map("map.img");
        assertThat(typeAt(fresh, 0)).as("a new image is a hole: %s", fresh).isEqualTo(3);
        run("qemu-io", "-f", "raw", "-c", "write -P 0x11 0 4M", "-c", "flush", uri("map.img"));
        List<Extent> written = map("map.img");
        assertThat(typeAt(written, 0)).as("written: %s", written).isZero();
        assertThat(typeAt(written, 4 * MIB - 1)).isZero();
        assertThat(typeAt(written, 4 * MIB))
                .as("after the written part: %s", written)
                .isEqualTo(3);
        run("qemu-io", "-f", "raw", "-c", "discard 1M 2M", uri("map.img"));
        List<Extent> trimmed = map("map.img");
        assertThat(typeAt(trimmed, 0)).as("trimmed: %s", trimmed).isZero();
        assertThat(typeAt(trimmed, MIB)).as("trimmed: %s", trimmed).isEqualTo(3);
        assertThat(typeAt(trimmed, 3 * MIB - 1)).isEqualTo(3);
        assertThat(typeAt(trimmed, 3 * MIB)).isZero();
        assertThat(run("qemu-io", "-f", "raw", "-c", "read -P 0 1M 2M", "-c", "read -P 0x11 3M 1M", uri("map.img")))
                .doesNotContain("verification failed");
    }

    @Test
    void nbdcopyAndQemuImgRoundTrip() throws Exception {
        assumeTool("nbdcopy");
        assumeTool("qemu-img");
        byte[] content = new byte[24 * MIB];
        TestSeed.random("NbdIT").nextBytes(content);
        Arrays.fill(content, 8 * MIB, 12 * MIB, (byte) 0); // a zero run for the sparse paths
        Path src = Files.write(tmp.resolve("src.raw"), content);
        Files.write(src, new byte[(int) SIZE - content.length], StandardOpenOption.APPEND);
        run("nbdcopy", "--flush", src.toString(), uri("copy.img"));
        Path back = tmp.resolve("back.raw");
        run("nbdcopy", uri("copy.img"), back.toString());
        assertThat(Files.mismatch(src, back)).as("first differing byte").isEqualTo(-1);
        assertThat(run("qemu-img", "compare", "-f", "raw", "-F", "raw", src.toString(), uri("copy.img")))
                .contains("Images are identical");
        byte[] head = readThroughAnotherClient("copy.img", 0, MIB);
        assertThat(head).isEqualTo(Arrays.copyOf(content, MIB));
    }

    /**
     * qemu-img as a VM host uses it: {@code create} formats a qcow2 inside an export (qemu's nbd
     * driver opens the export and writes the qcow2 header into it), qemu-io writes a guest pattern
     * through that qcow2, and {@code convert} copies a local qcow2 into another export as raw, which
     * {@code compare} then finds identical to its source.
     */
    @Test
    void qemuImgCreatesConvertsAndComparesThroughExports() throws Exception {
        assumeTool("qemu-img");
        assumeTool("qemu-io");
        run("qemu-img", "create", "-f", "qcow2", uri("vm.img"), "16M");
        assertThat(run("qemu-img", "info", uri("vm.img")))
                .contains("file format: qcow2")
                .contains("virtual size: 16 MiB");
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x42 1M 2M", uri("vm.img"));
        assertThat(run("qemu-io", "-f", "qcow2", "-c", "read -P 0x42 1M 2M", "-c", "read -P 0 3M 1M", uri("vm.img")))
                .doesNotContain("verification failed");
        assertThat(run("qemu-img", "check", "-f", "qcow2", uri("vm.img"))).contains("No errors were found");

        Path src = tmp.resolve("src.qcow2");
        run("qemu-img", "create", "-f", "qcow2", src.toString(), String.valueOf(SIZE));
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x17 0 3M", "-c", "write -P 0xe9 40M 1M", src.toString());
        run("qemu-img", "convert", "-n", "-f", "qcow2", "-O", "raw", src.toString(), uri("conv.img"));
        assertThat(run("qemu-img", "compare", "-f", "qcow2", "-F", "raw", src.toString(), uri("conv.img")))
                .contains("Images are identical");
        assertThat(readThroughAnotherClient("conv.img", 40L * MIB, MIB))
                .as("the converted bytes on the volume")
                .containsOnly((byte) 0xe9);
    }

    /**
     * fio writes random 4 KiB blocks with a CRC32C in each through the nbd engine, flushing every 32
     * writes, and then reads every block back and checks it; the volume's leader is stopped while it
     * writes. The stop may cost latency but no error may reach the NBD client, and every block must
     * verify.
     */
    @Test
    void fioVerifySurvivesALeaderStop() throws Exception {
        assumeTool("fio");
        UUID group = Volumes.groupId(cluster, VOLUME);
        int leader = Volumes.awaitLeader(cluster, 3, group);
        long start = Volumes.status(cluster, leader, group).commitIndex();
        Path out = tmp.resolve("fio.out");
        Process fio = new ProcessBuilder(
                        "fio",
                        "--name=verify",
                        "--ioengine=nbd",
                        "--uri=" + uri("fio.img"),
                        "--rw=randwrite",
                        "--bs=4k",
                        "--size=24M",
                        "--iodepth=16",
                        "--fsync=32",
                        "--verify=crc32c",
                        "--do_verify=1",
                        "--verify_fatal=1",
                        "--verify_state_save=0",
                        "--randseed=" + TestSeed.seed())
                .directory(tmp.toFile()) // fio's own files (if any) go to the test's directory
                .redirectErrorStream(true)
                .redirectOutput(out.toFile())
                .start();
        try {
            MiniCluster.await(
                    Duration.ofSeconds(120),
                    () -> Volumes.status(cluster, leader, group).commitIndex() >= start + 1000 || !fio.isAlive(),
                    "fio has written 1000 blocks");
            assertThat(fio.isAlive())
                    .as("fio still writing when the leader stops")
                    .isTrue();
            cluster.stop(leader);
            System.out.println(
                    "stopped leader node" + leader + " at commit index " + (start + 1000) + "+ while fio wrote");
            assertThat(fio.waitFor(240, TimeUnit.SECONDS)).as("fio finished").isTrue();
        } finally {
            fio.destroyForcibly();
            cluster.restart(leader);
        }
        String log = Files.readString(out);
        System.out.println(log);
        assertThat(fio.exitValue()).as("fio exit status; output:%n%s", log).isZero();
        assertThat(log).contains("err= 0").doesNotContain("verify: bad");
    }

    @Test
    void garbageAtThePortEndsOnlyThatConnection() throws Exception {
        assumeTool("nbdinfo");
        InetSocketAddress a = (InetSocketAddress) server.address();
        try (Socket s = new Socket(a.getAddress(), a.getPort())) {
            s.setSoTimeout(20_000);
            DataInputStream in = new DataInputStream(s.getInputStream());
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            in.readFully(new byte[18]);
            out.writeInt(1 | 2);
            out.write("\0\0\0\0garbage that is not IHAVEOPT".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            assertThat(closedByServer(s.getInputStream())).isTrue();
        }
        try (Socket s = new Socket(a.getAddress(), a.getPort())) {
            s.setSoTimeout(20_000);
            DataInputStream in = new DataInputStream(s.getInputStream());
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            in.readFully(new byte[18]);
            out.writeInt(1 | 2);
            // NBD_OPT_GO announcing 4 GiB of data, then some of it, then the client vanishes
            out.writeLong(0x49484156454F5054L);
            out.writeInt(7);
            out.writeInt(-1);
            out.write(new byte[1 << 20]);
            out.flush();
        }
        try (Socket s = new Socket(a.getAddress(), a.getPort())) {
            s.setSoTimeout(20_000);
            DataInputStream in = new DataInputStream(s.getInputStream());
            DataOutputStream out = new DataOutputStream(s.getOutputStream());
            in.readFully(new byte[18]);
            out.writeInt(1 | 2);
            byte[] name = (VOLUME + "/disk.img").getBytes(StandardCharsets.UTF_8);
            out.writeLong(0x49484156454F5054L);
            out.writeInt(7);
            out.writeInt(4 + name.length + 2);
            out.writeInt(name.length);
            out.write(name);
            out.writeShort(0);
            out.flush();
            // skip the option replies up to the ACK, then send a write claiming 4 GiB - 1 and a bad request
            while (true) {
                in.readLong();
                in.readInt();
                int type = in.readInt();
                in.readFully(new byte[in.readInt()]);
                if (type == 1) {
                    break;
                }
                assertThat(type).as("GO succeeds").isGreaterThan(0);
            }
            out.writeInt(0x25609513);
            out.writeShort(0);
            out.writeShort(1); // WRITE
            out.writeLong(1);
            out.writeLong(0);
            out.writeInt(-1);
            out.write(new byte[1 << 20]);
            out.flush();
        }
        String info = run("nbdinfo", "--json", uri("disk.img"));
        assertThat(info).contains("\"export-size\": " + SIZE);
        assertThat(server.connections()).isLessThanOrEqualTo(1);
    }

    private static boolean closedByServer(InputStream in) throws IOException {
        try {
            while (in.read() >= 0) {
                // drain
            }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }
}
