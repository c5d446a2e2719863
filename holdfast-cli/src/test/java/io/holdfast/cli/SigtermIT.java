package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.testkit.MiniCluster;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code holdfast server} stops cleanly on SIGTERM: the process exits 0 after closing its node,
 * and a client writing throughout loses no operation (in-flight requests complete or are
 * retried on the other members). The node then comes back and catches up.
 */
class SigtermIT {
    @TempDir
    Path root;

    @Test
    void sigtermStopsANodeCleanlyWhileClientsKeepWriting() throws Exception {
        try (MiniCluster c = MiniCluster.start(root, 3, 100_000)) {
            VolumeService v = c.createVolume("vol", 0, 1, 2);
            // node 2 becomes a real process, as an operator runs it
            c.stop(2);
            NodeFiles.write(c.config(2));
            Path log = root.resolve("node2.log");
            Process server = new ProcessBuilder(
                            Path.of(System.getProperty("java.home"), "bin", "java")
                                    .toString(),
                            "--enable-native-access=ALL-UNNAMED",
                            "--sun-misc-unsafe-memory-access=allow",
                            "-cp",
                            System.getProperty("java.class.path"),
                            Main.class.getName(),
                            "server",
                            "--data",
                            c.dataDir(2).toString(),
                            "--admin-address",
                            "127.0.0.1:0",
                            "--disk-reserve",
                            "" + (MiniCluster.TEST_DISK_RESERVE >> 20))
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
            try {
                MiniCluster.await(
                        Duration.ofSeconds(60),
                        () -> !server.isAlive() || contains(log, "running"),
                        "node 2 process runs");
                assertThat(server.isAlive()).as("server exited: %s", read(log)).isTrue();
                AtomicInteger done = new AtomicInteger();
                AtomicReference<Response> failure = new AtomicReference<>();
                CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                    for (int i = 0; i < 300 && failure.get() == null; i++) {
                        byte[] data = ("file " + i).getBytes(StandardCharsets.UTF_8);
                        Response created = v.submit(new Request.Create(Caller.ROOT, "/f" + i, 0644, true))
                                .join();
                        if (!(created instanceof Response.AttrReply a)) {
                            failure.set(created);
                            return;
                        }
                        Response written = v.submit(new Request.Write(
                                        Caller.ROOT, a.attr().inode(), 0, data, Checksums.crc32c(data)))
                                .join();
                        if (!(written instanceof Response.AttrReply)) {
                            failure.set(written);
                            return;
                        }
                        done.incrementAndGet();
                    }
                });
                MiniCluster.await(
                        Duration.ofSeconds(60), () -> done.get() >= 50 || writer.isDone(), "50 files written");
                server.destroy(); // SIGTERM
                assertThat(server.waitFor(60, TimeUnit.SECONDS))
                        .as("node 2 exits after SIGTERM")
                        .isTrue();
                int atTerm = done.get();
                writer.get(120, TimeUnit.SECONDS);
                System.out.printf(
                        "SIGTERM after %d of 300 files; exit %d; failures %s%n",
                        atTerm, server.exitValue(), failure.get());
                assertThat(server.exitValue()).as(read(log)).isZero();
                assertThat(read(log)).contains("node " + c.addresses().get(2) + " stopped");
                assertThat(read(log))
                        .containsPattern("status page and metrics \\(unauthenticated, read-only\\): "
                                + "http://127\\.0\\.0\\.1:\\d+/");
                assertThat(failure.get()).as("no client operation failed").isNull();
                assertThat(done.get()).isEqualTo(300);
            } finally {
                if (server.isAlive()) {
                    server.destroyForcibly();
                }
            }
            c.restart(2);
            Response.Digest d = c.awaitConvergence("vol", Duration.ofSeconds(60));
            List<String> names = new ArrayList<>();
            Response page = v.query(new Request.ReadDir("/", "", 1000)).join();
            assertThat(page).isInstanceOf(Response.DirPage.class);
            ((Response.DirPage) page).entries().forEach(e -> names.add(e.name()));
            assertThat(names).hasSize(300);
            System.out.println("all members identical at applied index " + d.appliedIndex());
        }
    }

    private static boolean contains(Path log, String text) {
        return read(log).contains(text);
    }

    private static String read(Path log) {
        try {
            return Files.exists(log) ? Files.readString(log) : "";
        } catch (IOException e) {
            return "";
        }
    }
}
