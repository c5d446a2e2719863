package io.holdfast.overlay;

import java.io.IOException;
import java.nio.file.ClosedFileSystemException;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.WatchService;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.time.Clock;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;

/**
 * A union of two directories, in the manner of Linux overlayfs: a read-only LOWER layer that is
 * never written, and a writable UPPER layer that receives every change. Both layers are any
 * {@link Path} (local directories, Holdfast volumes); the overlay itself is a
 * {@link java.nio.file.FileSystem} of the {@code overlay:} scheme, so Java code, the CLI file
 * commands and the FUSE adapter use it like any other.
 *
 * <p>Specification followed: the kernel's {@code Documentation/filesystems/overlayfs.rst}
 * ("Overlay Filesystem"), sections "Upper and Lower", "Directories", "whiteouts and opaque
 * directories", "readdir", "Non-directories" (copy up) and "Renaming directories". What is the
 * same and what differs:
 *
 * <ul>
 *   <li>Lookups go to the upper layer, then the lower one; a directory present in both is merged;
 *       a listing has each name once (upper first), never a whiteout.
 *   <li>Deleting a name that exists in the lower layer leaves a <b>whiteout</b> in the upper
 *       layer: a character device 0/0 ({@link WhiteoutFormat#KERNEL}) when the upper layer can hold
 *       one and user extended attributes, else an empty file {@code .wh.NAME}
 *       ({@link WhiteoutFormat#AUFS}, the aufs and OCI image format). A directory deleted and made
 *       again is <b>opaque</b>: {@code user.overlay.opaque="y"} (KERNEL; the kernel reads it when
 *       mounted with {@code -o userxattr}; {@code trusted.overlay.*} has no Java API) or a
 *       {@code .wh..wh..opq} file in it (AUFS). The format is chosen when a work directory is first
 *       used and kept in it.
 *   <li>Any change to a lower file, directory or link (data, mode, owner, times, user extended
 *       attributes) first <b>copies it up</b>: into the work directory, then renamed into place,
 *       so a crash never leaves a half-copied file visible (leftovers in the work directory are
 *       removed at the next open). Opening with {@code TRUNCATE_EXISTING} copies no data, so a
 *       file whose lower copy cannot be read can still be replaced; so can renaming over it.
 *   <li>Renaming a directory that has lower content copies the whole subtree up and marks it
 *       opaque (the kernel answers {@code EXDEV} unless {@code redirect_dir} is on); a caller
 *       never sees {@code EXDEV}.
 *   <li>Hard links of lower files are not kept together on copy-up (the kernel's {@code index}
 *       feature): each name copied up becomes its own file. Inode numbers change on copy-up.
 *   <li>{@link #getFileStores} and {@link java.nio.file.Files#getFileStore} give the upper
 *       layer's store ({@code statfs} of the upper, as the kernel).
 *   <li>A read of lower data that fails with an {@link IOException} fails for that file only, with
 *       an {@code EIO} {@link io.holdfast.common.ErrnoFileSystemException}, and is counted and
 *       logged with its path in the status record ({@link #STATUS_FILE} in the work directory).
 *   <li>Changing a layer behind the overlay's back while it is open is not supported (as with the
 *       kernel); the overlay caches which directories exist in which layer.
 * </ul>
 *
 * <p>Paths: POSIX strings, absolute from the overlay's root {@code "/"}; {@code ".."} is resolved
 * lexically; symbolic links in the middle of a path are followed within the overlay (an absolute
 * target from the overlay's root). Thread safety: all operations may be called concurrently.
 */
public final class OverlayFileSystem extends FileSystem {
    /** Name of the status record in the work directory: JSON, replaced atomically. */
    public static final String STATUS_FILE = "status.json";

    private final String id;
    private final OverlayFileSystemProvider provider;
    private final Overlay overlay;
    private volatile boolean open = true;

    OverlayFileSystem(OverlayFileSystemProvider provider, String id, Path lower, Path upper, Path work, Clock clock)
            throws IOException {
        this.provider = provider;
        this.id = id;
        this.overlay = new Overlay(this, lower, upper, work, clock);
    }

    /**
     * Opens an overlay of {@code lower} under {@code upper}.
     *
     * @param lower the read-only layer: an existing directory, never written
     * @param upper the writable layer: an existing directory, not inside {@code lower} nor
     *     containing it
     * @param work the work directory: on the same file system as {@code upper} (copy-ups are renamed
     *     from it into the upper layer), outside both layers; created if missing. {@link
     *     #defaultWorkDirectory} gives the usual place
     * @return the overlay; close it to stop (writes the status record a last time)
     * @throws IllegalArgumentException if the layers overlap or {@code work} is inside a layer
     * @throws java.nio.file.NotDirectoryException if a layer is not a directory
     * @throws IOException if a layer cannot be read or the work directory cannot be made
     */
    public static OverlayFileSystem open(Path lower, Path upper, Path work) throws IOException {
        return OverlayFileSystemProvider.INSTANCE.open(lower, upper, work, Clock.systemUTC());
    }

    /**
     * The work directory used when none is given: {@code .NAME.overlay-work} beside {@code upper}
     * (same parent, so normally the same file system).
     *
     * @throws IllegalArgumentException if {@code upper} has no parent (a root directory: give the
     *     work directory explicitly)
     */
    public static Path defaultWorkDirectory(Path upper) {
        Path abs = upper.toAbsolutePath().normalize();
        if (abs.getParent() == null || abs.getFileName() == null) {
            throw new IllegalArgumentException(
                    "the upper layer " + upper + " has no parent directory: name a work directory explicitly");
        }
        return abs.getParent().resolve("." + abs.getFileName() + ".overlay-work");
    }

    String id() {
        return id;
    }

    Overlay overlay() {
        if (!open) {
            throw new ClosedFileSystemException();
        }
        return overlay;
    }

    /** The overlay's root directory, {@code "/"}. */
    public Path root() {
        return getPath("/");
    }

    /** The lower (read-only) layer. */
    public Path lower() {
        return overlay.lowerRoot();
    }

    /** The upper (writable) layer. */
    public Path upper() {
        return overlay.upperRoot();
    }

    /** The work directory (copy-ups in progress, the status record). */
    public Path work() {
        return overlay.workRoot();
    }

    /** How deletes and opaque directories are written into the upper layer. */
    public WhiteoutFormat whiteoutFormat() {
        return overlay.format();
    }

    /** A snapshot of what the overlay has done and seen since it was opened. */
    public OverlayStatus status() {
        return overlay.status().snapshot();
    }

    @Override
    public OverlayFileSystemProvider provider() {
        return provider;
    }

    /** Closes the overlay and writes its status record; the layers are left as they are. Idempotent. */
    @Override
    public void close() throws IOException {
        if (!open) {
            return;
        }
        open = false;
        provider.forget(this);
        overlay.close();
    }

    @Override
    public boolean isOpen() {
        return open;
    }

    @Override
    public boolean isReadOnly() {
        return false;
    }

    @Override
    public String getSeparator() {
        return "/";
    }

    @Override
    public Iterable<Path> getRootDirectories() {
        return List.of(root());
    }

    @Override
    public Iterable<FileStore> getFileStores() {
        try {
            return List.of(Files.getFileStore(overlay.upperRoot()));
        } catch (IOException e) {
            return List.of();
        }
    }

    @Override
    public Set<String> supportedFileAttributeViews() {
        Set<String> views =
                new LinkedHashSet<>(overlay.upperRoot().getFileSystem().supportedFileAttributeViews());
        views.retainAll(overlay.lowerRoot().getFileSystem().supportedFileAttributeViews());
        views.retainAll(Set.of("basic", "posix", "unix", "owner", "user"));
        return views;
    }

    @Override
    public Path getPath(String first, String... more) {
        Objects.requireNonNull(first, "first");
        StringBuilder b = new StringBuilder(first);
        for (String m : more) {
            if (!m.isEmpty()) {
                if (!b.isEmpty()) {
                    b.append('/');
                }
                b.append(m);
            }
        }
        return new OverlayPath(this, b.toString());
    }

    @Override
    public PathMatcher getPathMatcher(String syntaxAndPattern) {
        FileSystem under = overlay.upperRoot().getFileSystem();
        PathMatcher m = under.getPathMatcher(syntaxAndPattern);
        return p -> m.matches(under.getPath(p.toString()));
    }

    @Override
    public UserPrincipalLookupService getUserPrincipalLookupService() {
        return overlay.upperRoot().getFileSystem().getUserPrincipalLookupService();
    }

    @Override
    public WatchService newWatchService() {
        throw new UnsupportedOperationException("the overlay has no watch service");
    }

    @Override
    public String toString() {
        return "overlay[" + overlay.lowerRoot() + " under " + overlay.upperRoot() + "]";
    }

    static String newId() {
        return UUID.randomUUID().toString().substring(0, 8);
    }
}
