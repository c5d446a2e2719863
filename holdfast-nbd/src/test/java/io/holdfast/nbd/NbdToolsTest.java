package io.holdfast.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real NBD clients (libnbd's {@code nbdinfo} and {@code nbdcopy}, qemu's {@code qemu-io} and
 * {@code qemu-img}) against the server over a local file, so interoperability is checked without
 * a cluster; NbdIT in holdfast-testkit does the same on a replicated volume. Skipped where the
 * tools are not installed ({@code apt-get install libnbd-bin qemu-utils}).
 */
class NbdToolsTest {
    @TempDir
    Path dir;

    private NbdServer server;
    private String uri;

    @BeforeEach
    void start() throws IOException {
        Files.write(dir.resolve("disk"), new byte[4 << 20]);
        server = NbdServer.start(
                NbdServer.Config.defaults(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)),
                new LocalExports(dir, false));
        uri = "nbd://127.0.0.1:" + server.port() + "/disk";
    }

    @AfterEach
    void stop() {
        server.close();
    }

    static boolean installed(String tool) {
        return Files.isExecutable(Path.of("/usr/bin", tool));
    }

    static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS))
                .as("%s finished", List.of(command))
                .isTrue();
        assertThat(p.exitValue())
                .as("exit status of %s; output:%n%s", List.of(command), out)
                .isZero();
        return out;
    }

    @Test
    void nbdinfoSeesTheExport() throws Exception {
        assumeTrue(installed("nbdinfo"), "nbdinfo (libnbd-bin) is not installed");
        String out = run("nbdinfo", "--json", uri);
        assertThat(out).contains("\"export-size\": 4194304");
        assertThat(out).contains("\"can_multi_conn\": true");
        assertThat(out).contains("\"can_flush\": true");
        assertThat(out).contains("\"can_fast_zero\": true");
        assertThat(out).contains("\"block_size_preferred\": 4096");
        assertThat(run("nbdinfo", "--list", "nbd://127.0.0.1:" + server.port())).contains("disk");
        assertThat(run("nbdinfo", "--map", uri)).contains("data");
    }

    @Test
    void aUnixSocketServesTheSameExports() throws Exception {
        assumeTrue(installed("nbdinfo"), "nbdinfo (libnbd-bin) is not installed");
        Path socket = dir.resolve("nbd.sock");
        try (NbdServer unix = NbdServer.start(
                NbdServer.Config.defaults(UnixDomainSocketAddress.of(socket)), new LocalExports(dir, false))) {
            assertThat(unix.port()).isEqualTo(-1);
            assertThat(Files.getPosixFilePermissions(socket)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
            assertThat(run("nbdinfo", "--size", "nbd+unix:///disk?socket=" + socket)
                            .strip())
                    .isEqualTo(String.valueOf(4 << 20));
            assertThatThrownBy(() -> NbdServer.start(
                            NbdServer.Config.defaults(UnixDomainSocketAddress.of(socket)),
                            new LocalExports(dir, false)))
                    .as("the socket is taken")
                    .isInstanceOf(IOException.class);
        }
        assertThat(socket).as("removed on close").doesNotExist();
    }

    @Test
    void qemuIoWritesAndReadsPatterns() throws Exception {
        assumeTrue(installed("qemu-io"), "qemu-io (qemu-utils) is not installed");
        run(
                "qemu-io",
                "-f",
                "raw",
                "-c",
                "write -P 0xab 0 1M",
                "-c",
                "write -P 0xcd 3M 64k",
                "-c",
                "write -z 1M 64k",
                "-c",
                "discard 2M 64k",
                "-c",
                "flush",
                uri);
        String out = run(
                "qemu-io",
                "-f",
                "raw",
                "-c",
                "read -P 0xab 0 1M",
                "-c",
                "read -P 0xcd 3M 64k",
                "-c",
                "read -P 0 1M 64k",
                uri);
        assertThat(out).doesNotContain("Pattern verification failed");
        byte[] disk = Files.readAllBytes(dir.resolve("disk"));
        assertThat(disk[0]).isEqualTo((byte) 0xab);
        assertThat(disk[(3 << 20) + 100]).isEqualTo((byte) 0xcd);
    }

    @Test
    void nbdcopyRoundTrip() throws Exception {
        assumeTrue(installed("nbdcopy"), "nbdcopy (libnbd-bin) is not installed");
        byte[] content = new byte[4 << 20];
        new Random(3).nextBytes(content);
        Path src = Files.write(dir.resolve("src.raw"), content);
        Path back = dir.resolve("back.raw");
        run("nbdcopy", src.toString(), uri);
        run("nbdcopy", uri, back.toString());
        assertThat(Files.readAllBytes(back)).isEqualTo(content);
    }
}
