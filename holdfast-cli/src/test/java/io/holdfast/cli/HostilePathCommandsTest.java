package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The file commands given hostile path arguments, on local paths (the code path remote paths
 * take too; {@link LocationsTest} covers what is checked for volume paths): each is refused
 * with one clear line, the other arguments go on, and nothing is changed.
 */
class HostilePathCommandsTest {
    @TempDir
    Path tmp;

    @BeforeEach
    void tree() throws IOException {
        Trees.build(tmp.resolve("src"), 42);
    }

    private String p(String rel) {
        return tmp.resolve(rel).toString();
    }

    /** Every entry under {@code tmp}: path, type, size and modification time. */
    private List<String> snapshot() throws IOException {
        try (Stream<Path> all = Files.walk(tmp)) {
            return all.sorted()
                    .map(x -> {
                        try {
                            BasicFileAttributes a =
                                    Files.readAttributes(x, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                            return tmp.relativize(x) + (a.isDirectory() ? "/" : a.isSymbolicLink() ? "@" : "") + " "
                                    + a.size() + " " + a.lastModifiedTime().toMillis();
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                    })
                    .toList();
        }
    }

    @Test
    void rmRefusesDotAndDotDotAsPosixDoes() throws IOException {
        List<String> before = snapshot();
        for (String arg : List.of(p("src/docs/.."), p("src/."), p("src/docs/nested/.."), p("src/docs/../"))) {
            for (String flags : List.of("-r", "-rf")) {
                Cli r = Cli.run("rm", flags, arg);
                assertThat(r.exit()).as(arg).isEqualTo(1);
                assertThat(r.err())
                        .isEqualTo("holdfast rm: " + Path.of(arg) + ": refusing to remove '.' or '..' directory\n");
                assertThat(snapshot()).as("after rm %s %s", flags, arg).isEqualTo(before);
            }
        }
        // the other arguments still go
        Cli r = Cli.run("rm", "-r", p("src/docs/.."), p("src/run.sh"));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(tmp.resolve("src/run.sh")).doesNotExist();
        assertThat(tmp.resolve("src/docs/readme.txt")).exists();
    }

    @Test
    void mvRefusesASourceEndingInDotOrDotDot() throws IOException {
        List<String> before = snapshot();
        for (String arg : List.of(p("src/docs/.."), p("src/docs/."))) {
            Cli r = Cli.run("mv", arg, p("moved"));
            assertThat(r.exit()).as(arg).isEqualTo(1);
            assertThat(r.err()).isEqualTo("holdfast mv: " + arg + ": refusing to move '.' or '..' directory\n");
            assertThat(snapshot()).as("after mv %s", arg).isEqualTo(before);
        }
    }

    @Test
    void theEmptyArgumentNamesNothing() throws IOException {
        List<String> before = snapshot();
        String noSuch = ": no such file or directory: '' (empty path)\n";
        for (String cmd : List.of("ls", "stat", "cat", "rm", "mkdir")) {
            Cli r = Cli.run(cmd, "");
            assertThat(r.exit()).as(cmd).isEqualTo(1);
            assertThat(r.out()).as(cmd).isEmpty();
            assertThat(r.err()).as(cmd).isEqualTo("holdfast " + cmd + noSuch);
        }
        Cli cat = Cli.run("cat", "", p("src/docs/readme.txt"));
        assertThat(cat.exit()).isEqualTo(1);
        assertThat(cat.out()).isEqualTo("hello holdfast\n");
        Cli cp = Cli.run("cp", p("src/run.sh"), "");
        assertThat(cp.exit()).isEqualTo(1);
        assertThat(cp.err()).isEqualTo("holdfast cp" + noSuch);
        assertThat(Path.of("run.sh"))
                .as("nothing copied into the working directory")
                .doesNotExist();
        assertThat(snapshot()).isEqualTo(before);
    }

    @Test
    void nulIsEinvalAndTheOtherArgumentsGoOn() throws IOException {
        List<String> before = snapshot();
        // the volume path is refused before the (unreachable) cluster is contacted
        Cli r = Cli.run("cat", "--cluster", "127.0.0.1:1", p("src/docs/readme.txt"), "a\0b", "v:/x\0y");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).isEqualTo("hello holdfast\n");
        assertThat(r.err())
                .isEqualTo("holdfast cat: a\\0b: EINVAL: path contains a NUL character\n"
                        + "holdfast cat: v:/x\\0y: EINVAL: path contains a NUL character\n");
        Cli mkdir = Cli.run("mkdir", "-p", "--cluster", "127.0.0.1:1", tmp + "/new\0dir/x", "v:/a\0");
        assertThat(mkdir.exit()).isEqualTo(1);
        assertThat(mkdir.err().lines()).hasSize(2).allMatch(l -> l.endsWith(": EINVAL: path contains a NUL character"));
        assertThat(snapshot()).isEqualTo(before);
    }

    @Test
    void malformedUnicodeIsEinval() throws IOException {
        List<String> before = snapshot();
        Cli r = Cli.run("mkdir", tmp + "/bad\uD800name");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).endsWith(": EINVAL: path is not valid Unicode\n");
        Cli ls = Cli.run("ls", "v:/a\uDC00", p("src/docs/nested"));
        assertThat(ls.exit()).isEqualTo(1);
        assertThat(ls.err()).isEqualTo("holdfast ls: v:/a?: EINVAL: path is not valid Unicode\n");
        assertThat(ls.out()).isEqualTo(p("src/docs/nested") + ":\ndeeper\n");
        assertThat(snapshot()).isEqualTo(before);
    }

    @Test
    void localNamesOverNameMaxAreTooLong() throws IOException {
        List<String> before = snapshot();
        String name = "n".repeat(256);
        Cli r = Cli.run("mkdir", p(name));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("holdfast mkdir: " + p(name) + ": File name too long\n");
        assertThat(snapshot()).isEqualTo(before);
    }
}
