package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.testing.TestSeed;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full disk: the node's data directory is a 256 MiB tmpfs (RocksDB alone preallocates about 70 MiB). Writes get
 * ENOSPC once the free
 * space reaches the node's reserve; the node stays up, every acknowledged file reads back
 * intact, deleting still works and makes room, and after a restart the state is the same.
 * Needs root (mount); CI runs as root.
 */
class DiskFullIT {
    private static final long RESERVE = 24L << 20;

    @TempDir
    Path root;

    private final List<Path> mounts = new ArrayList<>();

    private void mountTmpfs(Path dir, String size) throws Exception {
        Files.createDirectories(dir);
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir.toString())
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0)
                .as("mount a %s tmpfs at %s (this test needs root): %s", size, dir, out)
                .isTrue();
        mounts.add(dir);
    }

    @AfterEach
    void unmount() throws Exception {
        for (Path m : mounts) {
            new ProcessBuilder("umount", "-l", m.toString()).inheritIO().start().waitFor(30, TimeUnit.SECONDS);
        }
    }

    private static long free(Path dir) throws IOException {
        return Files.getFileStore(dir).getUsableSpace();
    }

    @Test
    void writesGetEnospcAndTheNodeStaysUpAndConsistent() throws Exception {
        mountTmpfs(root.resolve("node0"), "256m");
        try (MiniCluster c = MiniCluster.start(root, 1, 1_000_000)) {
            c.tweakOptions(o -> o.diskReserve(RESERVE));
            c.restart(0);
            VolumeService v = c.createVolume("v", 0);
            Random random = TestSeed.random("DiskFullIT");
            Map<String, byte[]> written = new LinkedHashMap<>();
            Response refusal = null;
            for (int i = 0; i < 200 && refusal == null; i++) {
                String path = "/f" + i;
                Response created = Volumes.call(v.submit(new Request.Create(Caller.ROOT, path, 0644, true)));
                if (created instanceof Response.Error e) {
                    refusal = e;
                    break;
                }
                long inode = ((Response.AttrReply) created).attr().inode();
                byte[] data = new byte[1 << 20];
                random.nextBytes(data);
                Response w =
                        Volumes.call(v.submit(new Request.Write(Caller.ROOT, inode, 0, data, Checksums.crc32c(data))));
                if (w instanceof Response.Error e) {
                    refusal = e;
                } else {
                    written.put(path, data);
                }
            }
            System.out.printf(
                    "%d files of 1 MiB acknowledged, then %s; %.1f MiB free%n",
                    written.size(), refusal, free(c.dataDir(0)) / 1048576.0);
            assertThat(refusal).as("a write refused once the disk fills").isInstanceOf(Response.Error.class);
            assertThat(((Response.Error) refusal).errno()).isEqualTo(Errno.ENOSPC);
            assertThat(((Response.Error) refusal).message()).contains("reserve");
            assertThat(written).hasSizeGreaterThan(10);

            // the node is up, and every acknowledged file reads back intact
            Volumes.Reader reader = Volumes.reader(v);
            for (Map.Entry<String, byte[]> e : written.entrySet()) {
                assertThat(Volumes.readFile(reader, e.getKey()))
                        .as(e.getKey())
                        .hasValueSatisfying(
                                b -> assertThat(Arrays.equals(b, e.getValue())).isTrue());
            }
            // further writes are refused too (nothing logged: the state stays the same), while the
            // node serves; deleting works and makes room for new writes
            Response.Digest full = c.awaitConvergence("v", Duration.ofSeconds(30));
            byte[] more = new byte[1 << 20];
            long first = ((Response.AttrReply) Volumes.call(v.query(
                            new Request.GetAttr(written.keySet().iterator().next(), false))))
                    .attr()
                    .inode();
            Response again = Volumes.call(
                    v.submit(new Request.Write(Caller.ROOT, first, 1 << 20, more, Checksums.crc32c(more))));
            assertThat(again)
                    .isInstanceOfSatisfying(
                            Response.Error.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOSPC));
            assertThat(c.awaitConvergence("v", Duration.ofSeconds(30)).hex()).isEqualTo(full.hex());
            List<String> names = new ArrayList<>(written.keySet());
            for (String p : names.subList(0, names.size() / 2)) {
                assertThat(Volumes.call(v.submit(new Request.Unlink(Caller.ROOT, p, false))))
                        .isInstanceOf(Response.AttrReply.class);
                written.remove(p);
            }
            MiniCluster.await(
                    Duration.ofSeconds(30),
                    () -> {
                        try {
                            return free(c.dataDir(0)) > RESERVE + (2 << 20);
                        } catch (IOException e) {
                            return false;
                        }
                    },
                    "deleting files frees space");
            assertThat(Volumes.call(v.submit(new Request.Mkdir(Caller.ROOT, "/d", 0755))))
                    .isInstanceOf(Response.AttrReply.class);

            // consistent across a restart
            Response.Digest before = c.awaitConvergence("v", Duration.ofSeconds(30));
            c.restart(0);
            Response.Digest after = c.awaitConvergence("v", Duration.ofSeconds(60));
            assertThat(after).isEqualTo(before);
            for (Map.Entry<String, byte[]> e : written.entrySet()) {
                assertThat(Volumes.readFile(Volumes.reader(c.client().volume("v")), e.getKey()))
                        .as(e.getKey())
                        .hasValueSatisfying(
                                b -> assertThat(Arrays.equals(b, e.getValue())).isTrue());
            }
        }
    }
}
