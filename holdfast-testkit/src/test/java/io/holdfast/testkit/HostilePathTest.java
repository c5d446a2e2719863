package io.holdfast.testkit;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.holdfast.client.nio.HoldfastFileSystemProvider;
import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.DirEntry;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.storage.Brick;
import io.holdfast.storage.LocalVolumeService;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.ProviderMismatchException;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile path input through the provider, over a real brick: names over NAME_MAX, paths over the
 * volume's 32 KiB (and link targets over PATH_MAX), NUL and malformed UTF-16, empty and very many
 * components, and {@code ..} that would climb above the volume's root. Each refusal must be a
 * clear exception that changes nothing: the volume's tree and digest are the same before and
 * after, and what the client can check itself never reaches the volume.
 */
class HostilePathTest {
    @TempDir
    Path brickDir;
    /** A second volume's brick, for the tests that need another volume. */
    @TempDir
    Path otherBrickDir;

    private Brick brick;
    private LocalVolumeService volume;
    private Recording recording;
    private FileSystem fs;

    /** Passes everything through to the brick, recording what the client sends. */
    static final class Recording implements VolumeService {
        final VolumeService delegate;
        final List<Request> sent = new CopyOnWriteArrayList<>();

        Recording(VolumeService delegate) {
            this.delegate = delegate;
        }

        @Override
        public CompletableFuture<Response> submit(Request.Mutation m) {
            sent.add(m);
            return delegate.submit(m);
        }

        @Override
        public CompletableFuture<Response> query(Request.Query q) {
            sent.add(q);
            return delegate.query(q);
        }

        @Override
        public void close() {}

        List<Request> mutations() {
            return sent.stream().filter(r -> r instanceof Request.Mutation).toList();
        }
    }

    @BeforeEach
    void open() throws IOException {
        brick = Brick.open(brickDir);
        volume = new LocalVolumeService(brick, InstantSource.system());
        recording = new Recording(volume);
        fs = TestVolumes.open(recording, Map.of(HoldfastFileSystemProvider.ENV_CALLER, Caller.ROOT));
        Files.createDirectories(p("/a/b"));
        Files.writeString(p("/a/b/f.txt"), "hello");
        Files.createSymbolicLink(p("/a/link"), p("b"));
        Files.writeString(p("/top.txt"), "top");
    }

    @AfterEach
    void close() throws IOException {
        try {
            fs.close();
        } finally {
            volume.close();
            brick.close();
        }
    }

    private Path p(String s) {
        return fs.getPath(s);
    }

    // ---- what "changes nothing" means --------------------------------------------------------

    /**
     * The volume's whole tree read straight from the brick, not through the provider: path,
     * type, inode, mode, links, size, times, and file contents or link targets.
     */
    private String tree() {
        StringBuilder out = new StringBuilder();
        walk("/", out);
        return out.toString();
    }

    private void walk(String path, StringBuilder out) {
        Attr a = ((Response.AttrReply)
                        volume.query(new Request.GetAttr(path, false)).join())
                .attr();
        out.append(path)
                .append(' ')
                .append(a.type())
                .append(" ino=")
                .append(a.inode())
                .append(" mode=")
                .append(Integer.toOctalString(a.mode()))
                .append(" nlink=")
                .append(a.nlink())
                .append(" size=")
                .append(a.size())
                .append(" mtime=")
                .append(a.mtimeNanos())
                .append(" ctime=")
                .append(a.ctimeNanos());
        switch (a.type()) {
            case FILE -> {
                Response.Data d = (Response.Data) volume.query(new Request.Read(a.inode(), 0, (int) a.size()))
                        .join();
                out.append(" data=")
                        .append(new String(d.bytes(), StandardCharsets.UTF_8))
                        .append('\n');
            }
            case SYMLINK ->
                out.append(" -> ")
                        .append(((Response.Text)
                                        volume.query(new Request.ReadLink(path)).join())
                                .text())
                        .append('\n');
            case DIRECTORY -> {
                out.append('\n');
                List<DirEntry> entries = new ArrayList<>();
                String after = "";
                while (true) {
                    Response.DirPage page = (Response.DirPage)
                            volume.query(new Request.ReadDir(path, after, 100)).join();
                    entries.addAll(page.entries());
                    if (!page.more() || page.entries().isEmpty()) {
                        break;
                    }
                    after = page.entries().getLast().name();
                }
                for (DirEntry e : entries) {
                    walk(path.equals("/") ? "/" + e.name() : path + "/" + e.name(), out);
                }
            }
        }
    }

    private String digest() {
        return HexFormat.of()
                .formatHex(
                        ((Response.Digest) volume.query(new Request.GetDigest()).join()).sha256());
    }

    /** What a refused operation may have sent to the volume. */
    enum Sent {
        /** Nothing at all: the client refused before asking anything. */
        NOTHING,
        /** Queries (e.g. about another path of the operation), but no mutation. */
        NO_MUTATION,
        /** The volume itself refused the mutation. */
        REFUSED_MUTATION
    }

    /**
     * Runs {@code op}, which must throw; asserts that the volume is unchanged and that no more
     * than {@code allowed} reached it. Returns what was thrown.
     */
    private Throwable refused(String what, Sent allowed, PathAction op) {
        String before = tree();
        String digest = digest();
        recording.sent.clear();
        Throwable thrown = catchThrowable(op::run);
        assertThat(thrown).as("%s must be refused", what).isNotNull();
        assertThat(tree()).as("tree after %s", what).isEqualTo(before);
        switch (allowed) {
            case NOTHING ->
                assertThat(shown(recording.sent)).as("sent by %s", what).isEmpty();
            case NO_MUTATION ->
                assertThat(shown(recording.mutations())).as("sent by %s", what).isEmpty();
            case REFUSED_MUTATION -> {}
        }
        if (allowed != Sent.REFUSED_MUTATION) {
            // the digest covers xattrs, orphans and the applied index as well
            assertThat(digest()).as("digest after %s", what).isEqualTo(digest);
        }
        return thrown;
    }

    @FunctionalInterface
    interface PathAction {
        void run() throws Exception;
    }

    @FunctionalInterface
    interface PathOp {
        void apply(Path p) throws Exception;
    }

    /** One operation on a path; {@code others} when it also touches another, valid path. */
    record Op(String name, boolean others, PathOp op) {}

    /** Every kind of operation, on one path argument. */
    private List<Op> operations() {
        return List.of(
                new Op("createFile", false, Files::createFile),
                new Op("createDirectory", false, Files::createDirectory),
                new Op("write", false, x -> Files.writeString(x, "x")),
                new Op("read", false, Files::readAllBytes),
                new Op("readAttributes", false, x -> Files.readAttributes(x, BasicFileAttributes.class)),
                new Op("readAttributes unix:*", false, x -> Files.readAttributes(x, "unix:*", NOFOLLOW_LINKS)),
                new Op(
                        "setPosixFilePermissions",
                        false,
                        x -> Files.setPosixFilePermissions(x, PosixFilePermissions.fromString("rwx------"))),
                new Op("setLastModifiedTime", false, x -> Files.setLastModifiedTime(x, FileTime.fromMillis(0))),
                new Op(
                        "user attribute",
                        false,
                        x -> Files.getFileAttributeView(x, UserDefinedFileAttributeView.class)
                                .write("k", ByteBuffer.wrap(new byte[] {1}))),
                new Op("checkAccess", false, x -> x.getFileSystem().provider().checkAccess(x)),
                new Op("getFileStore", false, Files::getFileStore),
                new Op("newDirectoryStream", false, x -> {
                    try (DirectoryStream<Path> s = Files.newDirectoryStream(x)) {
                        s.iterator().hasNext();
                    }
                }),
                new Op("toRealPath", false, Path::toRealPath),
                new Op("readSymbolicLink", false, Files::readSymbolicLink),
                new Op("createSymbolicLink", false, x -> Files.createSymbolicLink(x, p("/top.txt"))),
                new Op("delete", false, Files::delete),
                new Op("createLink", true, x -> Files.createLink(x, p("/top.txt"))),
                new Op("createLink to it", true, x -> Files.createLink(p("/new-link"), x)),
                new Op("move to it", true, x -> Files.move(p("/top.txt"), x)),
                new Op("move it", true, x -> Files.move(x, p("/moved"))),
                new Op("copy to it", true, x -> Files.copy(p("/top.txt"), x)),
                new Op("copy it", true, x -> Files.copy(x, p("/copied"))),
                new Op(
                        "copy to it, replacing",
                        true,
                        x -> Files.copy(p("/top.txt"), x, StandardCopyOption.REPLACE_EXISTING)));
    }

    /** Runs every operation on {@code path}; each must be refused as {@code check} says. */
    private void everyOperationRefused(String path, Function<Op, Sent> allowed, Consumer<Throwable> check) {
        Path parsed = p(path);
        for (Op op : operations()) {
            String what = op.name() + " on " + abbreviate(path);
            Throwable t = refused(what, allowed.apply(op), () -> op.op().apply(parsed));
            assertThat(t).as(what).satisfies(check::accept);
        }
    }

    private static List<String> shown(List<Request> requests) {
        return requests.stream().map(r -> abbreviate(r.toString())).toList();
    }

    private static String abbreviate(String s) {
        return s.length() <= 60 ? s : s.substring(0, 60) + "…(" + s.length() + " chars)";
    }

    private static void assertNameTooLong(Throwable e) {
        assertThat(e).isInstanceOf(ErrnoFileSystemException.class);
        assertThat(((ErrnoFileSystemException) e).errno()).isEqualTo(Errno.ENAMETOOLONG);
        assertThat(((FileSystemException) e).getReason()).contains("File name too long");
    }

    private static int utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    // ---- NAME_MAX ----------------------------------------------------------------------------

    @Test
    void nameOverNameMaxIsTooLongForEveryOperationAndNeverSent() {
        // 256 bytes each: ASCII; 128 two-byte chars (fewer than 255 chars); 64 emoji (surrogate
        // pairs, four bytes each)
        for (String name : List.of("n".repeat(256), "é".repeat(128), "\uD83D\uDE00".repeat(64))) {
            assertThat(utf8(name)).isEqualTo(Limits.NAME_MAX + 1);
            for (String path : List.of(
                    "/" + name,
                    "/a/" + name,
                    "/a/b/" + name + "/f.txt",
                    "a/" + name,
                    "/a/" + name + "/..",
                    "/a/link/" + name)) {
                everyOperationRefused(
                        path, op -> op.others() ? Sent.NO_MUTATION : Sent.NOTHING, HostilePathTest::assertNameTooLong);
            }
        }
    }

    @Test
    void namesOfExactlyNameMaxBytesWork() throws IOException {
        for (String name : List.of("n".repeat(255), "é".repeat(127) + "n", "\uD83D\uDE00".repeat(63) + "nnn")) {
            assertThat(utf8(name)).isEqualTo(Limits.NAME_MAX);
            Path f = Files.writeString(p("/a/" + name), "ok");
            assertThat(Files.readString(f)).isEqualTo("ok");
            try (DirectoryStream<Path> s = Files.newDirectoryStream(p("/a"))) {
                List<String> names = new ArrayList<>();
                s.forEach(x -> names.add(x.getFileName().toString()));
                assertThat(names).contains(name);
            }
            Files.delete(f);
        }
    }

    // ---- VOLUME_PATH_MAX (a volume path may be deeper than one system call's PATH_MAX) ---------

    /** A directory chain under /a whose path is {@code length} bytes, each name under 255. */
    private static String pathOf(int length) {
        StringBuilder sb = new StringBuilder("/a");
        while (sb.length() < length) {
            int room = length - sb.length() - 1;
            sb.append('/').append("d".repeat(Math.max(1, Math.min(200, room))));
        }
        assertThat(sb.length()).isEqualTo(length);
        return sb.toString();
    }

    @Test
    void pathOverVolumePathMaxIsTooLongForEveryOperationAndNeverSent() throws IOException {
        String exact = pathOf(Limits.VOLUME_PATH_MAX);
        Files.createDirectories(p(exact).getParent());
        Files.writeString(p(exact), "deep");
        assertThat(Files.readString(p(exact))).isEqualTo("deep");
        for (String path : List.of(
                exact + "x",
                exact + "/x",
                pathOf(Limits.VOLUME_PATH_MAX + 1),
                "/" + "é".repeat(100) + pathOf(Limits.VOLUME_PATH_MAX - 200))) {
            assertThat(utf8(path)).isGreaterThan(Limits.VOLUME_PATH_MAX);
            everyOperationRefused(
                    path, op -> op.others() ? Sent.NO_MUTATION : Sent.NOTHING, HostilePathTest::assertNameTooLong);
        }
    }

    @Test
    void volumePathMaxCountsThePathAsWrittenNotAsNormalized() {
        // As Linux counts PATH_MAX: the limit applies before . and .. are resolved.
        for (String path : List.of(
                "/a/b/" + "./".repeat(16_400) + "f.txt",
                "/a/b/" + "../b/".repeat(6600) + "f.txt",
                "../".repeat(11_000) + "top.txt")) {
            assertThat(utf8(path)).isGreaterThan(Limits.VOLUME_PATH_MAX);
            everyOperationRefused(
                    path, op -> op.others() ? Sent.NO_MUTATION : Sent.NOTHING, HostilePathTest::assertNameTooLong);
        }
    }

    @Test
    void veryManyComponentsAreRefusedBeforeSending() {
        for (String path :
                List.of("/a".repeat(16_385), "/" + "x/".repeat(100_000), "/" + "../".repeat(100_000) + "top.txt")) {
            everyOperationRefused(
                    path, op -> op.others() ? Sent.NO_MUTATION : Sent.NOTHING, HostilePathTest::assertNameTooLong);
        }
    }

    // ---- NUL, malformed UTF-16, empty components ----------------------------------------------

    @Test
    void nulAnywhereIsRefusedWhenThePathIsMade() {
        String before = tree();
        Path a = p("/a");
        List<PathAction> makers = List.of(
                () -> fs.getPath("a\0b"),
                () -> fs.getPath("\0"),
                () -> fs.getPath("/a", "b\0c"),
                () -> fs.getPath("/a", "b", "\0"),
                () -> a.resolve("x\0"),
                () -> a.resolveSibling("\0/y"),
                () -> Path.of(URI.create(p("/a").toUri() + "/x%00y")));
        for (PathAction make : makers) {
            assertThatThrownBy(make::run)
                    .isInstanceOf(InvalidPathException.class)
                    .hasMessageContaining("Nul character not allowed");
        }
        assertThat(tree()).isEqualTo(before);
    }

    @Test
    void unpairedSurrogatesAreRefusedWhenThePathIsMade() {
        // Such a String has no UTF-8 form; it must not be sent as some other name (e.g. "a?b").
        String before = tree();
        for (String bad : List.of("/a\uD800b", "/a/\uDC00", "x\uD83D", "/\uDE00\uD83D")) {
            assertThatThrownBy(() -> fs.getPath(bad))
                    .as(bad)
                    .isInstanceOf(InvalidPathException.class)
                    .hasMessageContaining("Malformed input");
            assertThatThrownBy(() -> p("/a").resolve(bad.substring(1)))
                    .as(bad)
                    .isInstanceOf(InvalidPathException.class);
        }
        assertThat(Files.exists(p("/a?b"))).isFalse();
        assertThat(tree()).isEqualTo(before);
    }

    @Test
    void theVolumeRefusesUnpairedSurrogatesFromOtherClients() {
        // Defence in depth: a VolumeService user that bypasses the provider.
        String before = tree();
        Response r = volume.submit(new Request.Create(Caller.ROOT, "/a\uD800b", 0644, true))
                .join();
        assertThat(r)
                .isInstanceOfSatisfying(
                        Response.Error.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
        assertThat(volume.query(new Request.GetAttr("/a?b", false)).join()).isInstanceOf(Response.Error.class);
        assertThat(tree()).isEqualTo(before);
    }

    @Test
    void emptyComponentsAreIgnoredAsPosixDoes() throws IOException {
        assertThat(Files.readString(p("//a///b////f.txt//"))).isEqualTo("hello");
        assertThat(fs.getPath("/a", "", "b", "", "f.txt")).isEqualTo(p("/a/b/f.txt"));
        // collapsed when parsed, as the JDK's unix paths do, so not over PATH_MAX
        assertThat(Files.readString(p("/a" + "/".repeat(5000) + "b/f.txt"))).isEqualTo("hello");
        // the empty path is the working directory, which is the volume's root
        assertThat(Files.isDirectory(p(""))).isTrue();
        assertThat(Files.isSameFile(p(""), p("/"))).isTrue();
        Throwable t = refused("delete of the empty path", Sent.REFUSED_MUTATION, () -> Files.delete(p("")));
        assertThat(t).isInstanceOf(FileSystemException.class);
    }

    // ---- .. never leaves the volume ------------------------------------------------------------

    @Test
    void dotDotStopsAtTheVolumeRoot() throws IOException {
        assertThat(Files.readString(p("/../../a/b/f.txt"))).isEqualTo("hello");
        assertThat(Files.readString(p("../../../../top.txt"))).isEqualTo("top");
        assertThat(Files.readString(p("/a/../../../a/./b/../b/f.txt"))).isEqualTo("hello");
        assertThat(p("/../..").toRealPath()).isEqualTo(p("/"));
        assertThat(p("/../../a/b").toRealPath()).isEqualTo(p("/a/b"));

        Files.writeString(p("/../../escape.txt"), "inside");
        Files.writeString(p("a/../../../relative.txt"), "inside too");
        Files.createDirectory(p("/../../../etc"));
        Files.writeString(p("/../etc/passwd"), "volume's own");
        assertThat(Files.readString(p("/escape.txt"))).isEqualTo("inside");
        assertThat(Files.readString(p("/relative.txt"))).isEqualTo("inside too");
        assertThat(Files.readString(p("/etc/passwd"))).isEqualTo("volume's own");
        try (DirectoryStream<Path> s = Files.newDirectoryStream(p("/.."))) {
            List<String> names = new ArrayList<>();
            s.forEach(x -> names.add(x.getFileName().toString()));
            assertThat(names).containsExactlyInAnyOrder("a", "top.txt", "escape.txt", "relative.txt", "etc");
        }
        assertThat(tree().lines().map(l -> l.substring(0, l.indexOf(' '))))
                .containsExactlyInAnyOrder(
                        "/",
                        "/a",
                        "/a/b",
                        "/a/b/f.txt",
                        "/a/link",
                        "/top.txt",
                        "/escape.txt",
                        "/relative.txt",
                        "/etc",
                        "/etc/passwd");
    }

    @Test
    void symbolicLinksClimbingAboveTheRootStayInside() throws IOException {
        Files.createSymbolicLink(p("/a/b/up"), p("../../../../.."));
        Files.createSymbolicLink(p("/a/b/abs"), p("/../../top.txt"));
        Files.createSymbolicLink(p("/a/b/passwd"), p("../../../../etc/passwd"));
        assertThat(p("/a/b/up").toRealPath()).isEqualTo(p("/"));
        assertThat(Files.readString(p("/a/b/up/top.txt"))).isEqualTo("top");
        assertThat(Files.readString(p("/a/b/up/a/b/up/a/b/f.txt"))).isEqualTo("hello");
        assertThat(Files.readString(p("/a/b/abs"))).isEqualTo("top");
        assertThat(p("/a/b/abs").toRealPath()).isEqualTo(p("/top.txt"));
        // the link names the volume's /etc/passwd, which does not exist
        Throwable t = refused(
                "read through a link to ../../../../etc/passwd",
                Sent.NO_MUTATION,
                () -> Files.readString(p("/a/b/passwd")));
        assertThat(t).isInstanceOf(NoSuchFileException.class);
    }

    @Test
    void theRootReachedThroughDotDotCannotBeRemovedOrReplaced() {
        for (String root : List.of("/..", "/a/../..", "a/b/../../..", "/../../../")) {
            Path r = p(root);
            assertThat(refused("delete " + root, Sent.REFUSED_MUTATION, () -> Files.delete(r)))
                    .isInstanceOf(FileSystemException.class);
            assertThat(refused("move " + root, Sent.REFUSED_MUTATION, () -> Files.move(r, p("/moved-root"))))
                    .isInstanceOf(FileSystemException.class);
            assertThat(refused(
                            "move onto " + root,
                            Sent.REFUSED_MUTATION,
                            () -> Files.move(p("/top.txt"), r, StandardCopyOption.REPLACE_EXISTING)))
                    .isInstanceOf(FileSystemException.class);
            assertThat(refused("createDirectory " + root, Sent.REFUSED_MUTATION, () -> Files.createDirectory(r)))
                    .isInstanceOf(FileAlreadyExistsException.class);
            assertThat(refused("createFile " + root, Sent.REFUSED_MUTATION, () -> Files.createFile(r)))
                    .isInstanceOf(FileAlreadyExistsException.class);
            assertThat(refused(
                            "copy onto " + root,
                            Sent.REFUSED_MUTATION,
                            () -> Files.copy(p("/top.txt"), r, StandardCopyOption.REPLACE_EXISTING)))
                    .isInstanceOf(FileSystemException.class);
        }
    }

    // ---- another volume ------------------------------------------------------------------------

    @Test
    void urisWithDotDotCannotReachAnotherVolume() throws IOException {
        String base = "holdfast://hostile-" + System.nanoTime() + ":7000/";
        try (Brick otherBrick = Brick.open(otherBrickDir);
                FileSystem vol = FileSystems.newFileSystem(
                        URI.create(base + "vol"),
                        Map.of(
                                HoldfastFileSystemProvider.ENV_VOLUME_SERVICE,
                                recording,
                                HoldfastFileSystemProvider.ENV_CALLER,
                                Caller.ROOT));
                FileSystem other = FileSystems.newFileSystem(
                        URI.create(base + "other"),
                        Map.of(
                                HoldfastFileSystemProvider.ENV_VOLUME_SERVICE,
                                new LocalVolumeService(otherBrick, InstantSource.system())))) {
            // the first segment of the URI's path names the volume; .. after it stays inside
            Path q = Path.of(URI.create(base + "vol/../other/../x.txt"));
            assertThat(q.getFileSystem()).isSameAs(vol);
            Files.writeString(q, "in vol");
            assertThat(Files.readString(vol.getPath("/x.txt"))).isEqualTo("in vol");
            assertThat(Files.exists(other.getPath("/x.txt"))).isFalse();

            // a path's URI, even once normalized, names the same volume
            Path climbing = vol.getPath("/../other/x.txt");
            URI uri = climbing.toUri();
            assertThat(Path.of(uri).getFileSystem()).isSameAs(vol);
            assertThat(Path.of(uri.normalize()).getFileSystem()).isSameAs(vol);
            assertThat(Path.of(uri.normalize())).isEqualTo(vol.getPath("/other/x.txt"));

            // .. in place of the volume name names no volume
            assertThatThrownBy(() -> Path.of(URI.create(base + "../other/x.txt")))
                    .isInstanceOfAny(FileSystemNotFoundException.class, IllegalArgumentException.class);
            assertThatThrownBy(() -> Path.of(URI.create(base + "./other/x.txt")))
                    .isInstanceOfAny(FileSystemNotFoundException.class, IllegalArgumentException.class);
            assertThat(Files.exists(other.getPath("/x.txt"))).isFalse();
        }
    }

    @Test
    void pathsOfOneVolumeAreNeverUsedOnAnother() throws IOException {
        try (Brick otherBrick = Brick.open(otherBrickDir);
                FileSystem other = TestVolumes.open(new LocalVolumeService(otherBrick, InstantSource.system()))) {
            Path mine = p("/top.txt");
            Path theirs = other.getPath("/top.txt");
            assertThatThrownBy(() -> mine.resolve(theirs)).isInstanceOf(ProviderMismatchException.class);
            assertThatThrownBy(() -> Files.createLink(theirs, mine))
                    .isInstanceOfSatisfying(
                            ErrnoFileSystemException.class,
                            e -> assertThat(e.errno()).isEqualTo(Errno.EXDEV));
            assertThat(Files.exists(theirs)).isFalse();
        }
    }

    // ---- symbolic link targets -----------------------------------------------------------------

    @Test
    void linkTargetOverPathMaxIsTooLongAndNeverSent() {
        Path target = p(pathOf(Limits.PATH_MAX + 1));
        Throwable t = refused(
                "symlink to a too long target",
                Sent.NOTHING,
                () -> Files.createSymbolicLink(p("/a/long-link"), target));
        assertNameTooLong(t);
    }
}
