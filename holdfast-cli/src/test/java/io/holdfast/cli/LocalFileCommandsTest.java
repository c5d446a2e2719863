package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.FileInfo;
import io.holdfast.common.SpecialFiles;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The file commands on local paths only: the same code path remote paths take, over java.nio. */
class LocalFileCommandsTest {
    @TempDir
    Path tmp;

    Path src;

    @BeforeEach
    void tree() throws IOException {
        src = tmp.resolve("src");
        Trees.build(src, 42);
    }

    private String p(String rel) {
        return tmp.resolve(rel).toString();
    }

    @Test
    void cpRecursiveKeepsContentModesTimesAndLinks() throws IOException {
        Cli r = Cli.run("cp", "-r", p("src"), p("copy"));
        assertThat(r.exit()).isZero();
        assertThat(r.err()).isEmpty();
        Trees.assertSame(src, tmp.resolve("copy"));
        assertThat(Files.isSymbolicLink(tmp.resolve("copy/link-to-readme"))).isTrue();
        assertThat(Files.isSymbolicLink(tmp.resolve("copy/dangling"))).isTrue();
        assertThat(Files.isSymbolicLink(tmp.resolve("copy/docs/up"))).isTrue();
    }

    /**
     * cp -r recreates FIFOs, sockets and (as root) device nodes, as cp -a does: same type,
     * permission bits, device number and mtime.
     */
    @Test
    void cpRecursiveRecreatesSpecialFiles() throws IOException {
        Path special = Files.createDirectory(tmp.resolve("special"));
        SpecialFiles.mknod(special.resolve("fifo"), FileInfo.S_IFIFO | 0640, 0);
        SpecialFiles.mknod(special.resolve("sock"), FileInfo.S_IFSOCK | 0755, 0);
        boolean devices = true;
        try {
            SpecialFiles.mknod(special.resolve("null"), FileInfo.S_IFCHR | 0666, 0x103);
            SpecialFiles.mknod(special.resolve("loop0"), FileInfo.S_IFBLK | 0660, 0x700);
        } catch (AccessDeniedException notRoot) {
            devices = false; // only root (CAP_MKNOD) makes device nodes
        }
        SpecialFiles.setTimes(special.resolve("fifo"), FileTime.fromMillis(1_300_000_000_000L), null);
        Cli r = Cli.run("cp", "-r", p("special"), p("special-copy"));
        assertThat(r.err()).isEmpty();
        assertThat(r.exit()).isZero();
        Trees.assertSame(special, tmp.resolve("special-copy"));
        FileInfo fifo = FileInfo.read(tmp.resolve("special-copy/fifo"), false);
        assertThat(fifo.mode()).isEqualTo(FileInfo.S_IFIFO | 0640);
        assertThat(fifo.mtime().toMillis()).isEqualTo(1_300_000_000_000L);
        assertThat(FileInfo.read(tmp.resolve("special-copy/sock"), false).mode())
                .isEqualTo(FileInfo.S_IFSOCK | 0755);
        if (devices) {
            FileInfo n = FileInfo.read(tmp.resolve("special-copy/null"), false);
            assertThat(n.mode()).isEqualTo(FileInfo.S_IFCHR | 0666);
            assertThat(n.rdev()).isEqualTo(0x103);
            assertThat(FileInfo.read(tmp.resolve("special-copy/loop0"), false).rdev())
                    .isEqualTo(0x700);
        }
        // copied again over the existing copy: replaced, not refused
        r = Cli.run("cp", "-r", p("special"), p("special-copy"));
        assertThat(r.err()).isEmpty();
        assertThat(r.exit()).isZero();
    }

    @Test
    void cpIntoExistingDirectoryAndSeveralSources() throws IOException {
        Files.createDirectory(tmp.resolve("dest"));
        Cli r = Cli.run("cp", p("src/run.sh"), p("src/docs/readme.txt"), p("dest"));
        assertThat(r.exit()).isZero();
        Trees.assertSame(src.resolve("run.sh"), tmp.resolve("dest/run.sh"));
        Trees.assertSame(src.resolve("docs/readme.txt"), tmp.resolve("dest/readme.txt"));

        r = Cli.run("cp", "-r", p("src"), p("dest"));
        assertThat(r.exit()).isZero();
        Trees.assertSame(src, tmp.resolve("dest/src"));
    }

    @Test
    void cpOverwritesAFileAndFollowsALinkWithoutR() throws IOException {
        Files.writeString(tmp.resolve("target.txt"), "old content that is longer");
        Cli r = Cli.run("cp", p("src/link-to-readme"), p("target.txt"));
        assertThat(r.exit()).isZero();
        assertThat(Files.isSymbolicLink(tmp.resolve("target.txt"))).isFalse();
        assertThat(Files.readString(tmp.resolve("target.txt"))).isEqualTo("hello holdfast\n");
    }

    @Test
    void cpDirectoryWithoutRFailsButCopiesTheOtherSources() throws IOException {
        Files.createDirectory(tmp.resolve("dest"));
        Cli r = Cli.run("cp", p("src/docs"), p("src/run.sh"), p("missing"), p("dest"));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("holdfast cp: " + p("src/docs") + ": is a directory (use -r)");
        assertThat(r.err()).contains("no such file or directory: " + p("missing"));
        assertThat(r.err().lines()).hasSize(2);
        assertThat(tmp.resolve("dest/run.sh")).exists();
        assertThat(tmp.resolve("dest/docs")).doesNotExist();
    }

    @Test
    void cpDirectoryIntoItselfIsRefused() {
        Cli r = Cli.run("cp", "-r", p("src"), p("src/docs"));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("cannot copy a directory into itself");
    }

    @Test
    void cpSeveralSourcesToAFileFails() {
        Cli r = Cli.run("cp", p("src/run.sh"), p("src/big.bin"), p("src/docs/readme.txt"));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("is not a directory");
    }

    @Test
    void mkdirParentsAndErrors() {
        assertThat(Cli.run("mkdir", "-p", p("a/b/c"), p("x/y")).exit()).isZero();
        assertThat(tmp.resolve("a/b/c")).isDirectory();
        assertThat(tmp.resolve("x/y")).isDirectory();
        assertThat(Cli.run("mkdir", "-p", p("a/b/c")).exit()).isZero();

        Cli r = Cli.run("mkdir", p("no/parent"), p("fresh"));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).startsWith("holdfast mkdir: no such file or directory: " + p("no/parent"));
        assertThat(tmp.resolve("fresh")).isDirectory();

        r = Cli.run("mkdir", p("fresh"));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("already exists: " + p("fresh"));
    }

    @Test
    void lsShortLongAndHidden() throws IOException {
        Cli r = Cli.run("ls", p("src"));
        assertThat(r.exit()).isZero();
        assertThat(r.out().lines()).containsExactly("big.bin", "dangling", "docs", "empty", "link-to-readme", "run.sh");

        r = Cli.run("ls", "-a", p("src"));
        assertThat(r.out().lines()).first().isEqualTo(".hidden");

        r = Cli.run("ls", "-l", p("src"));
        assertThat(r.exit()).isZero();
        assertThat(r.out().lines()).hasSize(6);
        assertThat(r.out()).containsPattern("(?m)^-rwxr-x--- +1 +\\d+ +\\d+ +18 \\w{3} \\d\\d [ \\d:]{5} run\\.sh$");
        assertThat(r.out()).containsPattern("(?m)^lrwxrwxrwx .* link-to-readme -> docs/readme\\.txt$");
        assertThat(r.out()).containsPattern("(?m)^drwxr-xr-x .* docs$");
        assertThat(r.out()).containsPattern("(?m)^-rw-r--r-- +1 +\\d+ +\\d+ +3145745 \\w{3} \\d\\d +\\d{4} big\\.bin$");

        r = Cli.run("ls", p("src/run.sh"), p("src/docs"));
        assertThat(r.out())
                .isEqualTo(p("src/run.sh") + "\n\n" + p("src/docs") + ":\nempty.bin\nnested\nreadme.txt\nup\n");
    }

    @Test
    void lsMissingPathFailsOthersStillListed() {
        Cli r = Cli.run("ls", p("nope"), p("src/docs/nested"));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("holdfast ls: no such file or directory: " + p("nope") + "\n");
        assertThat(r.out()).contains("deeper");
    }

    @Test
    void statShowsModeTypeAndLinks() {
        Cli r = Cli.run("stat", p("src/run.sh"), p("src/link-to-readme"), p("src/docs"));
        assertThat(r.exit()).isZero();
        assertThat(r.out())
                .contains(
                        "  File: " + p("src/run.sh") + "\n",
                        "Type: regular file",
                        "Access: (0750/-rwxr-x---)",
                        "Links: 1");
        assertThat(r.out())
                .contains("  File: " + p("src/link-to-readme") + " -> docs/readme.txt", "Type: symbolic link");
        assertThat(r.out()).contains("Type: directory", "Access: (0755/drwxr-xr-x)");
        assertThat(r.out()).containsPattern("Modify: \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{9} [+-]\\d{4}");
    }

    @Test
    void catConcatenatesAndReportsMissing() {
        Cli r = Cli.run("cat", p("src/docs/readme.txt"), p("missing"), p("src/docs/nested/deeper/note.md"));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).isEqualTo("hello holdfast\n# deep\n");
        assertThat(r.err()).isEqualTo("holdfast cat: no such file or directory: " + p("missing") + "\n");

        r = Cli.run("cat", p("src/docs"));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("is a directory");
    }

    @Test
    void mvRenamesAndMovesIntoDirectory() throws IOException {
        FileTime before = Files.getLastModifiedTime(src.resolve("docs/readme.txt"));
        assertThat(Cli.run("mv", p("src/docs/readme.txt"), p("src/renamed.txt")).exit())
                .isZero();
        assertThat(src.resolve("docs/readme.txt")).doesNotExist();
        assertThat(Files.getLastModifiedTime(src.resolve("renamed.txt"))).isEqualTo(before);

        Files.createDirectory(tmp.resolve("box"));
        Cli r = Cli.run("mv", p("src"), p("box"));
        assertThat(r.exit()).isZero();
        assertThat(r.err()).isEmpty(); // a rename, not a copy
        assertThat(tmp.resolve("box/src/renamed.txt")).hasContent("hello holdfast");
        assertThat(Files.isSymbolicLink(tmp.resolve("box/src/dangling"))).isTrue();

        r = Cli.run("mv", p("gone"), p("box"));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("no such file or directory");
    }

    @Test
    void rmFilesTreesAndForce() throws IOException {
        Path outside = tmp.resolve("outside.txt");
        Files.writeString(outside, "keep me");
        Files.createSymbolicLink(src.resolve("docs/out"), outside);

        Cli r = Cli.run("rm", p("src/docs"));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("is a directory (use -r)");

        assertThat(Cli.run("rm", p("src/link-to-readme"), p("src/run.sh")).exit())
                .isZero();
        assertThat(src.resolve("docs/readme.txt")).exists();
        assertThat(Files.exists(src.resolve("link-to-readme"), LinkOption.NOFOLLOW_LINKS))
                .isFalse();

        assertThat(Cli.run("rm", "-r", p("src")).exit()).isZero();
        assertThat(src).doesNotExist();
        assertThat(outside).hasContent("keep me"); // links are removed, not followed

        assertThat(Cli.run("rm", p("src")).exit()).isEqualTo(1);
        assertThat(Cli.run("rm", "-f", p("src")).exit()).isZero();
    }

    @Test
    void badUsageExitsTwo() {
        assertThat(Cli.run("cp", p("src")).exit()).isEqualTo(2);
        assertThat(Cli.run("ls", "--no-such-option", p("src")).exit()).isEqualTo(2);
        assertThat(Cli.run("mv", p("src")).exit()).isEqualTo(2);
        Cli r = Cli.run("put", p("src"), p("elsewhere"));
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("put needs a remote destination VOLUME:/path");
        assertThat(Cli.run("get", p("src"), p("elsewhere")).exit()).isEqualTo(2);
        assertThat(Cli.run("ls", "--cluster", "nonsense", "v:/").exit()).isEqualTo(2);
        assertThat(Cli.run("bench", p("src"), "--workloads", "nope").exit()).isEqualTo(2);
    }

    @Test
    void unreachableClusterIsOneLinePerArgument() {
        Cli r = Cli.run("ls", "--cluster", "127.0.0.1:1", "v:/", p("src/docs/nested"));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).contains("deeper");
        // (the Ratis client may log too if logging was set up earlier in this JVM)
        assertThat(r.err().lines().filter(l -> l.startsWith("holdfast ")))
                .hasSize(1)
                .first()
                .asString()
                .startsWith("holdfast ls: ");
    }

    @Test
    void helpTeaches() {
        for (String cmd :
                new String[] {"ls", "stat", "cat", "put", "get", "cp", "mkdir", "rm", "mv", "mount", "bench"}) {
            Cli r = Cli.run(cmd, "--help");
            assertThat(r.exit()).as(cmd).isZero();
            assertThat(r.out()).as(cmd).contains("Example").contains("Usage: holdfast " + cmd);
        }
    }

    @Test
    void benchRunsOnALocalDirectory() throws IOException {
        Path target = Files.createDirectory(tmp.resolve("bench"));
        Cli r = Cli.run("bench", target.toString(), "--quick", "--workloads", "stat-tree", "--json");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("STAT_TREE");
        assertThat(r.err()).contains("baseline: ");
        assertThat(Trees.names(target)).isEmpty();
    }
}
