package io.holdfast.testkit;

import static io.holdfast.testkit.Shell.run;
import static io.holdfast.testkit.Shell.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.client.nio.WriteBackStats;
import io.holdfast.fuse.Capabilities;
import io.holdfast.fuse.FuseMount;
import io.holdfast.fuse.FuseOptions;
import java.io.IOException;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Root's removals and renames written back through a FUSE mount of a three-node volume, with
 * ordinary tools: {@code rm -rf} returns once its unlinks and rmdirs are queued, {@code mv} once its
 * rename is, and {@code fsync(2)} of a directory of the mount is the durability point after which
 * another client sees all of them. (A removal
 * the volume refuses cannot be provoked here: another client's change makes the leader drop the
 * mount's cache before it completes; {@code WriteBackTest} covers it over a volume that never
 * revokes.)
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class RemovalWriteBackFuseIT {
    private static final String VOLUME = "removals";

    @TempDir
    static Path clusterRoot;

    @TempDir
    static Path tmp;

    private static MiniCluster cluster;
    private static FileSystem mounted;
    private static FileSystem other;
    private static FuseMount mount;
    private static Path mnt;

    @BeforeAll
    static void start() throws IOException {
        cluster = MiniCluster.builder(clusterRoot).nodes(3).start();
        cluster.createVolume(VOLUME, 0, 1, 2);
        mounted = FileSystems.newFileSystem(uri(0), cluster.clientEnv());
        other = FileSystems.newFileSystem(uri(1), cluster.clientEnv()); // another client
        if (FuseMount.isAvailable()) {
            mnt = Files.createDirectory(tmp.resolve("mnt"));
            mount = FuseMount.mount(
                    mounted.getPath("/"),
                    mnt,
                    FuseOptions.defaults().withFsName("holdfast-removals").withCapabilities(Capabilities.HOLDFAST));
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

    /** {@code fsync(2)} of a directory of the mount, by Python's os module; returns its exit status. */
    private static int fsyncDirectory(Path dir) throws Exception {
        return run("python3 -c 'import os; fd = os.open(\"" + dir + "\", os.O_RDONLY); os.fsync(fd)'");
    }

    @Test
    void rmRfIsWrittenBackAndEveryRemovalIsDurableAtTheDirectorysFsync() throws Exception {
        assumeTrue(mount != null, "FUSE is not available");
        assumeTrue(run("command -v python3 >/dev/null") == 0, "python3 is not installed");
        Path tree = mnt.resolve("tree");
        sh("mkdir " + tree + " && cd " + tree + " && for d in 1 2 3 4 5 6; do mkdir d$d; for f in $(seq 1 25); do"
                + " echo \"file $d $f\" > d$d/f$f; done; ln -s d1/f1 d$d/link; done");
        assertThat(sh("find " + tree + " | wc -l").trim()).isEqualTo(String.valueOf(1 + 6 * 27));
        long before = WriteBackStats.of(mounted).writtenBack();
        sh("rm -rf " + tree);
        assertThat(Files.exists(tree, LinkOption.NOFOLLOW_LINKS))
                .as("gone through the mount")
                .isFalse();
        // 150 files, 6 links, 7 directories: written back while the mount's lease holds (a renewal
        // late on a loaded machine makes a few go synchronously)
        assertThat(WriteBackStats.of(mounted).writtenBack() - before)
                .as("the unlinks and the rmdirs of the listed directories, written back")
                .isGreaterThan((6 * 26 + 7) / 2);
        assertThat(fsyncDirectory(mnt)).as("fsync of the mount's root").isZero();
        assertThat(WriteBackStats.of(mounted).pending()).isZero();
        assertThat(Files.exists(other.getPath("/tree"), LinkOption.NOFOLLOW_LINKS))
                .as("another client sees every removal once the fsync returned")
                .isFalse();
        cluster.awaitConvergence(VOLUME, Duration.ofSeconds(60));
    }

    /**
     * Maildir deliveries through the mount with ordinary tools (a file written in {@code tmp/} and
     * moved with {@code mv} into {@code new/}): the creates (numbered by the mount) and the renames
     * are written back, a file closed exists for another client at once, and once {@code fsync(2)}
     * of {@code new/} returns, another client finds every message under its new name with its
     * content, and none left in {@code tmp/}.
     */
    @Test
    void maildirRenamesAreWrittenBackAndDurableAtTheDirectorysFsync() throws Exception {
        assumeTrue(mount != null, "FUSE is not available");
        assumeTrue(run("command -v python3 >/dev/null") == 0, "python3 is not installed");
        Path maildir = mnt.resolve("Maildir");
        sh("mkdir -p " + maildir + "/tmp " + maildir + "/new " + maildir + "/cur");
        int n = 40;
        long before = WriteBackStats.of(mounted).writtenBack();
        sh("cd " + maildir + " && for i in $(seq 1 " + n + "); do echo \"message $i\" > tmp/m$i; done");
        long created = WriteBackStats.of(mounted).writtenBack() - before;
        sh("cd " + maildir + " && for i in $(seq 1 " + n + "); do mv tmp/m$i new/m$i; done");
        long renamed = WriteBackStats.of(mounted).writtenBack() - before - created;
        assertThat(sh("ls " + maildir + "/new | wc -l").trim()).isEqualTo(String.valueOf(n));
        assertThat(sh("ls " + maildir + "/tmp | wc -l").trim()).isEqualTo("0");
        // written back while the mount's lease holds (a renewal late on a loaded machine makes a
        // few wait for their commit)
        assertThat(created).as("the creates, written back").isGreaterThan(n / 2);
        assertThat(renamed).as("the renames, written back").isGreaterThan(n / 2);
        assertThat(Long.parseUnsignedLong(
                        sh("stat -c %i " + maildir + "/new/m1").trim()))
                .as("an inode number the mount chose, from the client range")
                .isGreaterThanOrEqualTo(1L << 62);
        // close-to-open: a file created empty and closed exists for another client at once
        sh("touch " + maildir + "/cur/empty");
        assertThat(Files.exists(other.getPath("/Maildir/cur/empty"), LinkOption.NOFOLLOW_LINKS))
                .as("another client finds the file once touch closed it")
                .isTrue();
        assertThat(fsyncDirectory(maildir.resolve("new"))).as("fsync of new/").isZero();
        assertThat(WriteBackStats.of(mounted).pending()).isZero();
        try (var listing = Files.list(other.getPath("/Maildir/tmp"))) {
            assertThat(listing).as("another client finds nothing left in tmp/").isEmpty();
        }
        for (int i = 1; i <= n; i++) {
            assertThat(Files.readString(other.getPath("/Maildir/new/m" + i)))
                    .as("another client reads message %d under its new name", i)
                    .isEqualTo("message " + i + "\n");
        }
        cluster.awaitConvergence(VOLUME, Duration.ofSeconds(60));
    }
}
