package io.holdfast.testkit;

import static io.holdfast.testkit.Shell.run;
import static io.holdfast.testkit.Shell.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.client.nio.HoldfastFileSystem;
import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.fuse.Capabilities;
import io.holdfast.fuse.FuseMount;
import io.holdfast.fuse.FuseOptions;
import io.holdfast.protocol.Limits;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tree deeper than PATH_MAX through a FUSE mount of a three-node volume (POSIX limits one system
 * call's path argument, not the depth of a tree): a shell walks down 24 directories of 200-byte
 * names with {@code cd -P} (4,824 bytes from the volume's root; a logical {@code cd} would hand
 * the kernel the whole path, over PATH_MAX), where ordinary tools make, write,
 * rename, link and read files by names relative to the working directory; {@code find} and
 * {@code rm -r} work from the top; another client reads the same file by its whole path through
 * NIO; a path over the volume's limit ({@link Limits#VOLUME_PATH_MAX}) gets ENAMETOOLONG; and the
 * members converge.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class DeepPathsFuseIT {
    private static final String VOLUME = "deep";
    private static final int LEVELS = 24;

    @TempDir
    Path clusterRoot;

    @TempDir
    Path tmp;

    @Test
    void toolsWorkBelowPathMaxThroughTheMount() throws Exception {
        assumeTrue(FuseMount.isAvailable(), "FUSE is not available here");
        try (MiniCluster cluster = MiniCluster.start(clusterRoot, 3, 100_000)) {
            cluster.createVolume(VOLUME, 0, 1, 2);
            try (FileSystem fs = FileSystems.newFileSystem(
                            URI.create("holdfast://" + cluster.addresses().get(0) + "/" + VOLUME),
                            cluster.clientEnv());
                    FileSystem other = FileSystems.newFileSystem(
                            URI.create("holdfast://" + cluster.addresses().get(2) + "/" + VOLUME),
                            cluster.clientEnv())) {
                Path mnt = Files.createDirectory(tmp.resolve("mnt"));
                try (FuseMount mount = FuseMount.mount(
                        fs.getPath("/"),
                        mnt,
                        FuseOptions.defaults()
                                .withFsName("holdfast-deep")
                                .withCapabilities(Capabilities.HOLDFAST)
                                .withCallerScope(caller -> HoldfastFileSystem.bindCaller(caller)::close))) {
                    exercise(cluster, mnt, other);
                }
            }
        }
    }

    private void exercise(MiniCluster cluster, Path mnt, FileSystem other) throws Exception {
        StringBuilder down = new StringBuilder("cd " + mnt);
        StringBuilder volumePath = new StringBuilder();
        for (int i = 0; i < LEVELS; i++) {
            String name = "d" + String.valueOf((char) ('a' + i % 26)).repeat(199);
            down.append(" && mkdir ").append(name).append(" && cd -P ").append(name);
            volumePath.append('/').append(name);
        }
        String deep = volumePath.toString();
        assertThat(deep.length()).isGreaterThan(Limits.PATH_MAX);

        String out = sh(down + " && printf 'deep and well' > f && mv f g && ln g h && ln -s g s && cat s"
                + " && stat -c '%s %h' g && ls");
        assertThat(out).isEqualTo("deep and well13 2\ng\nh\ns\n");

        // the same file, by its whole path, through another node and client
        Path g = other.getPath(deep, "g");
        assertThat(Files.readString(g, StandardCharsets.UTF_8)).isEqualTo("deep and well");
        assertThat(Files.getAttribute(g, "unix:nlink")).isEqualTo(2);
        assertThat(Files.readSymbolicLink(other.getPath(deep, "s")).toString()).isEqualTo("g");

        // written there through NIO, read here relative to the working directory
        Files.writeString(other.getPath(deep, "from-nio"), "hello from the other client");
        StringBuilder read = new StringBuilder("cd " + mnt);
        for (String name : deep.substring(1).split("/")) {
            read.append(" && cd -P ").append(name);
        }
        assertThat(sh(read + " && cat from-nio")).isEqualTo("hello from the other client");

        // tools that walk the tree from the top use names relative to each directory (-execdir: the
        // whole relative path is over PATH_MAX, as it would be on any file system)
        assertThat(sh("cd " + mnt + " && find . -type f | wc -l").trim()).isEqualTo("3");
        assertThat(sh("cd " + mnt + " && find . -name g -type f -execdir cat {} +"))
                .isEqualTo("deep and well");

        // over the volume's limit: refused as too long
        Path tooDeep = other.getPath(deep + ("/" + "z".repeat(250)).repeat(120));
        assertThatThrownBy(() -> Files.createDirectory(tooDeep))
                .isInstanceOfSatisfying(
                        ErrnoFileSystemException.class,
                        e -> assertThat(e.errno()).isEqualTo(Errno.ENAMETOOLONG));
        cluster.awaitConvergence(VOLUME, Duration.ofSeconds(60));

        assertThat(run("cd " + mnt + " && rm -r " + deep.substring(1, deep.indexOf('/', 1))))
                .isZero();
        assertThat(sh("ls -A " + mnt)).isEmpty();
        assertThat(Files.exists(other.getPath(deep), LinkOption.NOFOLLOW_LINKS)).isFalse();
        cluster.awaitConvergence(VOLUME, Duration.ofSeconds(60));
    }
}
