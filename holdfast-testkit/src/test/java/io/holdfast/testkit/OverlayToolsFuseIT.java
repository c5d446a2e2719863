package io.holdfast.testkit;

import static io.holdfast.testkit.Shell.run;
import static io.holdfast.testkit.Shell.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.fuse.FuseMount;
import io.holdfast.fuse.FuseOptions;
import io.holdfast.overlay.OverlayFileSystem;
import io.holdfast.overlay.OverlayStatus;
import io.holdfast.overlay.WhiteoutFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * rsync and git through the overlay mounted with FUSE: trees synchronised into the mount and over
 * a tree in the lower layer (copy-ups, whiteouts, a file replaced by a directory), checked with
 * {@code diff -r} and a dry run of rsync that must find nothing to do; a repository made and
 * switched between branches in the mount; a repository in the lower layer switched to another
 * branch and repacked through the mount, compared with a plain clone switched the same way, and
 * still whole after a remount. The lower layer must come out unchanged, and where the kernel
 * allows it, its overlayfs on the same layers must show the same trees and repository.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class OverlayToolsFuseIT {
    /** Version 1 of a tree: files of several sizes, modes, nested directories, a symbolic link. */
    private static final String TREE_V1 = "mkdir -p a/b/c e k && i=1 && while [ $i -le 30 ]; do"
            + " head -c $((i * 997)) /dev/urandom > a/f$i; i=$((i + 1)); done"
            + " && echo deep > a/b/c/deep && echo keep > a/b/keep && echo kk > k/x && ln -s ../a/f1 e/link"
            + " && chmod 600 a/f2 && chmod 755 a/f3 && head -c 3145728 /dev/urandom > big"
            + " && touch -d '2019-05-06 07:08:09' a/f4";

    /** Version 2: changed, same-size rewritten, added, deleted, renamed, re-moded files; a file now a directory. */
    private static final String TREE_V2_FROM_V1 = "echo more >> a/f1 && head -c 3988 /dev/urandom > a/f4"
            + " && touch -d '2021-01-01 00:00:00' a/f4 && rm a/f5 && rm -r a/b/c k && mkdir -p n/m"
            + " && echo new > n/m/new && echo new2 > a/f31 && chmod 700 a/f6 && rm e/link && ln -s ../a/f2 e/link"
            + " && mv a/f7 a/f7moved && rm a/f8 && mkdir a/f8 && echo inside > a/f8/inside"
            + " && dd if=/dev/urandom of=big bs=4096 seek=100 count=3 conv=notrunc status=none"
            // rsync's quick check compares sizes and whole-second times: give same-size changes another second
            + " && touch -d '2022-02-02 02:02:02' big";

    @TempDir
    Path tmp;

    Path lower;
    Path upper;
    Path work;
    Path mnt;
    String git;

    @BeforeEach
    void layers() throws Exception {
        assumeTrue(FuseMount.isAvailable(), "FUSE is not available here");
        assumeTrue(run("command -v rsync >/dev/null") == 0, "rsync is not installed");
        assumeTrue(run("command -v git >/dev/null") == 0, "git is not installed");
        lower = Files.createDirectory(tmp.resolve("lower"));
        upper = Files.createDirectory(tmp.resolve("upper"));
        work = tmp.resolve("work");
        mnt = Files.createDirectory(tmp.resolve("mnt"));
        Path config = tmp.resolve("gitconfig");
        Files.writeString(config, """
                [user]
                \tname = Holdfast Test
                \temail = test@holdfast.invalid
                [init]
                \tdefaultBranch = main
                [safe]
                \tdirectory = *
                [gc]
                \tauto = 0
                [maintenance]
                \tauto = false
                [advice]
                \tdetachedHead = false
                """);
        git = "export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=" + config + " HOME=" + tmp + " && ";
        sh("mkdir " + tmp + "/v1 && cd " + tmp + "/v1 && " + TREE_V1);
        sh("cp -a " + tmp + "/v1 " + tmp + "/v2 && cd " + tmp + "/v2 && " + TREE_V2_FROM_V1);
    }

    @Test
    void rsyncIntoTheMountAndOverALowerTree() throws Exception {
        String v1 = tmp + "/v1/";
        String v2 = tmp + "/v2/";
        sh("cp -a " + v1 + " " + lower + "/r");
        String lowerBefore = fingerprint(lower);
        String m = mnt.toString();
        OverlayStatus status;
        boolean kernelFormat;
        try (OverlayFileSystem overlay = OverlayFileSystem.open(lower, upper, work);
                FuseMount mount = mount(overlay)) {
            // a new tree, then a changed version over it
            sh("rsync -a " + v1 + " " + m + "/fresh/");
            assertThat(run("diff -r " + v1 + " " + m + "/fresh/")).isZero();
            assertThat(sh("rsync -ai --delete -n " + v1 + " " + m + "/fresh/")).isEmpty();
            sh("rsync -a --delete " + v2 + " " + m + "/fresh/");
            assertThat(run("diff -r " + v2 + " " + m + "/fresh/")).isZero();
            assertThat(sh("rsync -ai --delete -n " + v2 + " " + m + "/fresh/")).isEmpty();
            // the changed version over the copy in the lower layer: copy-ups and whiteouts
            assertThat(run("diff -r " + v1 + " " + m + "/r/")).isZero();
            sh("rsync -a --delete " + v2 + " " + m + "/r/");
            assertThat(run("diff -r " + v2 + " " + m + "/r/")).isZero();
            assertThat(sh("rsync -ai --delete -n " + v2 + " " + m + "/r/")).isEmpty();
            assertThat(sh("cd " + m + "/r && find . | sort")).isEqualTo(sh("cd " + v2 + " && find . | sort"));
            // and back again
            sh("rsync -a --delete " + v1 + " " + m + "/r/");
            assertThat(run("diff -r " + v1 + " " + m + "/r/")).isZero();
            assertThat(sh("rsync -ai --delete -n " + v1 + " " + m + "/r/")).isEmpty();
            status = overlay.status();
        }
        assertThat(status.lowerErrorPaths()).isEmpty();
        assertThat(fingerprint(lower)).as("the lower layer is unchanged").isEqualTo(lowerBefore);
        try (OverlayFileSystem overlay = OverlayFileSystem.open(lower, upper, work);
                FuseMount mount = mount(overlay)) {
            assertThat(sh("rsync -ai --delete -n " + v1 + " " + m + "/r/"))
                    .as("after a remount")
                    .isEmpty();
            assertThat(sh("rsync -ai --delete -n " + v2 + " " + m + "/fresh/"))
                    .as("after a remount")
                    .isEmpty();
            kernelFormat = overlay.whiteoutFormat() == WhiteoutFormat.KERNEL;
        }
        // the kernel's overlayfs on the same layers sees the same trees
        String k = tmp + "/kmnt";
        if (kernelFormat && kernelMount(k)) {
            try {
                assertThat(sh("rsync -ai --delete -n " + v1 + " " + k + "/r/")).isEmpty();
                assertThat(sh("rsync -ai --delete -n " + v2 + " " + k + "/fresh/"))
                        .isEmpty();
            } finally {
                run("umount " + k);
            }
        }
    }

    @Test
    void rsyncKeepsHardLinksAndExtendedAttributes() throws Exception {
        assumeTrue(run("command -v setfattr >/dev/null && command -v getfattr >/dev/null") == 0, "no attr tools");
        String h1 = tmp + "/h1/";
        String h2 = tmp + "/h2/";
        sh("mkdir -p " + h1 + "d && cd " + h1 + " && echo a > a && ln a b && echo x > x && setfattr -n user.k -v v x"
                + " && setfattr -n user.dk -v dv d && ln -s a s && echo y > d/y && ln d/y d/y2");
        sh("cp -a " + h1 + " " + h2 + " && cd " + h2 + " && echo more >> a && ln a c && setfattr -n user.k -v w x"
                + " && setfattr -x user.dk d && setfattr -n user.new -v n d/y && rm d/y2 && touch -d '2022-02-02' x");
        sh("cp -a " + h1 + " " + lower + "/h");
        String m = mnt.toString();
        try (OverlayFileSystem overlay = OverlayFileSystem.open(lower, upper, work);
                FuseMount mount = mount(overlay)) {
            // the lower pair of hard links is one file through the mount
            assertThat(sh("cd " + m + "/h && stat -c '%i %h' a b | uniq | wc -l")
                            .strip())
                    .isEqualTo("1");
            assertThat(sh("rsync -aiHX --delete -n " + h1 + " " + m + "/h/")).isEmpty();
            for (String dir : new String[] {"/fresh/", "/h/"}) {
                sh("rsync -aHX " + h1 + " " + m + dir);
                assertThat(sh("rsync -aiHX --delete -n " + h1 + " " + m + dir)).isEmpty();
                sh("rsync -aHX --delete " + h2 + " " + m + dir);
                assertThat(sh("rsync -aiHX --delete -n " + h2 + " " + m + dir)).isEmpty();
                assertThat(run("diff -r " + h2 + " " + m + dir)).isZero();
                assertThat(sh("cd " + m + dir + " && stat -c '%i %h' a b c | uniq"))
                        .as("a, b and c are one file with three names")
                        .hasLineCount(1)
                        .endsWith(" 3\n");
                assertThat(sh("cd " + m + dir + " && getfattr -h -d -m '^user[.]' --absolute-names x d d/y | sort"))
                        .isEqualTo(sh("cd " + h2 + " && getfattr -h -d -m '^user[.]' --absolute-names x d d/y | sort"));
            }
        }
        assertThat(sh("cd " + lower + "/h && stat -c '%h' a && getfattr --only-values -n user.k x"))
                .as("the lower layer is unchanged")
                .isEqualTo("2\nv");
    }

    @Test
    void gitInTheMount() throws Exception {
        String v1 = tmp + "/v1/";
        String v2 = tmp + "/v2/";
        String g = mnt + "/g";
        try (OverlayFileSystem overlay = OverlayFileSystem.open(lower, upper, work);
                FuseMount mount = mount(overlay)) {
            sh(git + "mkdir " + g + " && cd " + g + " && git init -q && cp -a " + v1 + ". . && git add -A"
                    + " && git commit -qm one && git checkout -qb two && git rm -rq . && cp -a " + v2 + ". ."
                    + " && git add -A && git commit -qm two");
            assertThat(run("diff -r -x .git " + v2 + " " + g)).isZero();
            sh(git + "cd " + g + " && git checkout -q main");
            assertClean(g);
            assertThat(run("diff -r -x .git " + v1 + " " + g)).isZero();
            sh(git + "cd " + g + " && git checkout -q two");
            assertClean(g);
            assertThat(run("diff -r -x .git " + v2 + " " + g)).isZero();
            sh(git + "cd " + g + " && git checkout -q HEAD~1 && git gc -q");
            assertClean(g);
            assertThat(run("diff -r -x .git " + v1 + " " + g)).isZero();
        }
    }

    @Test
    void aLowerRepositorySwitchedThroughTheMountEqualsAPlainClone() throws Exception {
        String v1 = tmp + "/v1/";
        String v2 = tmp + "/v2/";
        // a repository with a first commit on main and a second on two, cloned into the lower layer
        // (so that its working tree has the modes git gives) and, for comparison, cloned plainly
        String origin = tmp + "/origin";
        sh(git + "mkdir " + origin + " && cd " + origin + " && git init -q && cp -a " + v1 + ". ."
                + " && git add -A && git commit -qm one && git checkout -qb two && git rm -rq ."
                + " && cp -a " + v2 + ". . && git add -A && git commit -qm two && git checkout -q main");
        String plain = tmp + "/plain";
        sh(git + "git clone -q --no-hardlinks " + origin + " " + lower + "/repo");
        sh(git + "git clone -q --no-hardlinks " + origin + " " + plain + " && cd " + plain
                + " && git checkout -q two && git checkout -q main && git checkout -q two");
        String lowerBefore = fingerprint(lower);
        String r = mnt + "/repo";
        boolean kernelFormat;
        try (OverlayFileSystem overlay = OverlayFileSystem.open(lower, upper, work);
                FuseMount mount = mount(overlay)) {
            assertClean(r);
            assertThat(run("diff -r -x .git " + v1 + " " + r)).isZero();
            sh(git + "cd " + r + " && git checkout -q two");
            assertClean(r);
            assertSameCheckout(r, plain);
            assertThat(run("diff -r -x .git " + v2 + " " + r)).isZero();
            // back and forth, then a repack that deletes the lower pack and loose objects
            sh(git + "cd " + r + " && git checkout -q main && git checkout -q two && git gc -q --prune=now");
            assertClean(r);
            assertSameCheckout(r, plain);
            assertThat(sh("cd " + r + " && find .git/objects -type f -path '*/objects/??/*' | wc -l")
                            .strip())
                    .as("loose objects after the repack")
                    .isEqualTo("0");
            assertThat(overlay.status().whiteouts()).isPositive();
        }
        assertThat(fingerprint(lower)).as("the lower layer is unchanged").isEqualTo(lowerBefore);
        try (OverlayFileSystem overlay = OverlayFileSystem.open(lower, upper, work);
                FuseMount mount = mount(overlay)) {
            assertClean(r);
            assertSameCheckout(r, plain);
            kernelFormat = overlay.whiteoutFormat() == WhiteoutFormat.KERNEL;
        }
        // the kernel's overlayfs on the same layers sees the same repository
        String k = tmp + "/kmnt";
        if (kernelFormat && kernelMount(k)) {
            try {
                assertClean(k + "/repo");
                assertSameCheckout(k + "/repo", plain);
            } finally {
                run("umount " + k);
            }
        }
    }

    /**
     * Mounts the kernel's overlayfs on the layers at {@code k} (overlayfs's user xattrs, as the
     * overlay writes them); false, with a note, where the kernel does not allow it (not root, no
     * overlay support).
     */
    private boolean kernelMount(String k) throws Exception {
        Path kwork = Files.createDirectories(tmp.resolve("kwork"));
        Files.createDirectories(Path.of(k));
        boolean mounted = run("mount -t overlay overlay -o lowerdir=" + lower + ",upperdir=" + upper + ",workdir="
                        + kwork + ",userxattr " + k)
                == 0;
        System.out.println(
                mounted
                        ? "compared with the kernel's overlayfs"
                        : "the kernel's overlayfs cannot be mounted here: not compared with it");
        return mounted;
    }

    private FuseMount mount(OverlayFileSystem overlay) throws Exception {
        return FuseMount.mount(overlay.root(), mnt, FuseOptions.defaults().withFsName("holdfast-overlay"));
    }

    /** {@code git status} shows nothing to commit and {@code git fsck} finds nothing wrong. */
    private void assertClean(String repo) throws Exception {
        assertThat(sh(git + "cd " + repo + " && git status --porcelain --untracked-files=all"))
                .as("git status in %s", repo)
                .isEmpty();
        sh(git + "cd " + repo + " && git fsck --full --strict --no-progress");
    }

    /** The same commit, the same index entries and the same working tree. */
    private void assertSameCheckout(String repo, String plain) throws Exception {
        String show = " && git rev-parse HEAD && git symbolic-ref HEAD && git ls-files -s";
        assertThat(sh(git + "cd " + repo + show)).isEqualTo(sh(git + "cd " + plain + show));
        assertThat(run("diff -r -x .git " + plain + " " + repo)).isZero();
        String modes = " && find . -path ./.git -prune -o ! -type d -printf '%y %m %s %l %P\\n' | sort";
        assertThat(sh("cd " + repo + modes)).isEqualTo(sh("cd " + plain + modes));
    }

    /** Every entry's type, mode, size, mtime and link target, and every file's SHA-256. */
    private static String fingerprint(Path dir) throws Exception {
        return sh("cd " + dir + " && find . -printf '%y %m %s %T@ %l %P\\n' | sort"
                + " && find . -type f -exec sha256sum {} + | sort");
    }
}
