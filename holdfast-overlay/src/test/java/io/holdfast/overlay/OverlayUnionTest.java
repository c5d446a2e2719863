package io.holdfast.overlay;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.nio.file.LinkOption.NOFOLLOW_LINKS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.common.SpecialFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The union semantics of the overlay on local temporary directories, in both whiteout formats:
 * lookups upper first, merged directories, listings without duplicates, whiteouts and opaque
 * directories in their on-disk formats, copy-up that keeps metadata, renames of directories, and a
 * lower layer that is never written.
 */
class OverlayUnionTest {
    private static final FileTime OLD = FileTime.from(Instant.parse("2001-02-03T04:05:06Z"));

    @TempDir
    Path base;

    Path lower;
    Path upper;
    Path work;
    OverlayFileSystem fs;
    Path root;

    @BeforeEach
    void layers() throws IOException {
        lower = Files.createDirectory(base.resolve("lower"));
        upper = Files.createDirectory(base.resolve("upper"));
        work = base.resolve("work");
        Files.writeString(lower.resolve("a.txt"), "lower a");
        Files.writeString(lower.resolve("both.txt"), "lower both");
        Files.writeString(upper.resolve("both.txt"), "upper both");
        Files.createDirectories(lower.resolve("d/sub"));
        Files.writeString(lower.resolve("d/x"), "x");
        Files.writeString(lower.resolve("d/sub/y"), "y");
        Files.writeString(lower.resolve("d/sub/z"), "z");
        Files.createDirectory(upper.resolve("d"));
        Files.writeString(upper.resolve("d/u"), "u");
        Files.createSymbolicLink(lower.resolve("link"), Path.of("a.txt"));
        Files.createDirectory(lower.resolve("empty"));
        Path meta = Files.writeString(lower.resolve("meta.txt"), "meta");
        Files.setAttribute(meta, "unix:mode", 0640);
        Files.getFileAttributeView(meta, UserDefinedFileAttributeView.class).write("color", UTF_8.encode("blue"));
        Files.setLastModifiedTime(meta, OLD);
    }

    @AfterEach
    void close() throws IOException {
        if (fs != null) {
            fs.close();
        }
    }

    private void open(WhiteoutFormat format) throws IOException {
        if (format == WhiteoutFormat.AUFS) {
            Files.createDirectories(work);
            Files.writeString(work.resolve("format"), "AUFS\n");
        }
        fs = OverlayFileSystem.open(lower, upper, work);
        root = fs.root();
        assumeTrue(fs.whiteoutFormat() == format, "the upper layer cannot hold the " + format + " format");
    }

    private static List<String> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static boolean isKernelWhiteout(Path p) throws IOException {
        Map<String, Object> a = Files.readAttributes(p, "unix:mode,rdev", NOFOLLOW_LINKS);
        return ((Integer) a.get("mode") & 0170000) == 0020000 && ((Long) a.get("rdev")) == 0;
    }

    private void assertWhiteout(String rel) throws IOException {
        Path p = upper.resolve(rel);
        if (fs.whiteoutFormat() == WhiteoutFormat.KERNEL) {
            assertThat(isKernelWhiteout(p))
                    .as("%s is a character device 0/0", p)
                    .isTrue();
        } else {
            Path wh = p.resolveSibling(".wh." + p.getFileName());
            assertThat(Files.isRegularFile(wh, NOFOLLOW_LINKS))
                    .as("%s exists", wh)
                    .isTrue();
            assertThat(Files.size(wh)).isZero();
        }
    }

    private static String xattr(Path p, String name) throws IOException {
        UserDefinedFileAttributeView v =
                Files.getFileAttributeView(p, UserDefinedFileAttributeView.class, NOFOLLOW_LINKS);
        if (!v.list().contains(name)) {
            return null;
        }
        ByteBuffer b = ByteBuffer.allocate(v.size(name));
        v.read(name, b);
        return new String(b.array(), 0, b.position(), UTF_8);
    }

    private static boolean isRoot() {
        return ProcessHandle.current().info().user().orElse("").equals("root");
    }

    @ParameterizedTest
    @EnumSource(WhiteoutFormat.class)
    void lookupsGoToTheUpperLayerFirstAndDirectoriesMerge(WhiteoutFormat format) throws IOException {
        open(format);
        assertThat(Files.readString(root.resolve("a.txt"))).isEqualTo("lower a");
        assertThat(Files.readString(root.resolve("both.txt"))).isEqualTo("upper both");
        assertThat(list(root)).containsExactly("a.txt", "both.txt", "d", "empty", "link", "meta.txt");
        assertThat(list(root.resolve("d"))).containsExactly("sub", "u", "x");
        assertThat(list(root.resolve("d/sub"))).containsExactly("y", "z");
        assertThat(Files.readString(root.resolve("link"))).isEqualTo("lower a");
        assertThat(Files.readSymbolicLink(root.resolve("link")).toString()).isEqualTo("a.txt");
        assertThat(Files.isSymbolicLink(root.resolve("link"))).isTrue();
        assertThat(Files.readString(root.resolve("d/../d/./sub/y"))).isEqualTo("y");
        assertThat(Files.exists(root.resolve("nothing"))).isFalse();
        assertThatThrownBy(() -> Files.readString(root.resolve("a.txt/x"))).isInstanceOf(IOException.class);
        // reading copies nothing up
        assertThat(list(upper)).containsExactly("both.txt", "d");
        assertThat(fs.status().copyUps()).isZero();
    }

    @ParameterizedTest
    @EnumSource(WhiteoutFormat.class)
    void listingsHaveEachNameOnce(WhiteoutFormat format) throws IOException {
        for (int i = 0; i < 50; i++) {
            Files.writeString(lower.resolve("d/n" + i), "l");
            if (i % 2 == 0) {
                Files.writeString(upper.resolve("d/n" + i), "u");
            }
        }
        open(format);
        Files.delete(root.resolve("d/n7"));
        List<String> names = list(root.resolve("d"));
        assertThat(names).doesNotHaveDuplicates().hasSize(50 - 1 + 3).doesNotContain("n7");
        assertThat(names.stream().filter(n -> n.startsWith(".wh."))).isEmpty();
    }

    @ParameterizedTest
    @EnumSource(WhiteoutFormat.class)
    void deletingALowerNameLeavesAWhiteout(WhiteoutFormat format) throws IOException {
        open(format);
        Files.delete(root.resolve("a.txt"));
        Files.delete(root.resolve("both.txt"));
        Files.delete(root.resolve("d/sub/y"));
        Files.delete(root.resolve("d/u")); // upper only: simply removed
        assertThat(Files.exists(root.resolve("a.txt"), NOFOLLOW_LINKS)).isFalse();
        assertThatThrownBy(() -> Files.readString(root.resolve("both.txt"))).isInstanceOf(NoSuchFileException.class);
        assertThat(list(root)).containsExactly("d", "empty", "link", "meta.txt");
        assertThat(list(root.resolve("d/sub"))).containsExactly("z");
        assertWhiteout("a.txt");
        assertWhiteout("both.txt");
        assertWhiteout("d/sub/y");
        assertThat(Files.exists(upper.resolve("d/u"), NOFOLLOW_LINKS)).isFalse();
        assertThat(fs.status().whiteouts()).isEqualTo(3);
        assertThatThrownBy(() -> Files.delete(root.resolve("a.txt"))).isInstanceOf(NoSuchFileException.class);
        // a name made again replaces its whiteout
        Files.writeString(root.resolve("a.txt"), "again");
        assertThat(Files.readString(root.resolve("a.txt"))).isEqualTo("again");
        assertThat(Files.readString(upper.resolve("a.txt"))).isEqualTo("again");
        assertThat(Files.exists(upper.resolve(".wh.a.txt"))).isFalse();
        Files.createSymbolicLink(root.resolve("both.txt"), fs.getPath("a.txt"));
        assertThat(Files.readString(root.resolve("both.txt"))).isEqualTo("again");
        // the link of the lower layer points at the new file
        assertThat(Files.readString(root.resolve("link"))).isEqualTo("again");
    }

    @ParameterizedTest
    @EnumSource(WhiteoutFormat.class)
    void aDirectoryDeletedAndMadeAgainIsOpaque(WhiteoutFormat format) throws IOException {
        open(format);
        Path d = root.resolve("d");
        assertThatThrownBy(() -> Files.delete(d)).isInstanceOf(DirectoryNotEmptyException.class);
        for (String rel : List.of("sub/y", "sub/z", "sub", "x", "u")) {
            Files.delete(d.resolve(rel));
        }
        Files.delete(d);
        assertThat(Files.exists(d)).isFalse();
        assertWhiteout("d");
        Files.createDirectory(d);
        assertThat(list(d)).isEmpty();
        Path up = upper.resolve("d");
        assertThat(Files.isDirectory(up, NOFOLLOW_LINKS)).isTrue();
        if (format == WhiteoutFormat.KERNEL) {
            assertThat(xattr(up, "overlay.opaque")).isEqualTo("y");
        } else {
            assertThat(Files.exists(up.resolve(".wh..wh..opq"))).isTrue();
            assertThat(Files.exists(upper.resolve(".wh.d"))).isFalse();
        }
        Files.writeString(d.resolve("x"), "new x");
        assertThat(list(d)).containsExactly("x");
        assertThat(Files.readString(d.resolve("x"))).isEqualTo("new x");
        assertThat(Files.readString(lower.resolve("d/x"))).isEqualTo("x");
        // an empty lower directory removed and made again
        Files.delete(root.resolve("empty"));
        Files.createDirectory(root.resolve("empty"));
        assertThat(list(root.resolve("empty"))).isEmpty();
        // the overlay's own attribute is neither listed nor settable
        UserDefinedFileAttributeView v = Files.getFileAttributeView(d, UserDefinedFileAttributeView.class);
        assertThat(v.list()).doesNotContain("overlay.opaque");
        assertThatThrownBy(() -> v.write("overlay.opaque", UTF_8.encode("n")))
                .isInstanceOfSatisfying(
                        ErrnoFileSystemException.class,
                        e -> assertThat(e.errno()).isEqualTo(Errno.EPERM));
    }

    @ParameterizedTest
    @EnumSource(WhiteoutFormat.class)
    void copyUpKeepsModeOwnerTimesAndExtendedAttributes(WhiteoutFormat format) throws IOException {
        boolean root0 = isRoot();
        if (root0) {
            Files.setAttribute(lower.resolve("meta.txt"), "unix:gid", 2345);
            Files.setAttribute(lower.resolve("meta.txt"), "unix:uid", 1234);
            Files.setAttribute(lower.resolve("d/sub"), "unix:uid", 4321);
        }
        Files.setAttribute(lower.resolve("d/sub"), "unix:mode", 0750);
        open(format);
        Path meta = root.resolve("meta.txt");
        // a metadata change copies up: everything else is kept
        Files.getFileAttributeView(meta, UserDefinedFileAttributeView.class).write("tag", UTF_8.encode("t"));
        Path up = upper.resolve("meta.txt");
        assertThat(Files.readString(up)).isEqualTo("meta");
        assertThat((Integer) Files.getAttribute(up, "unix:mode") & 07777).isEqualTo(0640);
        assertThat(Files.getLastModifiedTime(up)).isEqualTo(OLD);
        assertThat(xattr(up, "color")).isEqualTo("blue");
        assertThat(xattr(up, "tag")).isEqualTo("t");
        assertThat(xattr(meta, "color")).isEqualTo("blue");
        if (root0) {
            assertThat(Files.getAttribute(up, "unix:uid")).isEqualTo(1234);
            assertThat(Files.getAttribute(up, "unix:gid")).isEqualTo(2345);
        }
        assertThat(xattr(lower.resolve("meta.txt"), "tag")).isNull();
        // a new file in a lower-only directory copies the directories up with their metadata
        Files.writeString(root.resolve("d/sub/new"), "n");
        Path sub = upper.resolve("d/sub");
        assertThat((Integer) Files.getAttribute(sub, "unix:mode") & 07777).isEqualTo(0750);
        if (root0) {
            assertThat(Files.getAttribute(sub, "unix:uid")).isEqualTo(4321);
        }
        assertThat(list(root.resolve("d/sub"))).containsExactly("new", "y", "z");
        // writing data copies up the content first; the lower file keeps its own
        Files.writeString(root.resolve("a.txt"), " more", StandardOpenOption.APPEND);
        assertThat(Files.readString(root.resolve("a.txt"))).isEqualTo("lower a more");
        assertThat(Files.readString(lower.resolve("a.txt"))).isEqualTo("lower a");
        // chmod and times copy up too
        Files.setAttribute(root.resolve("d/x"), "unix:mode", 0600);
        assertThat((Integer) Files.getAttribute(upper.resolve("d/x"), "unix:mode") & 07777)
                .isEqualTo(0600);
        Files.setLastModifiedTime(root.resolve("d/sub/z"), OLD);
        assertThat(Files.getLastModifiedTime(upper.resolve("d/sub/z"))).isEqualTo(OLD);
        assertThat(Files.readString(upper.resolve("d/sub/z"))).isEqualTo("z");
        assertThat(fs.status().copyUps()).isEqualTo(5); // meta.txt, d/sub, a.txt, d/x, d/sub/z
        // nothing half-copied stays in the work directory
        assertThat(list(work.resolve("tmp"))).isEmpty();
    }

    @ParameterizedTest
    @EnumSource(WhiteoutFormat.class)
    void renamingADirectoryWithLowerContentMovesAllOfIt(WhiteoutFormat format) throws IOException {
        open(format);
        Files.delete(root.resolve("d/sub/z"));
        Files.move(root.resolve("d"), root.resolve("e"));
        assertThat(Files.exists(root.resolve("d"))).isFalse();
        assertThat(list(root.resolve("e"))).containsExactly("sub", "u", "x");
        assertThat(list(root.resolve("e/sub"))).containsExactly("y");
        assertThat(Files.readString(root.resolve("e/sub/y"))).isEqualTo("y");
        assertThat(Files.readString(root.resolve("e/u"))).isEqualTo("u");
        // the old name stays deleted, also when made again
        Files.createDirectory(root.resolve("d"));
        assertThat(list(root.resolve("d"))).isEmpty();
        // over an empty lower directory, and back again
        Files.move(root.resolve("e"), root.resolve("empty"), StandardCopyOption.REPLACE_EXISTING);
        assertThat(list(root.resolve("empty"))).containsExactly("sub", "u", "x");
        assertThatThrownBy(() -> Files.move(root.resolve("a.txt"), root.resolve("empty")))
                .isInstanceOf(FileAlreadyExistsException.class);
        assertThatThrownBy(() -> Files.move(root.resolve("empty"), root.resolve("empty/sub/in")))
                .isInstanceOf(IOException.class);
        // files: a lower one moved, and one moved over another
        Files.move(root.resolve("a.txt"), root.resolve("b.txt"));
        assertThat(Files.readString(root.resolve("b.txt"))).isEqualTo("lower a");
        assertThat(Files.exists(root.resolve("a.txt"))).isFalse();
        Files.move(root.resolve("b.txt"), root.resolve("both.txt"), StandardCopyOption.ATOMIC_MOVE);
        assertThat(Files.readString(root.resolve("both.txt"))).isEqualTo("lower a");
        assertThat(list(root)).containsExactly("both.txt", "d", "empty", "link", "meta.txt");
        assertThat(list(lower.resolve("d"))).containsExactly("sub", "x");
    }

    @ParameterizedTest
    @EnumSource(WhiteoutFormat.class)
    void theLowerLayerIsNeverWritten(WhiteoutFormat format) throws IOException {
        String before = digest(lower);
        FaultyFileSystem readOnly = new FaultyFileSystem(lower);
        if (format == WhiteoutFormat.AUFS) {
            Files.createDirectories(work);
            Files.writeString(work.resolve("format"), "AUFS\n");
        }
        fs = OverlayFileSystem.open(readOnly.root(), upper, work);
        root = fs.root();
        assumeTrue(fs.whiteoutFormat() == format);
        workload();
        fs.close();
        fs = null;
        assertThat(readOnly.writeAttempts).hasValue(0);
        assertThat(digest(lower)).isEqualTo(before);
    }

    /** Every kind of change, on lower, upper and merged names. */
    private void workload() throws IOException {
        Files.writeString(root.resolve("a.txt"), "changed");
        Files.writeString(root.resolve("meta.txt"), "!", StandardOpenOption.APPEND);
        Files.setAttribute(root.resolve("d/x"), "unix:mode", 0600);
        Files.setLastModifiedTime(root.resolve("d/sub/y"), OLD);
        Files.getFileAttributeView(root.resolve("d/sub/z"), UserDefinedFileAttributeView.class)
                .write("k", UTF_8.encode("v"));
        Files.delete(root.resolve("both.txt"));
        Files.delete(root.resolve("link"));
        Files.move(root.resolve("d"), root.resolve("e"));
        Files.createLink(root.resolve("e/hard"), root.resolve("e/x"));
        Files.delete(root.resolve("empty"));
        Files.createDirectory(root.resolve("empty"));
        Files.writeString(root.resolve("empty/f"), "f");
        try (var ch = Files.newByteChannel(root.resolve("meta.txt"), StandardOpenOption.WRITE)) {
            ch.truncate(1);
        }
    }

    /** Names, types, modes, owners, sizes, times, contents, link targets and user attributes of a tree. */
    static String digest(Path dir) throws IOException {
        Map<String, String> lines = new TreeMap<>();
        List<Path> all = new ArrayList<>();
        try (Stream<Path> s = Files.walk(dir)) {
            s.forEach(all::add);
        }
        for (Path p : all) {
            Map<String, Object> a =
                    Files.readAttributes(p, "unix:mode,uid,gid,size,lastModifiedTime,ino", NOFOLLOW_LINKS);
            StringBuilder b = new StringBuilder(a.toString());
            if (Files.isSymbolicLink(p)) {
                b.append(" -> ").append(Files.readSymbolicLink(p));
            } else if (Files.isRegularFile(p, NOFOLLOW_LINKS)) {
                b.append(" sha256 ").append(sha256(Files.readAllBytes(p)));
            }
            if (!Files.isSymbolicLink(p)) {
                UserDefinedFileAttributeView v = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class);
                for (String n : v.list()) {
                    b.append(' ').append(n).append('=').append(xattr(p, n));
                }
            }
            lines.put(dir.relativize(p).toString(), b.toString());
        }
        return String.join(
                "\n",
                lines.entrySet().stream()
                        .map(e -> e.getKey() + " " + e.getValue())
                        .toList());
    }

    private static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void hardLinksStatfsAndTheReservedDevice() throws IOException {
        open(WhiteoutFormat.KERNEL);
        Files.createLink(root.resolve("a2"), root.resolve("a.txt"));
        assertThat(Files.getAttribute(root.resolve("a2"), "unix:nlink")).isEqualTo(2);
        assertThat(Files.isSameFile(root.resolve("a2"), root.resolve("a.txt"))).isTrue();
        assertThat(Files.getFileStore(root.resolve("d")).getTotalSpace())
                .isEqualTo(Files.getFileStore(upper).getTotalSpace());
        assertThatThrownBy(() -> SpecialFiles.mknod(root.resolve("dev"), 0020644, 0))
                .isInstanceOfSatisfying(
                        ErrnoFileSystemException.class,
                        e -> assertThat(e.errno()).isEqualTo(Errno.EPERM));
        SpecialFiles.mknod(root.resolve("fifo"), 0010644, 0);
        assertThat((Integer) Files.getAttribute(root.resolve("fifo"), "unix:mode", NOFOLLOW_LINKS) & 0170000)
                .isEqualTo(0010000);
        assertThat(list(root)).contains("a2", "fifo");
    }

    @Test
    void aufsNamesAreReserved() throws IOException {
        open(WhiteoutFormat.AUFS);
        assertThatThrownBy(() -> Files.writeString(root.resolve(".wh.x"), "x"))
                .isInstanceOfSatisfying(
                        ErrnoFileSystemException.class,
                        e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
        assertThat(Files.exists(root.resolve(".wh.x"))).isFalse();
    }

    @Test
    void leftoversOfACrashedCopyUpAreRemovedAtOpen() throws IOException {
        Files.createDirectories(work.resolve("tmp/t7"));
        Files.writeString(work.resolve("tmp/t7/half"), "half a copy");
        Files.writeString(work.resolve("tmp/t8"), "half");
        open(fs == null ? WhiteoutFormat.KERNEL : fs.whiteoutFormat());
        assertThat(list(work.resolve("tmp"))).isEmpty();
        assertThat(list(root)).containsExactly("a.txt", "both.txt", "d", "empty", "link", "meta.txt");
    }

    @Test
    void badArgumentsChangeNothing() throws IOException {
        assertThatThrownBy(() -> OverlayFileSystem.open(lower, lower.resolve("d"), work))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> OverlayFileSystem.open(lower, upper, upper.resolve("w")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> OverlayFileSystem.open(lower.resolve("a.txt"), upper, work))
                .isInstanceOf(NotDirectoryException.class);
        assertThat(Files.exists(work)).isFalse();
        assertThat(Files.exists(upper.resolve("w"))).isFalse();
    }
}
