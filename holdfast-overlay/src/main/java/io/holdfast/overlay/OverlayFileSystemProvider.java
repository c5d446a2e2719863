package io.holdfast.overlay;

import io.holdfast.common.SpecialFileProvider;
import java.io.IOException;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AccessMode;
import java.nio.file.CopyOption;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.ProviderMismatchException;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.spi.FileSystemProvider;
import java.time.Clock;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@code overlay:} file system provider: every {@link OverlayFileSystem} belongs to the one
 * instance {@link #INSTANCE}. URIs name an open overlay by its id, {@code overlay://ID/path}; a
 * new one is opened with {@link OverlayFileSystem#open} or with {@link #newFileSystem(URI, Map)}
 * and an environment holding the {@link Path}s {@code "lower"}, {@code "upper"} and, optionally,
 * {@code "work"}. It also creates special files ({@link SpecialFileProvider}) in the upper layer.
 *
 * <p>Thread safety: thread-safe.
 */
public final class OverlayFileSystemProvider extends FileSystemProvider implements SpecialFileProvider {
    /** The URI scheme, {@code "overlay"}. */
    public static final String SCHEME = "overlay";

    /** The provider of every overlay file system. */
    public static final OverlayFileSystemProvider INSTANCE = new OverlayFileSystemProvider();

    private final Map<String, OverlayFileSystem> open = new ConcurrentHashMap<>();

    /** Public for {@link java.util.ServiceLoader}; use {@link #INSTANCE}. */
    public OverlayFileSystemProvider() {}

    OverlayFileSystem open(Path lower, Path upper, Path work, Clock clock) throws IOException {
        Objects.requireNonNull(lower, "lower");
        Objects.requireNonNull(upper, "upper");
        Path w = work == null ? OverlayFileSystem.defaultWorkDirectory(upper) : work;
        String id = OverlayFileSystem.newId();
        OverlayFileSystem fs = new OverlayFileSystem(INSTANCE, id, lower, upper, w, clock);
        INSTANCE.open.put(id, fs);
        return fs;
    }

    void forget(OverlayFileSystem fs) {
        open.remove(fs.id(), fs);
    }

    @Override
    public String getScheme() {
        return SCHEME;
    }

    /**
     * Opens an overlay.
     *
     * @param uri {@code overlay:/} (the id is chosen by the provider)
     * @param env {@code "lower"} and {@code "upper"}: {@link Path}s as in {@link OverlayFileSystem#open};
     *     {@code "work"}: optional
     * @throws IllegalArgumentException if a layer is missing from {@code env} or not a {@link Path}
     * @throws IOException as {@link OverlayFileSystem#open}
     */
    @Override
    public FileSystem newFileSystem(URI uri, Map<String, ?> env) throws IOException {
        if (!SCHEME.equals(uri.getScheme())) {
            throw new IllegalArgumentException("not an overlay URI: " + uri);
        }
        if (uri.getAuthority() != null && open.containsKey(uri.getAuthority())) {
            throw new FileSystemAlreadyExistsException(uri.toString());
        }
        if (!(env.get("lower") instanceof Path lower) || !(env.get("upper") instanceof Path upper)) {
            throw new IllegalArgumentException("an overlay needs the Paths \"lower\" and \"upper\" in its environment");
        }
        Object work = env.get("work");
        if (work != null && !(work instanceof Path)) {
            throw new IllegalArgumentException("\"work\" must be a Path");
        }
        return open(lower, upper, (Path) work, Clock.systemUTC());
    }

    @Override
    public FileSystem getFileSystem(URI uri) {
        OverlayFileSystem fs = uri.getAuthority() == null ? null : open.get(uri.getAuthority());
        if (fs == null) {
            throw new FileSystemNotFoundException(uri.toString());
        }
        return fs;
    }

    @Override
    public Path getPath(URI uri) {
        return getFileSystem(uri).getPath(uri.getPath() == null || uri.getPath().isEmpty() ? "/" : uri.getPath());
    }

    private static OverlayPath path(Path p) {
        Objects.requireNonNull(p, "path");
        if (!(p instanceof OverlayPath o)) {
            throw new ProviderMismatchException("not an overlay path: " + p);
        }
        return o;
    }

    /**
     * {@code other} as a path of the same overlay as {@code p}.
     *
     * @throws ProviderMismatchException with {@code mismatch} if it is of another overlay (or not an overlay path)
     */
    private static OverlayPath sameOverlay(OverlayPath p, Path other, String mismatch) {
        OverlayPath o = path(other);
        if (o.getFileSystem() != p.getFileSystem()) {
            throw new ProviderMismatchException(mismatch);
        }
        return o;
    }

    private static Overlay overlay(Path p) {
        return path(p).getFileSystem().overlay();
    }

    @Override
    public SeekableByteChannel newByteChannel(Path path, Set<? extends OpenOption> options, FileAttribute<?>... attrs)
            throws IOException {
        return overlay(path).newFileChannel(path(path), options, attrs);
    }

    @Override
    public FileChannel newFileChannel(Path path, Set<? extends OpenOption> options, FileAttribute<?>... attrs)
            throws IOException {
        return overlay(path).newFileChannel(path(path), options, attrs);
    }

    @Override
    public DirectoryStream<Path> newDirectoryStream(Path dir, DirectoryStream.Filter<? super Path> filter)
            throws IOException {
        return overlay(dir).newDirectoryStream(path(dir), filter);
    }

    @Override
    public void createDirectory(Path dir, FileAttribute<?>... attrs) throws IOException {
        overlay(dir).createDirectory(path(dir), attrs);
    }

    @Override
    public void createSymbolicLink(Path link, Path target, FileAttribute<?>... attrs) throws IOException {
        overlay(link).createSymbolicLink(path(link), target.toString(), attrs);
    }

    @Override
    public void createLink(Path link, Path existing) throws IOException {
        OverlayPath l = path(link);
        OverlayPath e = sameOverlay(l, existing, "a hard link cannot join two overlays");
        overlay(link).createLink(l, e);
    }

    @Override
    public void mknod(Path path, int mode, long rdev) throws IOException {
        overlay(path).mknod(path(path), mode, rdev);
    }

    @Override
    public void delete(Path path) throws IOException {
        overlay(path).delete(path(path));
    }

    @Override
    public Path readSymbolicLink(Path link) throws IOException {
        OverlayPath p = path(link);
        return p.getFileSystem().getPath(overlay(link).readSymbolicLink(p));
    }

    @Override
    public void copy(Path source, Path target, CopyOption... options) throws IOException {
        OverlayPath s = path(source);
        OverlayPath t = sameOverlay(s, target, "copy between two overlays: use Files.copy with streams");
        overlay(source).copy(s, t, options);
    }

    @Override
    public void move(Path source, Path target, CopyOption... options) throws IOException {
        OverlayPath s = path(source);
        OverlayPath t = sameOverlay(s, target, "move between two overlays");
        overlay(source).move(s, t, options);
    }

    @Override
    public boolean isSameFile(Path path, Path path2) throws IOException {
        if (path.equals(path2)) {
            return true;
        }
        if (!(path instanceof OverlayPath a)
                || !(path2 instanceof OverlayPath b)
                || a.getFileSystem() != b.getFileSystem()) {
            return false;
        }
        return overlay(a).isSameFile(a, b);
    }

    @Override
    public boolean isHidden(Path path) {
        Path name = path.getFileName();
        return name != null && name.toString().startsWith(".");
    }

    @Override
    public FileStore getFileStore(Path path) throws IOException {
        return overlay(path).fileStore(path(path));
    }

    @Override
    public void checkAccess(Path path, AccessMode... modes) throws IOException {
        overlay(path).checkAccess(path(path), modes);
    }

    @Override
    public <V extends FileAttributeView> V getFileAttributeView(Path path, Class<V> type, LinkOption... options) {
        return overlay(path).attributeView(path(path), type, Overlay.follows(options));
    }

    @Override
    public <A extends BasicFileAttributes> A readAttributes(Path path, Class<A> type, LinkOption... options)
            throws IOException {
        return overlay(path).readAttributes(path(path), type, Overlay.follows(options));
    }

    @Override
    public Map<String, Object> readAttributes(Path path, String attributes, LinkOption... options) throws IOException {
        return overlay(path).readAttributes(path(path), attributes, Overlay.follows(options));
    }

    @Override
    public void setAttribute(Path path, String attribute, Object value, LinkOption... options) throws IOException {
        overlay(path).setAttribute(path(path), attribute, value, Overlay.follows(options));
    }

    @Override
    public boolean exists(Path path, LinkOption... options) {
        try {
            return overlay(path).lookup(path(path), Overlay.follows(options)).exists();
        } catch (IOException e) {
            return false;
        }
    }

    /** Files.readAttributesIfExists (JDK 20+): one lookup instead of an exception for a missing file. */
    @Override
    public <A extends BasicFileAttributes> A readAttributesIfExists(Path path, Class<A> type, LinkOption... options)
            throws IOException {
        Overlay o = overlay(path);
        Overlay.Node n = o.lookup(path(path), Overlay.follows(options));
        return n.exists() ? o.readAttributes(n, type) : null;
    }

    @Override
    public String toString() {
        return "OverlayFileSystemProvider";
    }
}
