package io.holdfast.testkit;

import static io.holdfast.testkit.Shell.run;
import static io.holdfast.testkit.Shell.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.client.nio.CacheStats;
import io.holdfast.client.nio.HoldfastFileSystemProvider;
import io.holdfast.fuse.Capabilities;
import io.holdfast.fuse.FuseMount;
import io.holdfast.fuse.FuseOptions;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kernel's cache of a FUSE mount's names and attributes under the volume's read lease,
 * through ordinary tools ({@code stat}, {@code ls}, {@code cat}, Python's {@code os.fstat}): the
 * kernel answers repeated lookups and stats itself while the lease holds, and sees another
 * client's change as soon as that change completed, with no wait: the leader completes it only
 * after the mount dropped its cache and told the kernel. Needs Linux 6.16 or later
 * ({@code FUSE_NOTIFY_INC_EPOCH}); on an older kernel the mount caches nothing and the tests are
 * skipped.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KernelCacheFuseIT {
    private static final String VOLUME = "kcache";
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    static Path clusterRoot;

    @TempDir
    static Path tmp;

    private static MiniCluster cluster;
    private static FileSystem mounted;
    /** Another client, synchronous: each change has completed when its call returns. */
    private static FileSystem other;

    private static FuseMount mount;
    private static Path mnt;

    @BeforeAll
    static void start() throws IOException {
        cluster = MiniCluster.builder(clusterRoot)
                .nodes(3)
                .separateProcesses(1, 2)
                .start();
        cluster.createVolume(VOLUME, 0, 1, 2);
        mounted = FileSystems.newFileSystem(uri(0), cluster.clientEnv());
        Map<String, Object> env = new HashMap<>(cluster.clientEnv());
        env.put(HoldfastFileSystemProvider.ENV_WRITE_BACK, false);
        env.put(HoldfastFileSystemProvider.ENV_CACHE, false);
        other = FileSystems.newFileSystem(uri(1), env);
        if (FuseMount.isAvailable()) {
            mnt = Files.createDirectory(tmp.resolve("mnt"));
            mount = FuseMount.mount(
                    mounted.getPath("/"),
                    mnt,
                    FuseOptions.defaults()
                            .withFsName("holdfast-kcache")
                            .withCacheTimeout(Duration.ofSeconds(30))
                            .withCapabilities(Capabilities.HOLDFAST));
        }
    }

    private static URI uri(int node) {
        return URI.create("holdfast://" + cluster.addresses().get(node) + "/" + VOLUME);
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (mount != null) {
                mount.close();
            }
            if (mounted != null) {
                mounted.close();
            }
            if (other != null) {
                other.close();
            }
        } finally {
            if (cluster != null) {
                cluster.close();
            }
        }
    }

    /** Skips unless the mount can cache under the lease, and waits until it does. */
    private static void awaitCaching() {
        assumeTrue(mount != null, "FUSE is not available");
        assumeTrue(kernelTakesEpochs(), "the kernel cannot take cached names back (Linux < 6.16)");
        assertThat(mount.leasedKernelCache())
                .as("a mount of a volume with leases caches under them on this kernel")
                .isTrue();
        // a use of the mount wakes a lease that an idle mount let go
        MiniCluster.await(
                WAIT,
                () -> {
                    try {
                        Files.exists(mnt.resolve("."));
                    } catch (RuntimeException ignored) {
                        // asked again
                    }
                    return mount.kernelCaching();
                },
                "the mount's kernel cache to hold under the lease");
    }

    /** Whether this kernel has FUSE_NOTIFY_INC_EPOCH (Linux 6.16 and later). */
    private static boolean kernelTakesEpochs() {
        String[] v = System.getProperty("os.version").split("[.-]");
        int major = Integer.parseInt(v[0]);
        int minor = v.length > 1 ? Integer.parseInt(v[1]) : 0;
        return major > 6 || (major == 6 && minor >= 16);
    }

    @Test
    @Order(1)
    void repeatedStatsAreAnsweredByTheKernel() throws Exception {
        awaitCaching();
        sh("mkdir -p " + mnt.resolve("a/b/c") + " && echo hi > " + mnt.resolve("a/b/c/f"));
        Path f = mnt.resolve("a/b/c/f");
        assertThat(sh("stat -c %s " + f).trim()).isEqualTo("3");
        long before = asked();
        assertThat(sh("for i in $(seq 1 50); do stat -c %s " + f + "; done | sort -u")
                        .trim())
                .isEqualTo("3");
        // 50 stats of a path four names deep: without the kernel's cache each asks the file system
        // for every name and for the attributes (200 lookups and 50 getattrs); the lease may begin
        // again meanwhile on a loaded machine, which asks once more per name
        assertThat(asked() - before)
                .as("queries that reached the file system for 50 stats")
                .isLessThan(50);
    }

    /** Queries the mount's file system answered from its cache or the volume so far. */
    private static long asked() {
        CacheStats s = CacheStats.of(mounted);
        return s.hits() + s.misses();
    }

    /**
     * Maildir deliveries through the mount (create in tmp/, write, fsync, close, rename to new/, in
     * one process as a delivery agent does): the kernel looks neither name up again, so the rename
     * must find the file's attributes itself to be written back; sent alone it would drop the
     * mount's whole cache and every later lookup in tmp/ and new/ would go to the volume.
     */
    @Test
    @Order(2)
    void maildirDeliveriesKeepTheCache() throws Exception {
        awaitCaching();
        assumeTrue(run("command -v python3 >/dev/null") == 0, "python3 is not installed");
        Path maildir = mnt.resolve("Maildir");
        sh("mkdir -p " + maildir.resolve("tmp") + " " + maildir.resolve("new"));
        Path script = tmp.resolve("deliver.py");
        Files.writeString(script, """
                import os, sys
                d, n = sys.argv[1], int(sys.argv[2])
                for i in range(n):
                    t = os.path.join(d, "tmp", "m%d" % i)
                    fd = os.open(t, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    os.write(fd, b"x" * 4096)
                    os.fsync(fd)
                    os.close(fd)
                    os.rename(t, os.path.join(d, "new", "m%d" % i))
                """);
        long before = CacheStats.of(mounted).misses();
        sh("python3 " + script + " " + maildir + " 200");
        assertThat(sh("ls " + maildir.resolve("new") + " | wc -l").trim()).isEqualTo("200");
        assertThat(CacheStats.of(mounted).misses() - before)
                .as("queries that went to the volume for 200 deliveries")
                .isLessThan(50);
    }

    @Test
    @Order(3)
    void anotherClientsCompletedChangesAreSeenAtOnce() throws Exception {
        awaitCaching();
        Path dir = mnt.resolve("shared");
        sh("mkdir " + dir + " && printf 'one' > " + dir.resolve("x"));
        assertThat(sh("ls " + dir).trim()).isEqualTo("x");
        assertThat(sh("stat -c '%s %a' " + dir.resolve("x")).trim()).isEqualTo("3 644");

        Files.move(other.getPath("/shared/x"), other.getPath("/shared/y"));
        assertThat(sh("ls " + dir).trim()).as("a rename by another client").isEqualTo("y");
        assertThat(run("stat " + dir.resolve("x") + " 2>/dev/null"))
                .as("the old name is gone")
                .isNotZero();

        Files.writeString(other.getPath("/shared/y"), "one two", StandardOpenOption.APPEND);
        assertThat(sh("stat -c %s " + dir.resolve("y")).trim())
                .as("its new size")
                .isEqualTo("10");
        assertThat(sh("cat " + dir.resolve("y"))).as("its new content").isEqualTo("oneone two");

        Files.setPosixFilePermissions(other.getPath("/shared/y"), PosixFilePermissions.fromString("rw-------"));
        assertThat(sh("stat -c %a " + dir.resolve("y")).trim())
                .as("its new mode")
                .isEqualTo("600");

        Files.createDirectory(other.getPath("/shared/sub"));
        Files.writeString(other.getPath("/shared/sub/z"), "zz");
        assertThat(sh("cat " + dir.resolve("sub/z")))
                .as("a new directory's file")
                .isEqualTo("zz");

        Files.delete(other.getPath("/shared/y"));
        assertThat(run("stat " + dir.resolve("y") + " 2>/dev/null"))
                .as("an unlink")
                .isNotZero();
        assertThat(sh("echo new > " + dir.resolve("y") + " && cat " + dir.resolve("y")))
                .as("the name is free for this mount again")
                .isEqualTo("new\n");
    }

    @Test
    @Order(4)
    void anOpenFileSeesAnotherClientsWriteAtOnce() throws Exception {
        awaitCaching();
        Path f = mnt.resolve("open-file");
        Files.writeString(f, "12345");
        // Python holds the file open on the mount, stats it, lets the other client grow it (a
        // line on stdin), and stats the open descriptor again: fstat and read reach no path walk
        Path script = tmp.resolve("fstat.py");
        Files.writeString(script, """
                import os, sys
                fd = os.open(sys.argv[1], os.O_RDONLY)
                print(os.fstat(fd).st_size, flush=True)
                sys.stdin.readline()
                print(os.fstat(fd).st_size, os.pread(fd, 100, 0).decode(), flush=True)
                """);
        Process p = new ProcessBuilder("python3", script.toString(), f.toString()).start();
        try (var out = p.inputReader(StandardCharsets.UTF_8);
                var in = p.outputWriter(StandardCharsets.UTF_8)) {
            assertThat(out.readLine()).isEqualTo("5");
            Files.writeString(other.getPath("/open-file"), "1234567890");
            in.write("go\n");
            in.flush();
            assertThat(out.readLine()).isEqualTo("10 1234567890");
        } finally {
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(p.exitValue()).isZero();
    }

    @Test
    @Order(5)
    void hardLinksShowTheirChangesUnderEveryName() throws Exception {
        awaitCaching();
        Path a = mnt.resolve("linked-a");
        Path b = mnt.resolve("linked-b");
        sh("printf abc > " + a + " && ln " + a + " " + b);
        assertThat(sh("stat -c '%h %s' " + a + " " + b).trim()).isEqualTo("2 3\n2 3");
        sh("printf defg >> " + a);
        assertThat(sh("stat -c '%h %s' " + b).trim())
                .as("a write under the other name")
                .isEqualTo("2 7");
        sh("chmod 600 " + b);
        assertThat(sh("stat -c %a " + a).trim())
                .as("a mode change under the other name")
                .isEqualTo("600");
        sh("rm " + b);
        assertThat(sh("stat -c '%h %s' " + a).trim()).as("one name left").isEqualTo("1 7");
    }

    @Test
    @Order(6)
    void aMountCutOffFromItsVolumeStopsCachingWhenItsLeaseEnds() throws Exception {
        awaitCaching();
        long before = mount.kernelInvalidations();
        // two members down: no quorum, so no renewal; the lease ends within a second
        cluster.kill(1);
        cluster.kill(2);
        try {
            MiniCluster.await(WAIT, () -> !mount.kernelCaching(), "the kernel cache to stop with the lease");
            assertThat(mount.kernelInvalidations())
                    .as("what the kernel held was taken back when the lease ended")
                    .isGreaterThan(before);
        } finally {
            cluster.restart(1);
            cluster.restart(2);
        }
        awaitCaching();
        assertThat(sh("cat " + mnt.resolve("shared/sub/z"))).isEqualTo("zz");
    }
}
