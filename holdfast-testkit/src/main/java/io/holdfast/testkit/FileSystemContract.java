package io.holdfast.testkit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.client.nio.HoldfastFileSystem;
import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.common.SpecialFiles;
import io.holdfast.testing.TestSeed;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.OverlappingFileLockException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.AccessMode;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/**
 * The behaviour every file system Holdfast builds on must show, written once against
 * {@link java.nio.file.Files} and run against a local directory ({@code
 * LocalDirectoryContractTest}), a Holdfast volume over one brick ({@code
 * HoldfastVolumeContractTest}) and a Holdfast volume over a Raft cluster ({@code
 * RaftVolumeContractIT}). A JUnit 5 test class to extend: it needs JUnit Jupiter and AssertJ on
 * the test class path (optional dependencies of the testkit).
 *
 * <p>Subclasses give {@link #root()}: an existing, empty-or-reusable writable directory. Each
 * test works in its own fresh subdirectory {@link #dir}. Random content is seeded; the seed is
 * derived from the run's seed, so a failure can be replayed with {@code -Dholdfast.seed=N}.
 */
public abstract class FileSystemContract {
    /**
     * A writable directory to work in; called once per test, after {@link #openFileSystem()}.
     */
    protected abstract Path root() throws IOException;

    /** Opens the file system under test; runs before each test (JUnit runs a superclass's
     * {@code @BeforeEach} first, so subclasses set up here, not in their own). */
    protected void openFileSystem() throws IOException {}

    /** Closes what {@link #openFileSystem()} opened; runs after each test. */
    protected void closeFileSystem() throws IOException {}

    /** Whether this is a Holdfast volume (stricter errno assertions apply). */
    protected boolean isHoldfast() {
        return false;
    }

    /** The directory of the current test, created fresh under {@link #root()}. */
    protected Path dir;

    protected long seed;

    @AfterEach
    void closeTestFileSystem() throws IOException {
        closeFileSystem();
    }

    @BeforeEach
    void makeTestDirectory(TestInfo info) throws IOException {
        openFileSystem();
        String name = info.getTestMethod().map(m -> m.getName()).orElse("test");
        dir = Files.createDirectory(root().resolve(name + "-" + System.nanoTime()));
        seed = TestSeed.derive(getClass().getName() + "." + name);
        System.out.println(getClass().getSimpleName() + "." + name + " seed=" + seed);
    }

    private byte[] random(int size) {
        byte[] b = new byte[size];
        new Random(seed ^ size).nextBytes(b);
        return b;
    }

    // ---- content ---------------------------------------------------------------------------

    @Test
    public void roundTripsOfManySizes() throws IOException {
        for (int size : new int[] {0, 1, (1 << 20) + 1, 5 << 20}) {
            Path f = dir.resolve("f" + size);
            byte[] content = random(size);
            Files.write(f, content);
            assertThat(Files.size(f)).as("size %d", size).isEqualTo(size);
            assertThat(Files.readAllBytes(f)).as("content of %d bytes", size).isEqualTo(content);
        }
    }

    @Test
    public void streamsRoundTrip() throws IOException {
        Path f = dir.resolve("s");
        byte[] content = random(3 << 20);
        try (OutputStream out = Files.newOutputStream(f)) {
            for (int i = 0; i < content.length; i += 7919) {
                out.write(content, i, Math.min(7919, content.length - i));
            }
        }
        try (InputStream in = Files.newInputStream(f)) {
            assertThat(in.readAllBytes()).isEqualTo(content);
        }
    }

    @Test
    public void positionalWritesLeaveHolesOfZeros() throws IOException {
        Path f = dir.resolve("holes");
        try (FileChannel ch =
                FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.READ)) {
            ch.write(ByteBuffer.wrap("abc".getBytes(UTF_8)), 10);
            ch.write(ByteBuffer.wrap("z".getBytes(UTF_8)), (2 << 20) + 5);
            assertThat(ch.size()).isEqualTo((2 << 20) + 6);
            ByteBuffer b = ByteBuffer.allocate(13);
            assertThat(ch.read(b, 0)).isEqualTo(13);
            assertThat(b.array()).isEqualTo(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c'});
            assertThat(ch.position()).isZero();
            ByteBuffer end = ByteBuffer.allocate(10);
            assertThat(ch.read(end, (2 << 20) + 5)).isEqualTo(1);
            assertThat(ch.read(ByteBuffer.allocate(1), (2 << 20) + 6)).isEqualTo(-1);
        }
        byte[] all = Files.readAllBytes(f);
        assertThat(all[(1 << 20)]).isZero();
        assertThat(all[(2 << 20) + 5]).isEqualTo((byte) 'z');
    }

    @Test
    public void readsInOneChannelSeeItsOwnWritesAndTruncates() throws IOException {
        Path f = dir.resolve("rw");
        byte[] content = random(300_000);
        Files.write(f, content);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer small = ByteBuffer.allocate(4096);
            assertThat(ch.read(small, 0)).isEqualTo(4096);
            ch.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), 10_000);
            ByteBuffer again = ByteBuffer.allocate(3);
            assertThat(ch.read(again, 10_000)).isEqualTo(3);
            assertThat(again.array()).containsExactly(1, 2, 3);
            ch.truncate(20_000);
            ByteBuffer past = ByteBuffer.allocate(100);
            assertThat(ch.read(past, 19_950)).isEqualTo(50);
            assertThat(ch.read(ByteBuffer.allocate(10), 20_000)).isEqualTo(-1);
        }
    }

    @Test
    public void appendAddsAtTheEnd() throws IOException {
        Path f = dir.resolve("a");
        Files.writeString(f, "hello");
        Files.writeString(f, " world", StandardOpenOption.APPEND);
        try (SeekableByteChannel ch = Files.newByteChannel(f, StandardOpenOption.APPEND)) {
            ch.position(0);
            ch.write(ByteBuffer.wrap("!".getBytes(UTF_8)));
        }
        assertThat(Files.readString(f)).isEqualTo("hello world!");
        assertThatThrownBy(() -> Files.newByteChannel(f, StandardOpenOption.APPEND, StandardOpenOption.READ))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    public void truncateShortensAndClampsPosition() throws IOException {
        Path f = dir.resolve("t");
        Files.writeString(f, "0123456789");
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.position(8);
            ch.truncate(3);
            assertThat(ch.size()).isEqualTo(3);
            assertThat(ch.position()).isEqualTo(3);
            ch.truncate(100);
            assertThat(ch.size()).as("truncate never extends").isEqualTo(3);
        }
        assertThat(Files.readString(f)).isEqualTo("012");
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            assertThatThrownBy(() -> ch.truncate(1)).isInstanceOf(NonWritableChannelException.class);
        }
    }

    @Test
    public void overwriteReplacesContent() throws IOException {
        Path f = dir.resolve("o");
        Files.writeString(f, "a long first version");
        Files.writeString(f, "short");
        assertThat(Files.readString(f)).isEqualTo("short");
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap("SH".getBytes(UTF_8)));
        }
        assertThat(Files.readString(f)).isEqualTo("SHort");
    }

    @Test
    public void openOptionsFollowTheJdk() throws IOException {
        Path f = dir.resolve("x");
        assertThatThrownBy(() -> Files.newInputStream(f)).isInstanceOf(NoSuchFileException.class);
        assertThatThrownBy(() -> FileChannel.open(f, StandardOpenOption.WRITE)).isInstanceOf(NoSuchFileException.class);
        Files.createFile(f);
        assertThatThrownBy(() -> Files.createFile(f)).isInstanceOf(FileAlreadyExistsException.class);
        assertThatThrownBy(() -> FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))
                .isInstanceOf(FileAlreadyExistsException.class);
        assertThatThrownBy(() -> Files.newOutputStream(dir))
                .isInstanceOf(FileSystemException.class)
                .hasMessageContaining("Is a directory");
        assertThatThrownBy(() -> Files.writeString(dir.resolve("nodir/f"), "x"))
                .isInstanceOf(NoSuchFileException.class);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            assertThatThrownBy(() -> ch.write(ByteBuffer.allocate(1))).isInstanceOf(NonWritableChannelException.class);
        }
        FileChannel closed = FileChannel.open(f, StandardOpenOption.READ);
        closed.close();
        assertThatThrownBy(() -> closed.read(ByteBuffer.allocate(1))).isInstanceOf(ClosedChannelException.class);
    }

    @Test
    public void locksAreExclusiveWithinTheJvm() throws IOException {
        Path f = Files.writeString(dir.resolve("l"), "lock me");
        try (FileChannel a = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE);
                FileChannel b = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            var lock = a.lock();
            assertThat(lock.isValid()).isTrue();
            assertThat(lock.isShared()).isFalse();
            assertThatThrownBy(() -> b.tryLock()).isInstanceOf(OverlappingFileLockException.class);
            lock.release();
            assertThat(lock.isValid()).isFalse();
            var other = b.tryLock(0, 3, false);
            assertThat(other).isNotNull();
            assertThat(a.tryLock(10, 5, false)).isNotNull();
        }
        try (FileChannel r = FileChannel.open(f, StandardOpenOption.READ)) {
            assertThatThrownBy(() -> r.lock()).isInstanceOf(NonWritableChannelException.class);
        }
    }

    @Test
    public void readOnlyFilesCopyWithTheirMode() throws IOException {
        Path a = Files.writeString(dir.resolve("ro"), "read only");
        Files.setPosixFilePermissions(a, PosixFilePermissions.fromString("r--r-----"));
        Path b = dir.resolve("ro2");
        Files.copy(a, b);
        assertThat(Files.readString(b)).isEqualTo("read only");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(b)))
                .isEqualTo("r--r-----");
    }

    // ---- directories -----------------------------------------------------------------------

    @Test
    public void directoriesAreCreatedListedAndDeleted() throws IOException {
        Path d = dir.resolve("d");
        Files.createDirectory(d);
        assertThat(Files.isDirectory(d)).isTrue();
        assertThatThrownBy(() -> Files.createDirectory(d)).isInstanceOf(FileAlreadyExistsException.class);
        assertThatThrownBy(() -> Files.createDirectory(dir.resolve("no/such"))).isInstanceOf(NoSuchFileException.class);
        Files.createDirectories(d.resolve("x/y/z"));
        assertThat(Files.isDirectory(d.resolve("x/y/z"))).isTrue();
        Files.writeString(d.resolve("f.txt"), "x");
        Files.writeString(d.resolve("g.md"), "x");
        try (DirectoryStream<Path> s = Files.newDirectoryStream(d, "*.txt")) {
            List<Path> l = new ArrayList<>();
            s.forEach(l::add);
            assertThat(l).containsExactly(d.resolve("f.txt"));
        }
        assertThatThrownBy(() -> Files.delete(d)).isInstanceOf(DirectoryNotEmptyException.class);
        assertThatThrownBy(() -> Files.newDirectoryStream(d.resolve("f.txt")))
                .isInstanceOf(NotDirectoryException.class);
        assertThatThrownBy(() -> Files.newDirectoryStream(d.resolve("none"))).isInstanceOf(NoSuchFileException.class);
        Files.delete(d.resolve("x/y/z"));
        assertThat(Files.exists(d.resolve("x/y/z"))).isFalse();
        assertThat(Files.deleteIfExists(d.resolve("x/y/z"))).isFalse();
        assertThatThrownBy(() -> Files.delete(d.resolve("x/y/z"))).isInstanceOf(NoSuchFileException.class);
    }

    @Test
    public void largeDirectoriesListCompletely() throws IOException {
        Path d = Files.createDirectory(dir.resolve("big"));
        Set<String> expected = new TreeSet<>();
        for (int i = 0; i < 3000; i++) {
            String name = "entry-" + i;
            Files.createFile(d.resolve(name));
            expected.add(name);
        }
        Set<String> seen = new HashSet<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(d)) {
            for (Path p : s) {
                assertThat(p.getParent()).isEqualTo(d);
                assertThat(seen.add(p.getFileName().toString()))
                        .as("no duplicates")
                        .isTrue();
            }
        }
        assertThat(seen).isEqualTo(expected);
        try (var stream = Files.list(d)) {
            assertThat(stream.count()).isEqualTo(3000);
        }
    }

    // ---- move, copy ------------------------------------------------------------------------

    @Test
    public void moveRenamesAndReplaces() throws IOException {
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        Files.writeString(a, "A");
        Files.writeString(b, "B");
        assertThatThrownBy(() -> Files.move(a, b)).isInstanceOf(FileAlreadyExistsException.class);
        assertThat(Files.readString(b)).isEqualTo("B");
        Files.move(a, b, StandardCopyOption.REPLACE_EXISTING);
        assertThat(Files.exists(a)).isFalse();
        assertThat(Files.readString(b)).isEqualTo("A");

        Path sub = Files.createDirectory(dir.resolve("sub"));
        Files.move(b, sub.resolve("moved"), StandardCopyOption.ATOMIC_MOVE);
        assertThat(Files.readString(sub.resolve("moved"))).isEqualTo("A");

        assertThatThrownBy(() -> Files.move(dir.resolve("missing"), dir.resolve("m2")))
                .isInstanceOf(NoSuchFileException.class);

        Path tree = Files.createDirectories(dir.resolve("tree/inner"));
        assertThatThrownBy(() -> Files.move(tree.getParent(), tree.resolve("loop")))
                .isInstanceOf(FileSystemException.class);
        Files.move(tree.getParent(), dir.resolve("tree2"));
        assertThat(Files.isDirectory(dir.resolve("tree2/inner"))).isTrue();

        Path full = Files.createDirectories(dir.resolve("full/x"));
        Path other = Files.createDirectory(dir.resolve("other"));
        assertThatThrownBy(() -> Files.move(other, full.getParent(), StandardCopyOption.REPLACE_EXISTING))
                .isInstanceOf(DirectoryNotEmptyException.class);
    }

    @Test
    public void copyStreamsAndReplaces() throws IOException {
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        byte[] content = random((1 << 20) + 17);
        Files.write(a, content);
        Files.writeString(b, "old");
        assertThatThrownBy(() -> Files.copy(a, b)).isInstanceOf(FileAlreadyExistsException.class);
        Files.copy(a, b, StandardCopyOption.REPLACE_EXISTING);
        assertThat(Files.readAllBytes(b)).isEqualTo(content);
        FileTime t = FileTime.from(Instant.parse("2020-01-02T03:04:05Z"));
        Files.setLastModifiedTime(a, t);
        Path c = dir.resolve("c");
        Files.copy(a, c, StandardCopyOption.COPY_ATTRIBUTES);
        assertThat(Files.getLastModifiedTime(c)).isEqualTo(t);
        Path d = Files.createDirectory(dir.resolve("d"));
        Files.writeString(d.resolve("inside"), "x");
        Path d2 = dir.resolve("d2");
        Files.copy(d, d2);
        assertThat(Files.isDirectory(d2)).isTrue();
        try (var s = Files.list(d2)) {
            assertThat(s.count()).as("directories copy as empty directories").isZero();
        }
    }

    // ---- links -----------------------------------------------------------------------------

    @Test
    public void symbolicLinks() throws IOException {
        Path target = dir.resolve("target");
        Files.writeString(target, "12345");
        Path link = Files.createSymbolicLink(dir.resolve("link"), target.getFileName());
        assertThat(Files.readSymbolicLink(link)).isEqualTo(target.getFileName());
        assertThat(Files.isSymbolicLink(link)).isTrue();
        BasicFileAttributes followed = Files.readAttributes(link, BasicFileAttributes.class);
        assertThat(followed.isRegularFile()).isTrue();
        assertThat(followed.size()).isEqualTo(5);
        BasicFileAttributes own = Files.readAttributes(link, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        assertThat(own.isSymbolicLink()).isTrue();
        assertThat(own.isRegularFile()).isFalse();
        assertThat(Files.readString(link)).isEqualTo("12345");
        assertThat(link.toRealPath()).isEqualTo(target.toRealPath());
        assertThat(Files.isSameFile(link, target)).isTrue();
        assertThatThrownBy(() -> Files.readSymbolicLink(target)).isInstanceOf(NotLinkException.class);
        assertThatThrownBy(() -> Files.createSymbolicLink(link, target)).isInstanceOf(FileAlreadyExistsException.class);
        Path dangling = Files.createSymbolicLink(dir.resolve("dangling"), dir.resolve("nowhere"));
        assertThat(Files.exists(dangling)).isFalse();
        assertThat(Files.exists(dangling, LinkOption.NOFOLLOW_LINKS)).isTrue();
        Files.delete(link);
        assertThat(Files.exists(target)).as("deleting a link keeps its target").isTrue();
    }

    @Test
    public void symbolicLinksToDirectoriesAreTraversed() throws IOException {
        Path real = Files.createDirectories(dir.resolve("real/inner"));
        Files.writeString(real.resolve("f"), "via link");
        Path link = Files.createSymbolicLink(dir.resolve("ln"), dir.resolve("real"));
        assertThat(Files.readString(link.resolve("inner/f"))).isEqualTo("via link");
        Files.writeString(link.resolve("inner/g"), "written via link");
        assertThat(Files.readString(real.resolve("g"))).isEqualTo("written via link");
        try (var s = Files.list(link)) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactly("inner");
        }
        assertThat(link.resolve("inner/../inner/f").toRealPath())
                .isEqualTo(real.resolve("f").toRealPath());
        Path rel =
                Files.createSymbolicLink(dir.resolve("rel"), dir.getFileSystem().getPath("real/inner"));
        assertThat(Files.readString(rel.resolve("f"))).isEqualTo("via link");
        Files.createSymbolicLink(dir.resolve("loop1"), dir.resolve("loop2"));
        Files.createSymbolicLink(dir.resolve("loop2"), dir.resolve("loop1"));
        assertThatThrownBy(() -> Files.readString(dir.resolve("loop1"))).isInstanceOf(FileSystemException.class);
    }

    @Test
    public void hardLinksShareContent() throws IOException {
        Path a = dir.resolve("a");
        Files.writeString(a, "one");
        Path b = Files.createLink(dir.resolve("b"), a);
        assertThat(Files.isSameFile(a, b)).isTrue();
        assertThat(Files.getAttribute(a, "unix:nlink")).isEqualTo(2);
        try (FileChannel ch = FileChannel.open(b, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap("ONE".getBytes(UTF_8)));
        }
        assertThat(Files.readString(a)).isEqualTo("ONE");
        assertThat(Files.readAttributes(a, BasicFileAttributes.class).fileKey())
                .isEqualTo(Files.readAttributes(b, BasicFileAttributes.class).fileKey());
        Files.delete(a);
        assertThat(Files.readString(b)).isEqualTo("ONE");
        assertThat(Files.getAttribute(b, "unix:nlink")).isEqualTo(1);
        assertThatThrownBy(() -> Files.createLink(dir.resolve("c"), dir.resolve("missing")))
                .isInstanceOf(NoSuchFileException.class);
        assertThatThrownBy(() -> Files.createLink(b, b)).isInstanceOf(FileAlreadyExistsException.class);
    }

    @Test
    public void deletedFileStaysReadableWhileOpen() throws IOException {
        Path f = dir.resolve("f");
        byte[] content = random(100_000);
        Files.write(f, content);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            Files.delete(f);
            assertThat(Files.exists(f)).isFalse();
            ByteBuffer b = ByteBuffer.allocate(content.length);
            while (b.hasRemaining() && ch.read(b) >= 0) {
                // read it all
            }
            assertThat(b.array()).isEqualTo(content);
        }
        assertThat(Files.exists(f)).isFalse();
        Files.writeString(f, "new");
        assertThat(Files.readString(f)).isEqualTo("new");
    }

    // ---- special files ---------------------------------------------------------------------

    private static final int S_IFIFO = 0010000;
    private static final int S_IFCHR = 0020000;
    private static final int S_IFBLK = 0060000;
    private static final int S_IFSOCK = 0140000;

    private static int stMode(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    }

    private static long rdev(Path p) throws IOException {
        return ((Number) Files.getAttribute(p, "unix:rdev", LinkOption.NOFOLLOW_LINKS)).longValue();
    }

    /**
     * FIFOs and socket names (POSIX mknod(2)): created with exactly their mode, reported with their
     * type bits and as "other", refused over an existing name; renamed, hard-linked, chmodded and
     * deleted like files; Holdfast copies one as a new node. On Holdfast, opening one for
     * I/O fails with ENXIO: the volume holds no data for it.
     */
    @Test
    public void fifosAndSocketsAreFilesWithoutData() throws IOException {
        assumeTrue(SpecialFiles.supported(dir), "no special files on this file system");
        Path fifo = dir.resolve("fifo");
        SpecialFiles.mknod(fifo, S_IFIFO | 0640, 0);
        assertThat(stMode(fifo)).isEqualTo(S_IFIFO | 0640);
        BasicFileAttributes a = Files.readAttributes(fifo, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        assertThat(a.isOther()).isTrue();
        assertThat(a.isRegularFile()).isFalse();
        assertThat(a.isDirectory()).isFalse();
        assertThat(a.isSymbolicLink()).isFalse();
        assertThat(a.size()).isZero();
        assertThat(Files.getAttribute(fifo, "unix:nlink", LinkOption.NOFOLLOW_LINKS))
                .isEqualTo(1);
        assertThat(rdev(fifo)).isZero();
        Path sock = dir.resolve("sock");
        SpecialFiles.mknod(sock, S_IFSOCK | 0755, 0);
        assertThat(stMode(sock)).isEqualTo(S_IFSOCK | 0755);
        assertThat(Files.readAttributes(sock, BasicFileAttributes.class).isOther())
                .isTrue();
        assertThatThrownBy(() -> SpecialFiles.mknod(fifo, S_IFIFO | 0644, 0))
                .isInstanceOf(FileAlreadyExistsException.class);
        assertThatThrownBy(() -> SpecialFiles.mknod(dir.resolve("none/p"), S_IFIFO | 0644, 0))
                .isInstanceOf(NoSuchFileException.class);
        // listed like any name
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            List<String> names = new ArrayList<>();
            ds.forEach(p -> names.add(p.getFileName().toString()));
            assertThat(names).containsExactlyInAnyOrder("fifo", "sock");
        }
        // rename, hard link, chmod
        Path moved = Files.move(fifo, dir.resolve("moved"));
        assertThat(Files.exists(fifo, LinkOption.NOFOLLOW_LINKS)).isFalse();
        assertThat(stMode(moved)).isEqualTo(S_IFIFO | 0640);
        Path link = Files.createLink(dir.resolve("link"), moved);
        assertThat(Files.isSameFile(link, moved)).isTrue();
        assertThat(Files.getAttribute(moved, "unix:nlink", LinkOption.NOFOLLOW_LINKS))
                .isEqualTo(2);
        Files.setAttribute(link, "unix:mode", 0604);
        assertThat(stMode(moved)).isEqualTo(S_IFIFO | 0604);
        Path copy = dir.resolve("copy");
        if (isHoldfast()) {
            // Holdfast copies a special file as a new node of the same type and mode, as cp -a does
            // (the JDK's own provider opens a FIFO to copy its bytes, and blocks)
            Files.copy(moved, copy, LinkOption.NOFOLLOW_LINKS, StandardCopyOption.COPY_ATTRIBUTES);
            assertThat(stMode(copy)).isEqualTo(S_IFIFO | 0604);
            assertThat(Files.isSameFile(copy, moved)).isFalse();
            assertThatThrownBy(() -> Files.newByteChannel(moved, StandardOpenOption.READ))
                    .isInstanceOfSatisfying(
                            ErrnoFileSystemException.class,
                            e -> assertThat(e.errno()).isEqualTo(Errno.ENXIO));
            assertThatThrownBy(() -> Files.write(sock, new byte[] {1}))
                    .isInstanceOfSatisfying(
                            ErrnoFileSystemException.class,
                            e -> assertThat(e.errno()).isEqualTo(Errno.ENXIO));
        }
        for (Path p : List.of(moved, link, sock)) {
            Files.delete(p);
        }
        Files.deleteIfExists(copy);
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            assertThat(ds.iterator().hasNext()).isFalse();
        }
    }

    /**
     * Character and block device nodes keep their device number (mknod c 1 3, mknod b 7 0). Making
     * them needs privilege: skipped unless this test creates files as root (and, on the local disk,
     * unless the process may make device nodes at all, which containers often forbid).
     */
    @Test
    public void deviceNodesKeepTheirDeviceNumbers() throws IOException {
        assumeTrue(SpecialFiles.supported(dir), "no special files on this file system");
        Path probe = Files.createFile(dir.resolve("probe"));
        assumeTrue(((Number) Files.getAttribute(probe, "unix:uid")).intValue() == 0, "device nodes need root");
        Path chr = dir.resolve("null");
        try {
            SpecialFiles.mknod(chr, S_IFCHR | 0666, 0x103);
        } catch (AccessDeniedException e) {
            assumeTrue(isHoldfast(), "this process may not make device nodes: " + e.getMessage());
            throw e;
        }
        Path blk = dir.resolve("loop0");
        SpecialFiles.mknod(blk, S_IFBLK | 0660, 0x700);
        assertThat(stMode(chr)).isEqualTo(S_IFCHR | 0666);
        assertThat(rdev(chr)).isEqualTo(0x103);
        assertThat(stMode(blk)).isEqualTo(S_IFBLK | 0660);
        assertThat(rdev(blk)).isEqualTo(0x700);
        assertThat(Files.readAttributes(blk, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                        .isOther())
                .isTrue();
        Path moved = Files.move(blk, dir.resolve("moved"));
        assertThat(rdev(moved)).isEqualTo(0x700);
        Path copy = dir.resolve("copy");
        if (isHoldfast()) {
            Files.copy(chr, copy, LinkOption.NOFOLLOW_LINKS);
            assertThat(stMode(copy) & 0170000).isEqualTo(S_IFCHR);
            assertThat(rdev(copy)).isEqualTo(0x103);
        }
        Files.setAttribute(chr, "unix:gid", 5);
        assertThat(Files.getAttribute(chr, "unix:gid", LinkOption.NOFOLLOW_LINKS))
                .isEqualTo(5);
        assertThat(rdev(chr)).isEqualTo(0x103);
        if (isHoldfast()) {
            assertThatThrownBy(() -> Files.readAllBytes(chr))
                    .isInstanceOfSatisfying(
                            ErrnoFileSystemException.class,
                            e -> assertThat(e.errno()).isEqualTo(Errno.ENXIO));
        }
        for (Path p : List.of(chr, moved)) {
            Files.delete(p);
        }
        Files.deleteIfExists(copy);
        assertThat(Files.exists(chr, LinkOption.NOFOLLOW_LINKS)).isFalse();
    }

    // ---- attributes ------------------------------------------------------------------------

    @Test
    public void posixAttributes() throws IOException {
        Path f = dir.resolve("p");
        Files.createFile(f, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f)))
                .isEqualTo("rw-------");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwxr-x---"));
        PosixFileAttributes a = Files.readAttributes(f, PosixFileAttributes.class);
        assertThat(PosixFilePermissions.toString(a.permissions())).isEqualTo("rwxr-x---");
        assertThat(a.isRegularFile()).isTrue();
        assertThat(a.owner()).isNotNull();
        Map<String, Object> unix = Files.readAttributes(f, "unix:*", LinkOption.NOFOLLOW_LINKS);
        assertThat(unix)
                .containsKeys(
                        "mode",
                        "ino",
                        "dev",
                        "rdev",
                        "nlink",
                        "uid",
                        "gid",
                        "ctime",
                        "size",
                        "permissions",
                        "lastModifiedTime");
        assertThat((Integer) unix.get("mode")).isEqualTo(0100750);
        Files.setAttribute(f, "unix:mode", 0644);
        assertThat(Files.getAttribute(f, "unix:mode")).isEqualTo(0100644);
        Path d = Files.createDirectory(
                dir.resolve("d"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        assertThat((Integer) Files.getAttribute(d, "unix:mode") & 0170777).isEqualTo(040700);
        FileTime t = FileTime.from(Instant.parse("2021-06-07T08:09:10.123Z"));
        Files.setLastModifiedTime(f, t);
        assertThat(Files.getLastModifiedTime(f)).isEqualTo(t);
        PosixFileAttributeView view = Files.getFileAttributeView(f, PosixFileAttributeView.class);
        view.setTimes(null, t, null);
        assertThat(view.readAttributes().lastAccessTime()).isEqualTo(t);
        int uid = (Integer) Files.getAttribute(f, "unix:uid");
        Files.setOwner(
                f,
                f.getFileSystem()
                        .getUserPrincipalLookupService()
                        .lookupPrincipalByName(Files.getOwner(f).getName()));
        assertThat(Files.getAttribute(f, "unix:uid")).isEqualTo(uid);
        assertThatThrownBy(() -> f.getFileSystem()
                        .getUserPrincipalLookupService()
                        .lookupPrincipalByName("no-such-user-holdfast"))
                .isInstanceOf(UserPrincipalNotFoundException.class);
        assertThatThrownBy(() -> Files.getAttribute(f, "basic:nonsense")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Files.getAttribute(f, "nosuchview:x"))
                .isInstanceOf(UnsupportedOperationException.class);
        assertThat(Files.isHidden(dir.resolve(".hidden"))).isTrue();
        f.getFileSystem().provider().checkAccess(f, AccessMode.READ, AccessMode.WRITE);
        assertThat(Files.isReadable(f)).isTrue();
        assertThatThrownBy(() -> f.getFileSystem().provider().checkAccess(dir.resolve("none")))
                .isInstanceOf(NoSuchFileException.class);
    }

    @Test
    public void userAttributes() throws IOException {
        Path f = Files.createFile(dir.resolve("x"));
        UserDefinedFileAttributeView v = Files.getFileAttributeView(f, UserDefinedFileAttributeView.class);
        assumeTrue(v != null, "no user attribute view");
        try {
            v.write("probe", ByteBuffer.wrap(new byte[] {1}));
        } catch (FileSystemException e) {
            assumeTrue(isHoldfast(), "local file system without user xattrs: " + e);
            throw e;
        }
        v.write("color", ByteBuffer.wrap("blue".getBytes(UTF_8)));
        assertThat(v.list()).contains("probe", "color");
        assertThat(v.size("color")).isEqualTo(4);
        ByteBuffer b = ByteBuffer.allocate(16);
        v.read("color", b);
        assertThat(new String(b.array(), 0, b.position(), UTF_8)).isEqualTo("blue");
        assertThat((byte[]) Files.getAttribute(f, "user:color")).isEqualTo("blue".getBytes(UTF_8));
        v.delete("color");
        assertThat(v.list()).doesNotContain("color");
        assertThatThrownBy(() -> v.size("color")).isInstanceOf(FileSystemException.class);
    }

    @Test
    public void longNamesAreRefused() throws IOException {
        Path f = dir.resolve("n".repeat(256));
        assertThatThrownBy(() -> Files.createFile(f))
                .isInstanceOf(FileSystemException.class)
                .satisfies(e -> {
                    if (isHoldfast()) {
                        assertThat(e).isInstanceOf(ErrnoFileSystemException.class);
                        assertThat(((ErrnoFileSystemException) e).errno()).isEqualTo(Errno.ENAMETOOLONG);
                    }
                });
        Files.createFile(dir.resolve("n".repeat(255)));
    }

    @Test
    public void fileStoreReportsSpace() throws IOException {
        var store = Files.getFileStore(dir);
        assertThat(store.getTotalSpace()).isPositive();
        assertThat(store.getUsableSpace()).isBetween(0L, store.getTotalSpace());
        assertThat(store.supportsFileAttributeView("posix")).isTrue();
        assertThatThrownBy(() -> Files.getFileStore(dir.resolve("missing"))).isInstanceOf(NoSuchFileException.class);
    }

    // ---- consistency and privilege rules -------------------------------------------------------

    /** Read your writes: stat, size and reads by another channel see a write before any close. */
    @Test
    public void statAndOtherChannelsSeeAWriteBeforeClose() throws IOException {
        Path f = dir.resolve("growing");
        byte[] data = random(300_000);
        try (FileChannel w = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (int off = 0; off < data.length; off += 4096) {
                w.write(ByteBuffer.wrap(data, off, Math.min(4096, data.length - off)), off);
                assertThat(Files.size(f))
                        .as("stat after a write ending at %d", off + 4096)
                        .isEqualTo(Math.min(off + 4096, data.length));
            }
            try (FileChannel r = FileChannel.open(f, StandardOpenOption.READ)) {
                assertThat(r.size()).isEqualTo(data.length);
                ByteBuffer all = ByteBuffer.allocate(data.length);
                while (all.hasRemaining() && r.read(all, all.position()) > 0) {
                    // keep reading
                }
                assertThat(all.array()).isEqualTo(data);
            }
        }
    }

    /**
     * POSIX write(2): a write by a caller who is not the owner (and not root) clears set-user-ID,
     * and set-group-ID when the group may execute; utimensat(2) with UTIME_NOW ({@code
     * unix:timesNow}) is allowed to anyone who may write, explicit times only to the owner. Needs
     * a second identity, so it runs on Holdfast volumes, where the caller is bound per thread; the
     * FUSE mount's run is in FileExerciserIT.
     */
    @Test
    public void aWriterWhoIsNotTheOwnerClearsSetIdBitsAndMayTouch() throws Exception {
        assumeTrue(isHoldfast(), "needs a second identity");
        Caller nobody = new Caller(65534, 65534, new int[0]);
        Path f = dir.resolve("setid");
        Files.write(f, "first".getBytes(UTF_8));
        Files.setAttribute(f, "unix:mode", 06777);
        HoldfastFileSystem.withCaller(nobody, () -> {
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
                ch.write(ByteBuffer.wrap("more".getBytes(UTF_8)));
            }
            return null;
        });
        assertThat((int) Files.getAttribute(f, "unix:mode") & 07777).isEqualTo(0777);
        assertThat(Files.readString(f)).isEqualTo("firstmore");

        Files.setAttribute(f, "unix:mode", 02666); // set-group-ID without group execute stays
        HoldfastFileSystem.withCaller(nobody, () -> Files.write(f, "x".getBytes(UTF_8), StandardOpenOption.APPEND));
        assertThat((int) Files.getAttribute(f, "unix:mode") & 07777).isEqualTo(02666);

        FileTime old = FileTime.from(Instant.parse("2001-01-01T00:00:00Z"));
        Files.setLastModifiedTime(f, old);
        HoldfastFileSystem.withCaller(nobody, () -> {
            Files.setAttribute(f, "unix:timesNow", Set.of("lastAccessTime", "lastModifiedTime"));
            return null;
        });
        assertThat(Files.getLastModifiedTime(f)).isGreaterThan(old);
        assertThatThrownBy(() -> HoldfastFileSystem.withCaller(nobody, () -> Files.setLastModifiedTime(f, old)))
                .isInstanceOf(FileSystemException.class);
    }
}
