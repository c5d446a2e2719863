package io.holdfast.testkit;

import static io.holdfast.testkit.Shell.run;
import static io.holdfast.testkit.Shell.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.client.nio.HoldfastFileSystem;
import io.holdfast.fuse.Capabilities;
import io.holdfast.fuse.FuseMount;
import io.holdfast.fuse.FuseOptions;
import io.holdfast.testing.TestSeed;
import java.io.IOException;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Close-to-open and read-your-writes on a three-node volume, checked step by step by the
 * {@link FileExerciser} through every kind of client: two NIO clients, two FUSE mounts (each its
 * own client, as on two machines), and a mount beside an NIO client; and {@code cp} followed at
 * once by {@code cmp} through a mount, as a user does.
 *
 * <p>Seed: {@code -Dholdfast.seed=N} (printed on every run); steps per run:
 * {@code -Dholdfast.exerciser.steps=N} (default 400).
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class FileExerciserIT {
    private static final long SEED = TestSeed.seed();
    private static final int STEPS = Integer.getInteger("holdfast.exerciser.steps", 400);
    private static final String VOLUME = "ex";

    @TempDir
    static Path clusterRoot;

    private static MiniCluster cluster;

    @TempDir
    Path tmp;

    private final List<AutoCloseable> opened = new ArrayList<>();

    @BeforeAll
    static void startCluster() throws IOException {
        System.out.println("FileExerciserIT seed=" + SEED + " steps=" + STEPS);
        cluster = MiniCluster.start(clusterRoot, 3, 100_000);
        cluster.createVolume(VOLUME, 0, 1, 2);
    }

    @AfterAll
    static void stopCluster() throws IOException {
        try {
            if (cluster != null) {
                cluster.awaitConvergence(VOLUME, Duration.ofSeconds(60));
            }
        } finally {
            if (cluster != null) {
                cluster.close();
            }
        }
    }

    @AfterEach
    void closeClients() throws Exception {
        Exception first = null;
        for (AutoCloseable c : opened.reversed()) {
            try {
                c.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /** A new client of the volume through node {@code node}, with its own connection. */
    private Path nioClient(int node, String dir) throws IOException {
        FileSystem fs = FileSystems.newFileSystem(
                URI.create("holdfast://" + cluster.addresses().get(node) + "/" + VOLUME), cluster.clientEnv());
        opened.add(fs);
        return Files.createDirectories(fs.getPath("/" + dir));
    }

    /** A FUSE mount of the volume through its own client; returns the mounted {@code dir}. */
    private Path mount(int node, String dir) throws IOException {
        return mount(
                node,
                dir,
                FuseOptions.defaults().withFsName("holdfast-exerciser").withCapabilities(Capabilities.HOLDFAST));
    }

    private Path mount(int node, String dir, FuseOptions options) throws IOException {
        assumeTrue(FuseMount.isAvailable(), "FUSE is not available here");
        Path root = nioClient(node, dir).getRoot();
        Path mnt = Files.createDirectory(tmp.resolve("mnt" + opened.size()));
        opened.add(FuseMount.mount(root, mnt, options));
        return mnt.resolve(dir);
    }

    private void exercise(String what, FileExerciser.Client a, FileExerciser.Client b) throws IOException {
        Map<FileExerciser.Op, Integer> counts = new FileExerciser(SEED, List.of(a, b)).run(STEPS);
        int total = counts.values().stream().mapToInt(Integer::intValue).sum();
        System.out.println("exerciser " + what + " seed=" + SEED + ": " + total + " operations " + counts);
        assertThat(counts).containsKeys(FileExerciser.Op.WRITE, FileExerciser.Op.READ, FileExerciser.Op.STAT);
    }

    @Test
    void twoNioClients() throws IOException {
        exercise(
                "nio+nio",
                new FileExerciser.Client("nioA", nioClient(0, "nio")),
                new FileExerciser.Client("nioB", nioClient(1, "nio")));
    }

    @Test
    void twoFuseMounts() throws IOException {
        exercise(
                "fuse+fuse",
                new FileExerciser.Client("fuseA", mount(0, "fuse")),
                new FileExerciser.Client("fuseB", mount(1, "fuse")));
    }

    @Test
    void fuseMountAndNioClient() throws IOException {
        exercise(
                "fuse+nio",
                new FileExerciser.Client("fuse", mount(0, "mixed")),
                new FileExerciser.Client("nio", nioClient(1, "mixed")));
    }

    /** {@code cp} then at once {@code cmp} and {@code stat} through the same mount, 100 files. */
    @Test
    void cpThenCmpAtOnce() throws Exception {
        Path mnt = mount(0, "cp");
        Random random = new Random(SEED);
        Path src = Files.createDirectory(tmp.resolve("src"));
        int mismatches = 0;
        for (int i = 0; i < 100; i++) {
            int size = i % 10 == 0 ? 5_000_000 : random.nextInt(i % 3 == 0 ? 1_000_000 : 300_000);
            byte[] data = new byte[size];
            random.nextBytes(data);
            Path f = Files.write(src.resolve("f" + i), data);
            Path dst = mnt.resolve("f" + i);
            sh("cp " + f + " " + dst);
            String statSize = sh("stat -c %s " + dst).trim();
            int cmp = run("cmp " + f + " " + dst);
            if (cmp != 0 || !statSize.equals(Integer.toString(size))) {
                mismatches++;
                System.out.println(
                        "mismatch: " + dst + " cmp exit " + cmp + ", stat size " + statSize + ", copied " + size);
            }
        }
        System.out.println("cp + immediate cmp through the mount: 100 files, " + mismatches + " mismatches");
        assertThat(mismatches).isZero();
        assertThat(sh("ls -a " + mnt).lines().toList())
                .as("readdir lists . and ..")
                .contains(".", "..")
                .hasSize(102);
    }

    /**
     * POSIX privilege rules through the mount, with each caller's own credentials (as {@code
     * holdfast mount --allow-other} runs): a writer who is not the owner may write a mode-6777 file
     * and the write clears set-user-ID and set-group-ID (POSIX write(2)); any writer may set both
     * times to now ({@code touch}, utimensat UTIME_NOW), only the owner may set explicit times.
     */
    @Test
    void privilegeRulesForAWriterWhoIsNotTheOwner() throws Exception {
        assumeTrue(
                ProcessHandle.current().info().user().orElse("").equals("root"), "needs root to act as another user");
        FuseOptions options = new FuseOptions(true, false, false, Duration.ZERO, "holdfast-privileges")
                .withCapabilities(Capabilities.HOLDFAST)
                .withCallerScope(caller -> HoldfastFileSystem.bindCaller(caller)::close);
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x")); // reach the mount
        Path dir = mount(0, "priv", options);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path f = dir.resolve("setid");
        sh("echo first > " + f + " && chmod 6777 " + f);
        assertThat(sh("stat -c %a " + f).trim()).isEqualTo("6777");
        String asNobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
        sh(asNobody + "sh -c 'echo more >> " + f + "'");
        assertThat(sh("stat -c %a " + f).trim())
                .as("mode after a write by a non-owner")
                .isEqualTo("777");
        assertThat(Files.readString(f)).isEqualTo("first\nmore\n");

        Path g = dir.resolve("times");
        sh("echo x > " + g + " && chmod 666 " + g + " && touch -d '2001-01-01 00:00:00 UTC' " + g);
        sh(asNobody + "touch " + g);
        assertThat(Files.getLastModifiedTime(g).toInstant())
                .as("touch (UTIME_NOW) by a writer")
                .isAfter(Instant.parse("2020-01-01T00:00:00Z"));
        assertThat(run(asNobody + "touch -d '2002-01-01 00:00:00 UTC' " + g))
                .as("explicit times by a non-owner")
                .isNotZero();
    }
}
