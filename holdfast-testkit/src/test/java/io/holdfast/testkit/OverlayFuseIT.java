package io.holdfast.testkit;

import static io.holdfast.testkit.Shell.run;
import static io.holdfast.testkit.Shell.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.fuse.FuseMount;
import io.holdfast.fuse.FuseOptions;
import io.holdfast.overlay.FaultyFileSystem;
import io.holdfast.overlay.OverlayFileSystem;
import io.holdfast.overlay.OverlayStatus;
import io.holdfast.overlay.WhiteoutFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The overlay mounted with FUSE over a lower layer that fails on one file, used with ordinary tools
 * ({@code cat}, {@code ls}, {@code rm}, {@code mv}, {@code mkdir}, {@code echo >}, {@code tar}); the
 * upper layer checked on disk ({@code stat}, {@code getfattr}); then, where the kernel allows it,
 * the same layers mounted by the kernel's overlayfs show the same tree.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class OverlayFuseIT {
    @TempDir
    Path tmp;

    @Test
    void ordinaryToolsThroughTheMountAndTheKernelAgrees() throws Exception {
        assumeTrue(FuseMount.isAvailable(), "FUSE is not available here");
        Path lower = Files.createDirectory(tmp.resolve("lower"));
        Path upper = Files.createDirectory(tmp.resolve("upper"));
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Files.writeString(lower.resolve("a.txt"), "lower a\n");
        Files.writeString(lower.resolve("bad.txt"), "unreadable\n");
        Files.writeString(lower.resolve("bad2.txt"), "unreadable\n");
        Files.createDirectories(lower.resolve("d/sub"));
        Files.writeString(lower.resolve("d/x"), "x\n");
        Files.writeString(lower.resolve("d/sub/y"), "y\n");
        Files.createSymbolicLink(lower.resolve("link"), Path.of("a.txt"));
        FaultyFileSystem faulty = new FaultyFileSystem(lower);
        faulty.failReads.add("bad.txt");
        faulty.failReads.add("bad2.txt");
        String m = mnt.toString();
        String u = upper.toString();
        String expectedTree;
        OverlayStatus status;
        try (OverlayFileSystem overlay = OverlayFileSystem.open(faulty.root(), upper, tmp.resolve("work"));
                FuseMount mount = FuseMount.mount(
                        overlay.root(), mnt, FuseOptions.defaults().withFsName("holdfast-overlay"))) {
            assertThat(mount.isClosed()).isFalse();
            assertThat(sh("cat " + m + "/a.txt " + m + "/link")).isEqualTo("lower a\nlower a\n");
            assertThat(sh("ls " + m)).isEqualTo("a.txt\nbad.txt\nbad2.txt\nd\nlink\n");
            // a damaged lower file: EIO for it alone; written anew (O_TRUNC) it is fine again
            assertThat(run("cat " + m + "/bad.txt 2>&1 | grep -q 'Input/output error'"))
                    .isZero();
            assertThat(sh("cat " + m + "/d/x")).isEqualTo("x\n");
            sh("echo fresh > " + m + "/bad.txt");
            assertThat(sh("cat " + m + "/bad.txt")).isEqualTo("fresh\n");
            sh("echo other > " + m + "/tmpfile && mv " + m + "/tmpfile " + m + "/bad2.txt");
            assertThat(sh("cat " + m + "/bad2.txt")).isEqualTo("other\n");
            // changes go up; deletes leave whiteouts
            sh("echo more >> " + m + "/a.txt");
            assertThat(sh("cat " + lower + "/a.txt")).isEqualTo("lower a\n");
            sh("rm " + m + "/d/x && rm " + m + "/link");
            assertThat(sh("stat -c '%F %t:%T' " + u + "/d/x " + u + "/link"))
                    .isEqualTo(
                            overlay.whiteoutFormat() == WhiteoutFormat.KERNEL
                                    ? "character special file 0:0\ncharacter special file 0:0\n"
                                    : "");
            sh("mv " + m + "/d " + m + "/e && mkdir " + m + "/d && echo new > " + m + "/d/n");
            assertThat(sh("cd " + m + " && ls -R"))
                    .isEqualTo(".:\na.txt\nbad.txt\nbad2.txt\nd\ne\n\n./d:\nn\n\n" + "./e:\nsub\n\n./e/sub:\ny\n");
            if (overlay.whiteoutFormat() == WhiteoutFormat.KERNEL) {
                assertThat(sh("getfattr --only-values -n user.overlay.opaque " + u + "/d"))
                        .isEqualTo("y");
                assertThat(sh("getfattr --only-values -n user.overlay.opaque " + u + "/e"))
                        .isEqualTo("y");
                assertThat(sh("getfattr -d " + m + "/e")).doesNotContain("overlay");
            }
            // a tree in and out with tar
            sh("mkdir " + tmp + "/src && cd " + tmp + "/src && mkdir -p t/u && echo 1 > t/one && echo 2 > t/u/two"
                    + " && tar cf - t | (cd " + m + " && tar xf -)");
            assertThat(sh("cd " + m + " && tar cf - t | tar tvf - | wc -l").strip())
                    .isEqualTo("4");
            assertThat(run("diff -r " + tmp + "/src/t " + m + "/t")).isZero();
            assertThat(sh("df " + m + " | tail -1")).contains("holdfast-overlay");
            expectedTree = sh("cd " + m + " && find . -path ./bad.txt -prune -o -print | sort"
                    + " && cat a.txt e/sub/y d/n t/u/two");
            status = overlay.status();
        }
        assertThat(status.lowerErrorPaths())
                .extracting(OverlayStatus.LowerError::path)
                .containsExactly("/bad.txt");
        assertThat(faulty.writeAttempts).hasValue(0);

        // the same layers through the kernel's overlayfs (needs root and overlay support)
        Path kwork = Files.createDirectory(tmp.resolve("kwork"));
        Path kmnt = Files.createDirectory(tmp.resolve("kmnt"));
        boolean mounted = run("mount -t overlay overlay -o lowerdir=" + lower + ",upperdir=" + upper + ",workdir="
                        + kwork + ",userxattr " + kmnt)
                == 0;
        assumeTrue(mounted, "the kernel's overlayfs cannot be mounted here");
        try {
            assertThat(sh("cd " + kmnt + " && find . -path ./bad.txt -prune -o -print | sort"
                            + " && cat a.txt e/sub/y d/n t/u/two"))
                    .isEqualTo(expectedTree);
        } finally {
            run("umount " + kmnt);
        }
    }
}
