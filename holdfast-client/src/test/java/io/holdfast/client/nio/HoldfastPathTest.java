package io.holdfast.client.nio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.protocol.Limits;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.ProviderMismatchException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class HoldfastPathTest {
    private FileSystem fs;

    @BeforeEach
    void open() throws Exception {
        fs = TestVolumes.open(new MemoryVolume());
    }

    @AfterEach
    void close() throws Exception {
        fs.close();
    }

    private Path p(String s) {
        return fs.getPath(s);
    }

    @Test
    void parsingAndNames() {
        assertThat(p("/a//b/").toString()).isEqualTo("/a/b");
        assertThat(fs.getPath("a", "b", "", "c").toString()).isEqualTo("a/b/c");
        assertThat(p("/").getNameCount()).isZero();
        assertThat(p("/").getFileName()).isNull();
        assertThat(p("/").getParent()).isNull();
        assertThat(p("/").getRoot()).isEqualTo(p("/"));
        assertThat(p("a").getRoot()).isNull();
        assertThat(p("/a/b/c").getNameCount()).isEqualTo(3);
        assertThat(p("/a/b/c").getName(1)).isEqualTo(p("b"));
        assertThat(p("/a/b/c").getFileName()).isEqualTo(p("c"));
        assertThat(p("/a/b/c").getParent()).isEqualTo(p("/a/b"));
        assertThat(p("/a").getParent()).isEqualTo(p("/"));
        assertThat(p("a").getParent()).isNull();
        assertThat(p("/a/b/c").subpath(1, 3)).isEqualTo(p("b/c"));
        assertThatThrownBy(() -> p("/a").getName(1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> p("/a/b").subpath(1, 1)).isInstanceOf(IllegalArgumentException.class);
        List<String> names = new ArrayList<>();
        p("/x/y/z").forEach(n -> names.add(n.toString()));
        assertThat(names).containsExactly("x", "y", "z");
    }

    @Test
    void emptyPath() {
        Path e = p("");
        assertThat(e.getNameCount()).isEqualTo(1);
        assertThat(e.getFileName()).isEqualTo(e);
        assertThat(e.toString()).isEmpty();
        assertThat(e.resolve("a")).isEqualTo(p("a"));
        assertThat(p("a").resolve(e)).isEqualTo(p("a"));
        assertThat(e.toAbsolutePath()).isEqualTo(p("/"));
        assertThat(p("a").startsWith(e)).isFalse();
        assertThat(e.startsWith(e)).isTrue();
    }

    @Test
    void startsAndEndsWith() {
        assertThat(p("/a/b").startsWith(p("/a"))).isTrue();
        assertThat(p("/a/b").startsWith("/")).isTrue();
        assertThat(p("/a/b").startsWith("a")).isFalse();
        assertThat(p("a/b").startsWith("a")).isTrue();
        assertThat(p("/ab/c").startsWith("/a")).isFalse();
        assertThat(p("/a/b").endsWith("b")).isTrue();
        assertThat(p("/a/b").endsWith("a/b")).isTrue();
        assertThat(p("/a/b").endsWith("/a/b")).isTrue();
        assertThat(p("a/b").endsWith("/a/b")).isFalse();
        assertThat(p("/a/bb").endsWith("b")).isFalse();
    }

    @Test
    void normalizeResolveRelativize() {
        assertThat(p("/a/./b/../c").normalize()).isEqualTo(p("/a/c"));
        assertThat(p("/../a").normalize()).isEqualTo(p("/a"));
        assertThat(p("../a/../../b").normalize()).isEqualTo(p("../../b"));
        assertThat(p("a/..").normalize()).isEqualTo(p(""));
        assertThat(p("/a").resolve("b/c")).isEqualTo(p("/a/b/c"));
        assertThat(p("/a").resolve("/x")).isEqualTo(p("/x"));
        assertThat(p("/a/b").resolveSibling("c")).isEqualTo(p("/a/c"));
        assertThat(p("a").resolveSibling("c")).isEqualTo(p("c"));
        assertThat(p("/a/b").relativize(p("/a/c/d"))).isEqualTo(p("../c/d"));
        assertThat(p("/a").relativize(p("/a"))).isEqualTo(p(""));
        assertThat(p("a/b").relativize(p("a/b/c"))).isEqualTo(p("c"));
        Path base = p("/a/b");
        Path other = p("/a/x/y");
        assertThat(base.resolve(base.relativize(other)).normalize()).isEqualTo(other);
        assertThatThrownBy(() -> p("/a").relativize(p("a"))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> p("/a").resolve(Path.of("/tmp"))).isInstanceOf(ProviderMismatchException.class);
    }

    @Test
    void volumePathsStayInsideTheRoot() throws Exception {
        assertThat(((HoldfastPath) p("/../../x/./y/..")).volumePath()).isEqualTo("/x");
        assertThat(((HoldfastPath) p("rel/a")).volumePath()).isEqualTo("/rel/a");
        assertThat(((HoldfastPath) p("/")).volumePath()).isEqualTo("/");
    }

    @Test
    void limits() throws Exception {
        assertThatThrownBy(() -> p("a\0b")).isInstanceOf(InvalidPathException.class);
        HoldfastPath longName = (HoldfastPath) p("/" + "x".repeat(256));
        assertThatThrownBy(longName::volumePath)
                .isInstanceOfSatisfying(
                        ErrnoFileSystemException.class,
                        e -> assertThat(e.errno()).isEqualTo(Errno.ENAMETOOLONG));
        HoldfastPath deep = (HoldfastPath) p(("/" + "y".repeat(200)).repeat(21));
        assertThat(deep.volumePath())
                .as("a volume path may be deeper than PATH_MAX (one system call's limit)")
                .hasSize(21 * 201);
        HoldfastPath longPath = (HoldfastPath) p(("/" + "y".repeat(200)).repeat(164));
        assertThat(164 * 201).isGreaterThan(Limits.VOLUME_PATH_MAX);
        assertThatThrownBy(longPath::volumePath)
                .isInstanceOfSatisfying(
                        ErrnoFileSystemException.class,
                        e -> assertThat(e.errno()).isEqualTo(Errno.ENAMETOOLONG));
    }

    @Test
    void equalityOrderAndUris() {
        assertThat(p("/a/b")).isEqualTo(p("/a//b")).hasSameHashCodeAs(p("/a//b"));
        assertThat(p("/a")).isNotEqualTo(p("a"));
        assertThat(p("/a").compareTo(p("/b"))).isNegative();
        URI uri = p("/dir/with space").toUri();
        assertThat(uri.getScheme()).isEqualTo("holdfast");
        assertThat(uri.getPath()).isEqualTo("/vol/dir/with space");
        assertThat(Path.of(uri)).isEqualTo(p("/dir/with space"));
        assertThat(p("rel").toUri().getPath()).isEqualTo("/vol/rel");
        assertThat(p("x").isAbsolute()).isFalse();
        assertThat(p("/x").isAbsolute()).isTrue();
    }

    @Test
    void matchers() {
        PathMatcher glob = fs.getPathMatcher("glob:*.{java,txt}");
        assertThat(glob.matches(p("A.java"))).isTrue();
        assertThat(glob.matches(p("b.txt"))).isTrue();
        assertThat(glob.matches(p("dir/A.java"))).isFalse();
        assertThat(fs.getPathMatcher("glob:**/*.java").matches(p("/a/b/C.java")))
                .isTrue();
        assertThat(fs.getPathMatcher("glob:/a/?/[!x-z]*").matches(p("/a/b/c1"))).isTrue();
        assertThat(fs.getPathMatcher("glob:/a/?/[!x-z]*").matches(p("/a/b/y1"))).isFalse();
        assertThat(fs.getPathMatcher("glob:a\\*b").matches(p("a*b"))).isTrue();
        assertThat(fs.getPathMatcher("glob:a.b").matches(p("axb"))).isFalse();
        assertThat(fs.getPathMatcher("regex:.*\\.md").matches(p("/x/READ.md"))).isTrue();
        assertThatThrownBy(() -> fs.getPathMatcher("foo:x")).isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> fs.getPathMatcher("x")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void unsupported() {
        assertThatThrownBy(() -> fs.newWatchService()).isInstanceOf(UnsupportedOperationException.class);
        assertThat(fs.getSeparator()).isEqualTo("/");
        assertThat(fs.supportedFileAttributeViews())
                .containsExactlyInAnyOrder("basic", "posix", "owner", "unix", "user");
    }
}
