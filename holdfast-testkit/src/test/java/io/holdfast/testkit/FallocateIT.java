package io.holdfast.testkit;

import static io.holdfast.testkit.Shell.run;
import static io.holdfast.testkit.Shell.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.client.nio.HoldfastFiles;
import io.holdfast.fuse.Capabilities;
import io.holdfast.fuse.FuseMount;
import io.holdfast.fuse.FuseOptions;
import io.holdfast.testing.TestSeed;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Linux fallocate(2) and lseek(2) SEEK_DATA/SEEK_HOLE through a FUSE mount of a three-node
 * volume, driven by the real tools ({@code fallocate(1)}, Python's {@code os.lseek}); each
 * change is also made to a file on the local disk, and the two are compared with {@code cmp}
 * and by size (not by hole layout, which is the local file system's own). Holes are checked
 * against Holdfast's documented 64 KiB granularity. The members must converge afterwards.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class FallocateIT {
    private static final String VOLUME = "falloc";
    private static final int B = 64 * 1024;

    @TempDir
    static Path clusterRoot;

    @TempDir
    static Path tmp;

    private static MiniCluster cluster;
    private static FileSystem client;
    private static FuseMount mount;
    private static Path mnt;

    @BeforeAll
    static void start() throws IOException {
        cluster = MiniCluster.start(clusterRoot, 3, 100_000);
        cluster.createVolume(VOLUME, 0, 1, 2);
        client = FileSystems.newFileSystem(
                URI.create("holdfast://" + cluster.addresses().get(0) + "/" + VOLUME), cluster.clientEnv());
        if (FuseMount.isAvailable()) {
            mnt = Files.createDirectory(tmp.resolve("mnt"));
            mount = FuseMount.mount(
                    client.getPath("/"),
                    mnt,
                    FuseOptions.defaults().withFsName("holdfast-falloc").withCapabilities(Capabilities.HOLDFAST));
        }
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (mount != null) {
                mount.close();
            }
            if (client != null) {
                client.close();
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

    /** Runs {@code fallocate ARGS} on the mounted file and on the reference, expecting success. */
    private static void both(String args, Path mounted, Path reference) throws Exception {
        sh("fallocate " + args + " " + mounted);
        sh("fallocate " + args + " " + reference);
        sh("cmp " + mounted + " " + reference);
        assertThat(Files.size(mounted)).as("size after fallocate %s", args).isEqualTo(Files.size(reference));
    }

    /** SEEK_DATA / SEEK_HOLE answers from Python's os.lseek on the mount: offsets, or "ENXIO". */
    private static List<String> seeks(Path file, String whence, long... offsets) throws Exception {
        StringBuilder py = new StringBuilder("import os, errno\nfd = os.open('" + file + "', os.O_RDONLY)\n");
        for (long off : offsets) {
            py.append("try:\n  print(os.lseek(fd, ")
                    .append(off)
                    .append(", os.")
                    .append(whence)
                    .append("))\n")
                    .append("except OSError as e:\n  print(errno.errorcode[e.errno])\n");
        }
        Path script = Files.writeString(Files.createTempFile(tmp, "seek", ".py"), py);
        return sh("python3 " + script).lines().toList();
    }

    @Test
    void fallocateToolsThroughTheMountMatchTheLocalDiskAndReportHoles() throws Exception {
        assumeTrue(mount != null, "FUSE is not available here");
        Path ref = tmp.resolve("ref");
        byte[] content = new byte[5 * B + 1234];
        TestSeed.random("FallocateIT").nextBytes(content);
        Files.write(ref, content);
        Path f = mnt.resolve("f");
        Files.write(f, content);
        sh("cmp " + f + " " + ref);

        both("-l 1048576", f, ref); // mode 0: extends
        both("-n -o 2000000 -l 65536", f, ref); // KEEP_SIZE past EOF: no change
        both("-p -o 70000 -l 200000", f, ref); // punch: partial block 1, whole blocks 2 and 3, partial 4
        both("-z -o 10 -l 5000", f, ref); // zero range inside block 0
        both("-z -o 1000000 -l 200000", f, ref); // zero range past EOF: extends to 1200000
        both("-p -o 0 -l 65536", f, ref); // exactly block 0
        assertThat(Files.size(f)).isEqualTo(1_200_000);
        assertThat(run("fallocate -c -o 0 -l 65536 " + f))
                .as("collapse range is refused")
                .isNotZero();
        sh("cmp " + f + " " + ref);

        // data: block 1 (partly punched), block 4 (partly punched), block 5 (the old partial last
        // block); holes: block 0, blocks 2-3, everything from block 6 (allocated or zeroed) to EOF
        assertThat(seeks(f, "SEEK_DATA", 0, 65536, 100_000, 131_072, 262_144, 393_216, 1_199_999, 1_200_000, -1))
                .containsExactly("65536", "65536", "100000", "262144", "262144", "ENXIO", "ENXIO", "ENXIO", "ENXIO");
        assertThat(seeks(f, "SEEK_HOLE", 0, 65536, 131_072, 262_144, 400_000, 1_199_999, 1_200_000))
                .containsExactly("0", "131072", "131072", "393216", "400000", "1199999", "ENXIO");

        // the same through the NIO API of a second client, through another member
        try (FileSystem other = FileSystems.newFileSystem(
                        URI.create("holdfast://" + cluster.addresses().get(1) + "/" + VOLUME), cluster.clientEnv());
                FileChannel ch =
                        FileChannel.open(other.getPath("/f"), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            assertThat(HoldfastFiles.seekData(ch, 0)).isEqualTo(B);
            assertThat(HoldfastFiles.seekHole(ch, B)).isEqualTo(2 * B);
            ch.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 3 * B); // write-behind, then a punch over it
            HoldfastFiles.punchHole(ch, 3 * B, 2);
            HoldfastFiles.zeroRange(ch, 1_200_000, 10, false);
            assertThat(ch.size()).isEqualTo(1_200_010);
            ByteBuffer back = ByteBuffer.allocate(3);
            ch.read(back, 3 * B);
            assertThat(back.array()).containsExactly(0, 0, 3);
            assertThat(HoldfastFiles.seekData(ch, 2 * B)).isEqualTo(3 * B);
        }
        try (FileChannel r = FileChannel.open(ref, StandardOpenOption.WRITE)) {
            r.write(ByteBuffer.wrap(new byte[] {0, 0, 3}), 3 * B);
            r.write(ByteBuffer.wrap(new byte[10]), 1_200_000);
        }
        sh("cmp " + f + " " + ref);
    }
}
