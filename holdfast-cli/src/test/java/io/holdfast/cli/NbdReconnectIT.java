package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.testkit.MiniCluster;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
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
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway dies and comes back under a connected NBD client: {@code holdfast nbd serve} runs
 * as a process, {@code qemu-nbd} is its long-lived client (an NBD client with qemu's
 * {@code reconnect-delay}, re-exporting the image on a Unix socket), and {@code qemu-io} writes
 * through it. Data written and flushed before the gateway is killed with SIGKILL, and data whose
 * writes were in flight when it was killed and that the client flushed after the restart, read
 * back exactly: through qemu, and through an independent {@code holdfast://} client.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class NbdReconnectIT {
    private static final int MIB = 1 << 20;

    @TempDir
    Path root;

    private static boolean tool(String name) {
        return Files.isExecutable(Path.of("/usr/bin", name));
    }

    private static String read(Path log) {
        try {
            return Files.exists(log) ? Files.readString(log) : "";
        } catch (IOException e) {
            return "";
        }
    }

    private Process gateway(String cluster, Path tls, int port, Path log) throws IOException {
        Process p = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "--enable-native-access=ALL-UNNAMED",
                        "--sun-misc-unsafe-memory-access=allow",
                        "-cp",
                        System.getProperty("java.class.path"),
                        Main.class.getName(),
                        "nbd",
                        "serve",
                        "--cluster=" + cluster,
                        "--tls=" + tls,
                        "--listen",
                        "127.0.0.1:" + port)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        MiniCluster.await(
                Duration.ofSeconds(90), () -> !p.isAlive() || read(log).contains("serving NBD"), "the gateway serves");
        assertThat(p.isAlive()).as("gateway exited: %s", read(log)).isTrue();
        return p;
    }

    private static String[] qemuIo(Path socket, boolean readOnly, List<String> commands) {
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
        if (readOnly) {
            cmd.add("-r");
        }
        cmd.add("nbd+unix:///?socket=" + socket);
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        return cmd.toArray(String[]::new);
    }

    private static String ok(Process p, String what) throws Exception {
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(240, TimeUnit.SECONDS)).as(what + " finished").isTrue();
        System.out.println("$ " + what + " (exit " + p.exitValue() + ")\n" + out);
        assertThat(p.exitValue()).as("%s; output:%n%s", what, out).isZero();
        assertThat(out).doesNotContain("verification failed").doesNotContain("error");
        return out;
    }

    private static Process start(String... command) throws IOException {
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }

    /** Bytes of the image as a new holdfast:// client reads them. */
    private static byte[] onVolume(MiniCluster c, long offset, int length) throws IOException {
        try (FileSystem fs = FileSystems.newFileSystem(
                        URI.create("holdfast://" + c.addresses().get(1) + "/vms"), c.clientEnv());
                FileChannel ch = FileChannel.open(fs.getPath("/r.img"), StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(length);
            while (b.hasRemaining() && ch.read(b, offset + b.position()) >= 0) {
                // read on until full
            }
            return b.array();
        }
    }

    private static boolean filledWith(byte[] data, int value) {
        for (byte b : data) {
            if (b != (byte) value) {
                return false;
            }
        }
        return true;
    }

    @Test
    void flushedDataSurvivesTheGatewayKilledAndRestartedUnderAReconnectingClient() throws Exception {
        assumeTrue(tool("qemu-nbd") && tool("qemu-io"), "qemu-utils is not installed (see .ci/run)");
        try (MiniCluster c = MiniCluster.start(root.resolve("cluster"), 3, 100_000)) {
            c.createVolume("vms", 0, 1, 2);
            String cluster = c.addresses().getFirst();
            Path tls = root.resolve("cluster").resolve("tls-admin");
            Cli created = Cli.run("nbd", "create", "vms:/r.img", "64MiB", "--cluster=" + cluster, "--tls=" + tls);
            assertThat(created.exit()).as(created.err()).isZero();
            int port;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                port = s.getLocalPort();
            }
            Path socket = root.resolve("qemu.sock");
            Process gateway = gateway(cluster, tls, port, root.resolve("gateway-1.log"));
            Process qemuNbd = null;
            Process writer = null;
            try {
                qemuNbd = new ProcessBuilder(
                                "qemu-nbd",
                                "--persistent",
                                "--shared=4",
                                "--socket=" + socket,
                                "--image-opts",
                                "driver=raw,file.driver=nbd,file.server.type=inet,file.server.host=127.0.0.1,"
                                        + "file.server.port=" + port + ",file.export=vms/r.img,"
                                        + "file.reconnect-delay=120")
                        .redirectErrorStream(true)
                        .redirectOutput(root.resolve("qemu-nbd.log").toFile())
                        .start();
                Process q = qemuNbd;
                MiniCluster.await(
                        Duration.ofSeconds(60), () -> !q.isAlive() || Files.exists(socket), "qemu-nbd listens");
                assertThat(qemuNbd.isAlive())
                        .as(read(root.resolve("qemu-nbd.log")))
                        .isTrue();

                // 1. written and flushed before the gateway dies
                ok(start(qemuIo(socket, false, List.of("write -P 0xa1 0 4M", "flush"))), "qemu-io write+flush");

                // 2. 32 writes of 1 MiB on their way when the gateway is killed (SIGKILL), then a flush
                List<String> commands = new ArrayList<>();
                for (int i = 0; i < 32; i++) {
                    commands.add("write -P 0xb2 " + (8 + i) + "M 1M");
                }
                commands.add("flush");
                writer = start(qemuIo(socket, false, commands));
                MiniCluster.await(
                        Duration.ofSeconds(120),
                        () -> {
                            try {
                                return filledWith(onVolume(c, 8 * MIB, 4096), 0xb2);
                            } catch (IOException e) {
                                return false;
                            }
                        },
                        "the first of the writes reaches the volume");
                gateway.destroyForcibly();
                assertThat(gateway.waitFor(30, TimeUnit.SECONDS)).isTrue();
                boolean writerDoneAtKill = !writer.isAlive();
                gateway = gateway(cluster, tls, port, root.resolve("gateway-2.log"));
                ok(writer, "qemu-io 32 writes + flush across the restart");
                System.out.println("writer had finished when the gateway was killed: " + writerDoneAtKill);

                // 3. everything flushed reads back, through qemu and through another client
                ok(
                        start(qemuIo(
                                socket, true, List.of("read -P 0xa1 0 4M", "read -P 0xb2 8M 32M", "read -P 0 40M 1M"))),
                        "qemu-io read back");
            } finally {
                if (writer != null && writer.isAlive()) {
                    writer.destroyForcibly();
                }
                if (qemuNbd != null) {
                    qemuNbd.destroy();
                    qemuNbd.waitFor(30, TimeUnit.SECONDS);
                }
                gateway.destroy();
                gateway.waitFor(60, TimeUnit.SECONDS);
            }
            assertThat(filledWith(onVolume(c, 0, 4 * MIB), 0xa1)).isTrue();
            assertThat(filledWith(onVolume(c, 8 * MIB, 32 * MIB), 0xb2)).isTrue();
            System.out.println("gateway before the kill:\n" + read(root.resolve("gateway-1.log")));
            System.out.println("qemu-nbd:\n" + read(root.resolve("qemu-nbd.log")));
        }
    }
}
