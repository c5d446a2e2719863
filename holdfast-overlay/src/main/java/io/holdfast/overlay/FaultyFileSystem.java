package io.holdfast.overlay;

import io.holdfast.common.FilteredPathIterator;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.AccessMode;
import java.nio.file.CopyOption;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.ProviderMismatchException;
import java.nio.file.ReadOnlyFileSystemException;
import java.nio.file.StandardOpenOption;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.nio.file.spi.FileSystemProvider;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.PatternSyntaxException;

/**
 * A read-only view of a directory that fails on chosen paths, as a damaged disk does: reads of a
 * file's data ({@link #failReads}, {@link #failReadsMatching}), listings of a directory ({@link
 * #failListings}) and {@code lstat} of an entry ({@link #failStats}) throw a {@link
 * FileSystemException} "Input/output error" (opening the file still succeeds, as with bad sectors).
 * Every attempt to change anything throws {@link ReadOnlyFileSystemException} and is counted in
 * {@link #writeAttempts}, which proves a lower layer is never written.
 *
 * <p><b>Fault injection, on purpose only.</b> This is the lower layer for drills, demos and tests
 * of the overlay's handling of a damaged file system: {@code holdfast overlay mount
 * --inject-lower-errors GLOB} and {@code holdfast demo --overlay} wrap LOWER in it, so an operator
 * can see (and rehearse) what a mount over a failing disk does: the reads fail with EIO for those
 * files only, the mount keeps serving, {@code holdfast overlay status} lists them, and writing them
 * anew replaces them. Nothing uses it unless asked. Why a decorator rather than a failing FUSE
 * layer below: it needs no second mount, works for any {@link Path} (local or a Holdfast volume)
 * and in any JVM, and fails exactly the operation named; the overlay sees the same {@link
 * IOException} a real disk's EIO gives through the JDK's provider.
 *
 * <p>Paths are relative to the root given to the constructor, in the base file system's syntax
 * ({@code "dir/file"}). Thread safety: the sets may be changed while the file system is in use;
 * every operation may be called concurrently.
 */
public final class FaultyFileSystem extends FileSystem {
    /** Files whose data reads fail (relative paths). */
    public final Set<String> failReads = ConcurrentHashMap.newKeySet();
    /** Directories whose listing fails (relative paths). */
    public final Set<String> failListings = ConcurrentHashMap.newKeySet();
    /** Entries whose attributes cannot be read (relative paths). */
    public final Set<String> failStats = ConcurrentHashMap.newKeySet();
    /** Attempts to change the file system, each refused. */
    public final AtomicLong writeAttempts = new AtomicLong();

    private final List<PathMatcher> failReadMatchers = new CopyOnWriteArrayList<>();
    private final Path base;
    private final Provider provider = new Provider();

    /**
     * A faulty view of {@code base}; nothing fails until told to.
     *
     * @param base the directory seen as this file system's {@link #root()}; any {@link Path}
     */
    public FaultyFileSystem(Path base) {
        this.base = base.toAbsolutePath();
    }

    /** The base directory as a path of this file system. */
    public Path root() {
        return new FPath(base);
    }

    /**
     * Makes data reads fail for every file whose path relative to the root matches {@code glob}.
     *
     * @param glob a pattern of {@link FileSystem#getPathMatcher}'s {@code glob} syntax, matched
     *     against the relative path ({@code "*"} within one name, {@code "**"} across directories)
     * @throws IllegalArgumentException if the pattern is empty or invalid
     */
    public void failReadsMatching(String glob) {
        if (glob.isEmpty()) {
            throw new IllegalArgumentException("an empty pattern matches nothing; give a glob such as 'dir/*.eml'");
        }
        try {
            failReadMatchers.add(base.getFileSystem().getPathMatcher("glob:" + glob));
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("invalid glob '" + glob + "': " + e.getDescription(), e);
        }
    }

    private boolean readFails(Path real) {
        String rel = rel(real);
        if (failReads.contains(rel)) {
            return true;
        }
        Path relative = base.getFileSystem().getPath(rel);
        for (PathMatcher m : failReadMatchers) {
            if (m.matches(relative)) {
                return true;
            }
        }
        return false;
    }

    private String rel(Path real) {
        return base.relativize(real.toAbsolutePath().normalize()).toString();
    }

    private static IOException eio(Path p) {
        return new FileSystemException(p.toString(), null, "Input/output error");
    }

    private Path real(Path p) {
        if (!(p instanceof FPath f)) {
            throw new ProviderMismatchException(String.valueOf(p));
        }
        return f.real;
    }

    @Override
    public FileSystemProvider provider() {
        return provider;
    }

    @Override
    public void close() {}

    @Override
    public boolean isOpen() {
        return true;
    }

    @Override
    public boolean isReadOnly() {
        return true;
    }

    @Override
    public String getSeparator() {
        return "/";
    }

    @Override
    public Iterable<Path> getRootDirectories() {
        return Set.of(new FPath(base.getRoot()));
    }

    @Override
    public Iterable<FileStore> getFileStores() {
        return base.getFileSystem().getFileStores();
    }

    @Override
    public Set<String> supportedFileAttributeViews() {
        return base.getFileSystem().supportedFileAttributeViews();
    }

    @Override
    public Path getPath(String first, String... more) {
        return new FPath(base.getFileSystem().getPath(first, more));
    }

    @Override
    public PathMatcher getPathMatcher(String syntaxAndPattern) {
        PathMatcher m = base.getFileSystem().getPathMatcher(syntaxAndPattern);
        return p -> m.matches(real(p));
    }

    @Override
    public UserPrincipalLookupService getUserPrincipalLookupService() {
        return base.getFileSystem().getUserPrincipalLookupService();
    }

    @Override
    public WatchService newWatchService() {
        throw new UnsupportedOperationException();
    }

    final class FPath implements Path {
        final Path real;

        FPath(Path real) {
            this.real = real;
        }

        private Path wrap(Path p) {
            return p == null ? null : new FPath(p);
        }

        @Override
        public FileSystem getFileSystem() {
            return FaultyFileSystem.this;
        }

        @Override
        public boolean isAbsolute() {
            return real.isAbsolute();
        }

        @Override
        public Path getRoot() {
            return wrap(real.getRoot());
        }

        @Override
        public Path getFileName() {
            return wrap(real.getFileName());
        }

        @Override
        public Path getParent() {
            return wrap(real.getParent());
        }

        @Override
        public int getNameCount() {
            return real.getNameCount();
        }

        @Override
        public Path getName(int index) {
            return wrap(real.getName(index));
        }

        @Override
        public Path subpath(int beginIndex, int endIndex) {
            return wrap(real.subpath(beginIndex, endIndex));
        }

        @Override
        public boolean startsWith(Path other) {
            return other instanceof FPath f && real.startsWith(f.real);
        }

        @Override
        public boolean endsWith(Path other) {
            return other instanceof FPath f && real.endsWith(f.real);
        }

        @Override
        public Path normalize() {
            return wrap(real.normalize());
        }

        @Override
        public Path resolve(Path other) {
            return wrap(real.resolve(real(other)));
        }

        @Override
        public Path resolve(String other) {
            return wrap(real.resolve(other));
        }

        @Override
        public Path relativize(Path other) {
            return wrap(real.relativize(real(other)));
        }

        @Override
        public URI toUri() {
            return real.toUri();
        }

        @Override
        public Path toAbsolutePath() {
            return wrap(real.toAbsolutePath());
        }

        @Override
        public Path toRealPath(LinkOption... options) throws IOException {
            return wrap(real.toRealPath(options));
        }

        @Override
        public WatchKey register(WatchService watcher, WatchEvent.Kind<?>[] events, WatchEvent.Modifier... modifiers) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int compareTo(Path other) {
            return real.compareTo(real(other));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof FPath f && f.real.equals(real);
        }

        @Override
        public int hashCode() {
            return real.hashCode();
        }

        @Override
        public String toString() {
            return real.toString();
        }
    }

    final class Provider extends FileSystemProvider {
        private ReadOnlyFileSystemException write() {
            writeAttempts.incrementAndGet();
            return new ReadOnlyFileSystemException();
        }

        private void checkStat(Path p) throws IOException {
            if (failStats.contains(rel(real(p)))) {
                throw eio(p);
            }
        }

        @Override
        public String getScheme() {
            return "faulty";
        }

        @Override
        public FileSystem newFileSystem(URI uri, Map<String, ?> env) {
            throw new UnsupportedOperationException();
        }

        @Override
        public FileSystem getFileSystem(URI uri) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Path getPath(URI uri) {
            throw new UnsupportedOperationException();
        }

        @Override
        public SeekableByteChannel newByteChannel(
                Path path, Set<? extends OpenOption> options, FileAttribute<?>... attrs) throws IOException {
            return newFileChannel(path, options, attrs);
        }

        @Override
        public FileChannel newFileChannel(Path path, Set<? extends OpenOption> options, FileAttribute<?>... attrs)
                throws IOException {
            for (OpenOption o : options) {
                if (o != StandardOpenOption.READ && o != LinkOption.NOFOLLOW_LINKS) {
                    throw write();
                }
            }
            checkStat(path);
            FileChannel ch = FileChannel.open(real(path), options);
            return readFails(real(path)) ? new FailingChannel(ch, path) : ch;
        }

        @Override
        public DirectoryStream<Path> newDirectoryStream(Path dir, DirectoryStream.Filter<? super Path> filter)
                throws IOException {
            if (failListings.contains(rel(real(dir)))) {
                throw eio(dir);
            }
            DirectoryStream<Path> ds = Files.newDirectoryStream(real(dir));
            return new DirectoryStream<>() {
                @Override
                public Iterator<Path> iterator() {
                    Iterator<Path> it = ds.iterator();
                    return new FilteredPathIterator(() -> it.hasNext() ? new FPath(it.next()) : null, filter);
                }

                @Override
                public void close() throws IOException {
                    ds.close();
                }
            };
        }

        @Override
        public void createDirectory(Path dir, FileAttribute<?>... attrs) {
            throw write();
        }

        @Override
        public void createSymbolicLink(Path link, Path target, FileAttribute<?>... attrs) {
            throw write();
        }

        @Override
        public void createLink(Path link, Path existing) {
            throw write();
        }

        @Override
        public void delete(Path path) {
            throw write();
        }

        @Override
        public Path readSymbolicLink(Path link) throws IOException {
            checkStat(link);
            return new FPath(Files.readSymbolicLink(real(link)));
        }

        @Override
        public void copy(Path source, Path target, CopyOption... options) {
            throw write();
        }

        @Override
        public void move(Path source, Path target, CopyOption... options) {
            throw write();
        }

        @Override
        public boolean isSameFile(Path path, Path path2) throws IOException {
            return Files.isSameFile(real(path), real(path2));
        }

        @Override
        public boolean isHidden(Path path) throws IOException {
            return Files.isHidden(real(path));
        }

        @Override
        public FileStore getFileStore(Path path) throws IOException {
            return Files.getFileStore(real(path));
        }

        @Override
        public void checkAccess(Path path, AccessMode... modes) throws IOException {
            for (AccessMode m : modes) {
                if (m == AccessMode.WRITE) {
                    throw write();
                }
            }
            checkStat(path);
            real(path).getFileSystem().provider().checkAccess(real(path), modes);
        }

        @Override
        public <V extends FileAttributeView> V getFileAttributeView(Path path, Class<V> type, LinkOption... options) {
            return Files.getFileAttributeView(real(path), type, options); // read-only use in the overlay
        }

        @Override
        public <A extends BasicFileAttributes> A readAttributes(Path path, Class<A> type, LinkOption... options)
                throws IOException {
            checkStat(path);
            return Files.readAttributes(real(path), type, options);
        }

        @Override
        public Map<String, Object> readAttributes(Path path, String attributes, LinkOption... options)
                throws IOException {
            checkStat(path);
            return Files.readAttributes(real(path), attributes, options);
        }

        @Override
        public void setAttribute(Path path, String attribute, Object value, LinkOption... options) {
            throw write();
        }
    }

    /** A channel whose every read fails, as a file over bad sectors. */
    private static final class FailingChannel extends FileChannel {
        private final FileChannel in;
        private final Path path;

        FailingChannel(FileChannel in, Path path) {
            this.in = in;
            this.path = path;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            throw eio(path);
        }

        @Override
        public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
            throw eio(path);
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            throw eio(path);
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            throw eio(path);
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            throw eio(path);
        }

        @Override
        public int write(ByteBuffer src, long position) throws IOException {
            throw eio(path);
        }

        @Override
        public long position() throws IOException {
            return in.position();
        }

        @Override
        public FileChannel position(long newPosition) throws IOException {
            in.position(newPosition);
            return this;
        }

        @Override
        public long size() throws IOException {
            return in.size();
        }

        @Override
        public FileChannel truncate(long size) throws IOException {
            throw eio(path);
        }

        @Override
        public void force(boolean metaData) {}

        @Override
        public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
            throw eio(path);
        }

        @Override
        public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
            throw eio(path);
        }

        @Override
        public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
            throw eio(path);
        }

        @Override
        public FileLock lock(long position, long size, boolean shared) throws IOException {
            throw eio(path);
        }

        @Override
        public FileLock tryLock(long position, long size, boolean shared) throws IOException {
            throw eio(path);
        }

        @Override
        protected void implCloseChannel() throws IOException {
            in.close();
        }
    }
}
