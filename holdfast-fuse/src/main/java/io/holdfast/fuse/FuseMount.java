package io.holdfast.fuse;

import io.holdfast.client.nio.HoldfastFiles;
import io.holdfast.client.nio.ReadLease;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.TimeoutException;
import org.cryptomator.jfuse.api.Fuse;
import org.cryptomator.jfuse.api.FuseBuilder;
import org.cryptomator.jfuse.api.FuseMountFailedException;

/**
 * A mounted FUSE file system that exposes a {@link Path} subtree (a local directory, or a
 * Holdfast volume through its {@code holdfast://} NIO provider) at a mount point; {@link #close()}
 * unmounts it.
 *
 * <p>Implemented with cryptomator jfuse 0.7.3 (FFM) over the libfuse3 high-level API, with a
 * multithreaded session loop. Mount options always used: {@code -o default_permissions} (the
 * kernel enforces POSIX permissions from the reported attributes), {@code -o auto_unmount} (the
 * mount disappears when the JVM dies, even by SIGKILL), {@code fsname=}{@link FuseOptions#fsName},
 * {@code subtype=holdfast}, {@code attr_timeout}/{@code entry_timeout}/{@code negative_timeout} =
 * {@link FuseOptions#cacheTimeout}, {@code auto_cache}; {@code use_ino} is switched on in
 * {@code init} when real inode numbers can be reported.
 *
 * <p>A Holdfast volume with a metadata cache ({@link HoldfastFiles#readLease}) and a non-zero
 * cache timeout is mounted with timeouts 0 instead, which a {@link KernelCache} raises to the
 * cache timeout (negative lookups excepted) while the volume's read lease holds, and it takes
 * back what the kernel cached whenever the lease says another client changed something, before
 * that change completes (Linux 6.16 or later; an older kernel caches nothing).
 *
 * <p>{@code auto_cache} lets the kernel's page cache keep a file's content across opens: at every
 * open libfuse asks for the file's attributes and keeps the cached pages (FOPEN_KEEP_CACHE) only if
 * its modification time and size are what they were when the pages were read; and when a file's
 * attributes expire or are invalidated, the kernel (FUSE_AUTO_INVAL_DATA, on by default in libfuse 3) asks
 * for them again at the next read(2) and drops the file's pages when they changed. A Holdfast
 * mount answers those attribute requests from its metadata cache while its read lease holds,
 * and from the volume otherwise: another client's change, seen on the next open or read
 * (close-to-open), drops the pages, and a mount that lost its lease and cannot reach the volume
 * fails the read instead of answering from the pages.
 * In {@code init} the maximum write and readahead are set to 1 MiB.
 *
 * <p>Lifecycle: {@code MOUNTED -> CLOSED}; {@link #mount} returns a mounted instance only after the
 * kernel has served a first request, and {@link #close()} is idempotent.
 *
 * <p>Thread safety: instances are thread-safe; {@link #close()} may be called from any thread.
 */
public final class FuseMount implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(FuseMount.class.getName());
    private static final Path DEV_FUSE = Path.of("/dev/fuse");
    private static final List<String> FUSERMOUNT =
            List.of("/usr/bin/fusermount3", "/bin/fusermount3", "/usr/local/bin/fusermount3");

    private enum State {
        MOUNTED,
        CLOSED
    }

    private final Path root;
    private final Path mountPoint;
    private final Fuse fuse;
    private final Arena upcalls;
    private final PathFuseOperations ops;
    /** Null unless the kernel caches under a read lease. */
    private final KernelCache kernelCache;

    private State state = State.MOUNTED;

    private FuseMount(
            Path root, Path mountPoint, Fuse fuse, Arena upcalls, PathFuseOperations ops, KernelCache kernelCache) {
        this.root = root;
        this.mountPoint = mountPoint;
        this.fuse = fuse;
        this.upcalls = upcalls;
        this.ops = ops;
        this.kernelCache = kernelCache;
    }

    /**
     * Whether the kernel caches names and attributes now: under the served file system's read
     * lease ({@link KernelCache}), while it holds. False for a mount with fixed timeouts.
     */
    public boolean kernelCaching() {
        return kernelCache != null && kernelCache.caching();
    }

    /**
     * Whether the kernel caches under the served file system's read lease: a file system with a
     * lease, a non-zero cache timeout, and a kernel that takes cached names back (Linux &ge; 6.16).
     */
    public boolean leasedKernelCache() {
        return kernelCache != null;
    }

    /** How many times the kernel's cached names and attributes were taken back (0 without a lease). */
    public long kernelInvalidations() {
        return kernelCache == null ? 0 : kernelCache.invalidations();
    }

    /**
     * Whether FUSE can be used here: {@code /dev/fuse} is readable and writable, and
     * {@code libfuse3.so.3} and {@code fusermount3} are installed. Does not mount anything.
     */
    public static boolean isAvailable() {
        return unavailableReason() == null;
    }

    private static String unavailableReason() {
        if (!Files.isReadable(DEV_FUSE) || !Files.isWritable(DEV_FUSE)) {
            return "/dev/fuse is missing or not accessible (load the fuse module / pass --device /dev/fuse)";
        }
        if (NativeFuse.libraryPath() == null) {
            return "libfuse3.so.3 not found in " + NativeFuse.LIBRARY_CANDIDATES;
        }
        if (FUSERMOUNT.stream().noneMatch(p -> Files.isExecutable(Path.of(p)))) {
            return "fusermount3 not found in " + FUSERMOUNT;
        }
        return null;
    }

    /**
     * Mounts {@code root} at {@code mountPoint} and returns once the mount serves requests.
     *
     * <p>Blocks for the mount handshake (typically tens of milliseconds, at most about 10 s).
     *
     * @param root the directory to expose; any {@link java.nio.file.FileSystem} works, the attribute
     *     views it supports decide how faithful {@code stat} is (best with {@code "unix"}); what it
     *     does beyond {@code java.nio.file} is declared in {@link FuseOptions#capabilities}
     * @param mountPoint an existing, empty directory on the local file system
     * @param options mount options
     * @return the mounted file system; close it to unmount
     * @throws IOException with a message starting "FUSE is not available: " (ending in "install
     *     fuse3") if {@code /dev/fuse}, libfuse3 or fusermount3 is missing, so callers can fall
     *     back; {@link NotDirectoryException} if {@code root} or {@code mountPoint} is not a
     *     directory; {@link DirectoryNotEmptyException} if {@code mountPoint} is not empty; or an
     *     {@code IOException} naming both paths if libfuse refuses the mount
     * @throws NullPointerException if an argument is null
     */
    public static FuseMount mount(Path root, Path mountPoint, FuseOptions options) throws IOException {
        Objects.requireNonNull(root, "root");
        Objects.requireNonNull(mountPoint, "mountPoint");
        Objects.requireNonNull(options, "options");
        String reason = unavailableReason();
        if (reason != null) {
            throw new IOException("FUSE is not available: " + reason + "; install fuse3");
        }
        if (!Files.isDirectory(root)) {
            throw new NotDirectoryException(root.toString());
        }
        Path mp = mountPoint.toAbsolutePath();
        if (!Files.isDirectory(mp)) {
            throw new NotDirectoryException(mp.toString());
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(mp)) {
            if (ds.iterator().hasNext()) {
                throw new DirectoryNotEmptyException(mp.toString());
            }
        }

        FuseBuilder builder;
        try {
            builder = Fuse.builder();
        } catch (UnsupportedOperationException e) {
            throw new IOException(
                    "FUSE is not available: jfuse does not support this platform (" + System.getProperty("os.name")
                            + "/" + System.getProperty("os.arch") + "); install fuse3",
                    e);
        }
        builder.setLibraryPath(NativeFuse.libraryPath());
        PathFuseOperations ops = new PathFuseOperations(root, options, builder.errno(), Clock.systemUTC());
        Fuse fuse;
        try {
            fuse = builder.build(ops);
        } catch (UnsatisfiedLinkError | IllegalCallerException e) {
            throw new IOException(
                    "FUSE is not available: cannot load libfuse3 (" + e.getMessage()
                            + "); run with --enable-native-access=ALL-UNNAMED and install fuse3",
                    e);
        }
        ReadLease lease = options.cacheTimeout().isZero()
                ? null
                : HoldfastFiles.readLease(root.getFileSystem()).orElse(null);
        Arena upcalls = Arena.ofShared();
        NativeFuse.bindLink(fuse, upcalls, ops::link);
        NativeFuse.bindFallocate(fuse, upcalls, ops::fallocate);
        NativeFuse.bindLseek(fuse, upcalls, ops::lseek);
        NativeFuse.bindMknod(fuse, upcalls, ops::mknod);
        try {
            fuse.mount("holdfast", mp, flags(options, lease != null).toArray(String[]::new));
        } catch (FuseMountFailedException | IllegalArgumentException | IllegalStateException e) {
            closeQuietly(fuse);
            upcalls.close();
            throw new IOException("FUSE mount of " + root + " at " + mp + " failed: " + e.getMessage(), e);
        }
        KernelCache kernelCache = null;
        if (lease != null) {
            NativeFuse.KernelCacheControl control = ops.kernelCacheControl();
            if (control == null) {
                LOG.log(System.Logger.Level.WARNING, "libfuse's session is not reachable: the kernel caches nothing");
            } else {
                kernelCache = KernelCache.start(control, lease, options.cacheTimeout(), ops);
            }
        }
        LOG.log(System.Logger.Level.DEBUG, "mounted " + root + " at " + mp);
        return new FuseMount(root, mp, fuse, upcalls, ops, kernelCache);
    }

    /**
     * The command line of the mount.
     *
     * @param leased whether the kernel caches under a read lease ({@link KernelCache}): replies
     *     start with no validity, which the lease raises while it holds
     */
    static List<String> flags(FuseOptions o, boolean leased) {
        long millis = leased ? 0 : o.cacheTimeout().toMillis();
        String t = String.format(Locale.ROOT, "%.3f", millis / 1000.0);
        List<String> f = new ArrayList<>();
        f.add("-o");
        f.add("fsname=" + o.fsName() + ",subtype=holdfast,default_permissions,auto_unmount,auto_cache"
                + ",attr_timeout=" + t + ",entry_timeout=" + t + ",negative_timeout=" + t
                + (o.allowOther() ? ",allow_other" : "")
                + (o.readOnly() ? ",ro" : ""));
        if (o.debug()) {
            f.add("-d");
        }
        return f;
    }

    private static void closeQuietly(Fuse fuse) {
        try {
            fuse.close();
        } catch (TimeoutException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "closing failed FUSE session", e);
        }
    }

    /** The directory being served. */
    public Path root() {
        return root;
    }

    /** The absolute mount point. */
    public Path mountPoint() {
        return mountPoint;
    }

    /** Whether {@link #close()} has been called. */
    public synchronized boolean isClosed() {
        return state == State.CLOSED;
    }

    /**
     * Unmounts (lazily if the mount is busy), stops the FUSE loop and closes every file handle
     * still open. Idempotent: later calls return immediately.
     *
     * <p>Blocks until the FUSE loop has exited (at most about 10 s).
     *
     * @throws IOException if the FUSE loop did not stop in time; the mount is then left to
     *     {@code auto_unmount} and its native resources are not released
     */
    @Override
    public synchronized void close() throws IOException {
        if (state == State.CLOSED) {
            return;
        }
        state = State.CLOSED;
        if (kernelCache != null) {
            kernelCache.close();
        }
        try {
            fuse.close();
        } catch (TimeoutException e) {
            throw new IOException("FUSE loop for " + mountPoint + " did not stop within 10 s", e);
        } finally {
            ops.closeAll();
        }
        upcalls.close();
    }

    @Override
    public String toString() {
        return "FuseMount[" + root + " at " + mountPoint + (isClosed() ? ", closed]" : "]");
    }
}
