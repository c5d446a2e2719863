package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.fuse.FuseMount;
import io.holdfast.testkit.MiniCluster;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code holdfast overlay mount LOWER VOLUME:/dir MNT}, {@code overlay status VOLUME:/dir} and
 * {@code overlay merge LOWER VOLUME:/dir --into VOLUME:/newbase} against a real three-node cluster
 * in this JVM: the mount is a separate process, as an operator runs it, and ordinary tools work
 * through it; the upper layer and its work directory (status record, merge journal) live on the
 * volume.
 */
class OverlayVolumeUpperIT {
    static MiniCluster cluster;
    static String address;

    @TempDir
    static Path clusterDir;

    @TempDir
    Path tmp;

    @BeforeAll
    static void startCluster() throws IOException {
        cluster = MiniCluster.start(clusterDir, 3, 20000);
        cluster.createVolume("ov", 0, 1, 2);
        address = cluster.addresses().get(0);
    }

    @AfterAll
    static void stopCluster() throws IOException {
        if (cluster != null) {
            cluster.close();
        }
    }

    private static List<String> clusterOptions() {
        return List.of("--cluster=" + address, "--tls=" + clusterDir.resolve("tls-admin"));
    }

    private static Cli ok(String... args) {
        List<String> all = new ArrayList<>(Arrays.asList(args));
        all.addAll(clusterOptions());
        Cli r = Cli.run(all.toArray(String[]::new));
        assertThat(r.exit())
                .as("exit of %s, stdout %s, stderr %s", String.join(" ", args), r.out(), r.err())
                .isZero();
        return r;
    }

    private static int sh(Path cwd, String command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("sh", "-c", command)
                .directory(cwd.toFile())
                .inheritIO()
                .start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("%s finished", command).isTrue();
        return p.exitValue();
    }

    private static boolean contains(Path log, String text) {
        try {
            return Files.readString(log).contains(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void mountStatusAndMergeWithAnUpperLayerOnAVolume() throws Exception {
        assumeTrue(FuseMount.isAvailable(), "FUSE is not available here");
        Path lower = Files.createDirectory(tmp.resolve("lower"));
        Files.createDirectories(lower.resolve("docs/old"));
        Files.writeString(lower.resolve("docs/keep.txt"), "kept from the lower layer\n");
        Files.writeString(lower.resolve("docs/edit.txt"), "first version\n");
        Files.writeString(lower.resolve("docs/gone.txt"), "to be deleted\n");
        Files.writeString(lower.resolve("docs/old/a.txt"), "old a\n");
        Files.writeString(lower.resolve("docs/bad.txt"), "unreadable\n");
        ok("mkdir", "-p", "ov:/rescue/upper");

        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Path log = tmp.resolve("mount.log");
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow",
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName(),
                "overlay",
                "mount",
                "--inject-lower-errors=docs/bad.txt",
                lower.toString(),
                "ov:/rescue/upper",
                mnt.toString()));
        cmd.addAll(clusterOptions());
        Process mount = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        try {
            MiniCluster.await(
                    Duration.ofSeconds(60),
                    () -> !mount.isAlive() || contains(log, "; stop with"),
                    "the overlay mount says it is mounted");
            assertThat(mount.isAlive())
                    .as("mount ended early: %s", Files.readString(log))
                    .isTrue();
            assertThat(Files.readString(log)).contains("KERNEL whiteouts", "INJECTING read errors");
            assertThat(mnt.resolve("docs/keep.txt")).hasContent("kept from the lower layer\n");
            assertThat(sh(
                            mnt,
                            "set -e; echo 'second version' >> docs/edit.txt; rm docs/gone.txt;"
                                    + " rm -r docs/old && mkdir docs/old && echo 'new a' > docs/old/b.txt;"
                                    + " mkdir new && cp docs/keep.txt new/copy.txt && mv new/copy.txt new/moved.txt;"
                                    + " echo replaced > docs/bad.txt"))
                    .isZero();
            assertThat(mnt.resolve("docs/edit.txt")).hasContent("first version\nsecond version");
            assertThat(mnt.resolve("docs/gone.txt")).doesNotExist();
            assertThat(mnt.resolve("docs/bad.txt")).hasContent("replaced");
            // the upper layer on the volume holds the changes; the whiteout is a character device
            assertThat(ok("cat", "ov:/rescue/upper/docs/edit.txt").out()).isEqualTo("first version\nsecond version\n");
            assertThat(ok("cat", "ov:/rescue/upper/new/moved.txt").out()).isEqualTo("kept from the lower layer\n");
            assertThat(ok("ls", "-l", "ov:/rescue/upper/docs").out()).containsPattern("(?m)^c[-rwx]{9} .* gone\\.txt$");
            assertThat(ok("ls", "ov:/rescue/upper/docs").out().lines()).doesNotContain("keep.txt");
        } finally {
            if (mount.isAlive()) {
                new ProcessBuilder("fusermount3", "-u", mnt.toString())
                        .inheritIO()
                        .start()
                        .waitFor(20, TimeUnit.SECONDS);
            }
            if (!mount.waitFor(30, TimeUnit.SECONDS)) {
                mount.destroyForcibly();
            }
        }
        assertThat(mount.exitValue()).as("mount log: %s", Files.readString(log)).isZero();
        assertThat(lower.resolve("docs/gone.txt")).hasContent("to be deleted"); // LOWER never written

        Cli status = ok("overlay", "status", "ov:/rescue/upper");
        assertThat(status.out())
                .containsPattern("(?m)^upper +holdfast://127\\.0\\.0\\.1:\\d+/ov/rescue/upper \\(KERNEL whiteouts\\)$")
                .contains("opaque dirs     1")
                .containsPattern("whiteouts +[1-9]")
                .containsPattern("copy-ups +[1-9]");

        Cli merge = ok("overlay", "merge", lower.toString(), "ov:/rescue/upper", "--into", "ov:/rescue/newbase");
        assertThat(merge.out()).contains("merged into ", "errors           0");
        ok("get", "-r", "ov:/rescue/newbase", tmp.resolve("newbase").toString());
        Path nb = tmp.resolve("newbase");
        assertThat(nb.resolve("docs/keep.txt")).hasContent("kept from the lower layer");
        assertThat(nb.resolve("docs/edit.txt")).hasContent("first version\nsecond version");
        assertThat(nb.resolve("docs/bad.txt")).hasContent("replaced");
        assertThat(nb.resolve("docs/gone.txt")).doesNotExist();
        assertThat(nb.resolve("docs/old/a.txt")).doesNotExist();
        assertThat(nb.resolve("docs/old/b.txt")).hasContent("new a");
        assertThat(nb.resolve("new/moved.txt")).hasContent("kept from the lower layer");
        assertThat(lower.resolve("docs/gone.txt")).hasContent("to be deleted"); // --into leaves LOWER as it was
    }
}
