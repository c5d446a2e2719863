package io.holdfast.fuse;

import io.holdfast.common.Caller;
import io.holdfast.protocol.Limits;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BiFunction;
import org.cryptomator.jfuse.api.Fuse;
import org.cryptomator.jfuse.api.FuseConfig;
import org.cryptomator.jfuse.api.Stat;

/**
 * The few libfuse3 facilities jfuse 0.7.3 does not expose, reached through the FFM API.
 *
 * <ul>
 *   <li>locating {@code libfuse3.so.3} (Debian ships no unversioned {@code libfuse3.so});
 *   <li>{@code fuse_get_context()} / {@code fuse_getgroups()} for the caller's credentials;
 *   <li>the {@code link} and {@code mknod} slots of {@code struct fuse_operations}, which jfuse
 *       never binds;
 *   <li>the {@code fallocate} and {@code lseek} slots (libfuse &ge; 3.8), which jfuse never binds
 *       either, with the file handle read from {@code struct fuse_file_info};
 *   <li>{@code st_ino}, 64-bit {@code st_nlink}, {@code st_blocks}, {@code st_blksize} and
 *       {@code st_rdev} of {@code struct stat}, for which jfuse's {@link Stat} has no setters.
 * </ul>
 *
 * <p>Everything here is best effort: if jfuse's internals are not reachable (for example when it
 * runs on the module path without {@code --add-opens}), the feature is reported as unavailable
 * and the adapter degrades (no hard links, inode numbers assigned by libfuse). Layouts are those
 * of Linux x86-64 glibc, the only platform jfuse-linux-amd64 supports.
 *
 * <p>Thread safety: all methods may be called concurrently after class initialisation.
 */
final class NativeFuse {
    private static final System.Logger LOG = System.getLogger(NativeFuse.class.getName());

    /** Where Debian/Ubuntu and Fedora put the versioned runtime library. */
    static final List<String> LIBRARY_CANDIDATES = List.of(
            "/usr/lib/x86_64-linux-gnu/libfuse3.so.3",
            "/lib/x86_64-linux-gnu/libfuse3.so.3",
            "/usr/lib64/libfuse3.so.3",
            "/usr/lib/libfuse3.so.3",
            "/usr/local/lib/libfuse3.so.3",
            "/usr/local/lib/x86_64-linux-gnu/libfuse3.so.3");

    // struct stat, x86-64 glibc
    private static final long ST_INO = 8;
    private static final long ST_NLINK = 16;
    private static final long ST_RDEV = 40;
    private static final long ST_BLKSIZE = 56;
    private static final long ST_BLOCKS = 64;
    private static final long STAT_SIZE = 144;
    // struct fuse_context: fuse*, uid_t uid, gid_t gid, pid_t pid, void* private_data, mode_t umask
    private static final long CTX_UID = 8;
    private static final long CTX_GID = 12;
    private static final long CTX_PID = 16;
    private static final long CTX_SIZE = 40;
    /** Offset of {@code link} in {@code struct fuse_operations} (9th pointer). */
    private static final long LINK_OFFSET_FALLBACK = 8 * 8;
    /** Offset of {@code mknod} in {@code struct fuse_operations} (3rd pointer). */
    private static final long MKNOD_OFFSET_FALLBACK = 2 * 8;

    private static final MethodHandle FUSE_GET_CONTEXT;
    private static final MethodHandle FUSE_GETGROUPS;
    private static final MethodHandle LINK_UPCALL;
    private static final MethodHandle MKNOD_UPCALL;

    static {
        MethodHandle ctx = null;
        MethodHandle groups = null;
        String lib = libraryPath();
        if (lib != null) {
            try {
                SymbolLookup lookup = SymbolLookup.libraryLookup(Path.of(lib), Arena.global());
                Linker linker = Linker.nativeLinker();
                ctx = lookup.find("fuse_get_context")
                        .map(a -> linker.downcallHandle(a, FunctionDescriptor.of(ValueLayout.ADDRESS)))
                        .orElse(null);
                groups = lookup.find("fuse_getgroups")
                        .map(a -> linker.downcallHandle(
                                a,
                                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS)))
                        .orElse(null);
            } catch (RuntimeException | LinkageError e) {
                LOG.log(System.Logger.Level.DEBUG, "libfuse3 context functions unavailable", e);
            }
        }
        FUSE_GET_CONTEXT = ctx;
        FUSE_GETGROUPS = groups;
        try {
            LINK_UPCALL = MethodHandles.lookup()
                    .findStatic(
                            NativeFuse.class,
                            "linkUpcall",
                            MethodType.methodType(
                                    int.class, BiFunction.class, MemorySegment.class, MemorySegment.class));
            MKNOD_UPCALL = MethodHandles.lookup()
                    .findStatic(
                            NativeFuse.class,
                            "mknodUpcall",
                            MethodType.methodType(int.class, Mknod.class, MemorySegment.class, int.class, long.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static volatile Method statSegmentAccessor;
    private static volatile boolean statSegmentBroken;

    private NativeFuse() {}

    /** The first existing libfuse3 runtime library, or null if none is installed. */
    static String libraryPath() {
        for (String c : LIBRARY_CANDIDATES) {
            if (Files.isReadable(Path.of(c))) {
                return c;
            }
        }
        return null;
    }

    /**
     * The credentials of the process that issued the request being served on this thread, or null
     * if libfuse cannot tell (not on a FUSE worker thread, or the symbols are missing).
     *
     * @param withGroups whether to read supplementary groups (costs a {@code /proc} read: open,
     *     read and close of {@code /proc/PID/task/TID/status}, 9% of the mount's CPU under maildir
     *     delivery). Never read for root (uid 0): every permission check passes for root without
     *     them ({@code Permissions.may} and the set-id rules of the brick), so root gets none.
     */
    static Caller currentCaller(boolean withGroups) {
        if (FUSE_GET_CONTEXT == null) {
            return null;
        }
        try {
            MemorySegment ctx = (MemorySegment) FUSE_GET_CONTEXT.invokeExact();
            if (ctx.equals(MemorySegment.NULL)) {
                return null;
            }
            ctx = ctx.reinterpret(CTX_SIZE);
            int uid = ctx.get(ValueLayout.JAVA_INT, CTX_UID);
            int gid = ctx.get(ValueLayout.JAVA_INT, CTX_GID);
            int pid = ctx.get(ValueLayout.JAVA_INT, CTX_PID);
            int[] groups = new int[0];
            if (withGroups && uid != 0 && FUSE_GETGROUPS != null && pid > 0) {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment list = arena.allocate(ValueLayout.JAVA_INT, Limits.MAX_GROUPS);
                    int n = (int) FUSE_GETGROUPS.invokeExact(Limits.MAX_GROUPS, list);
                    if (n > 0) {
                        groups = list.asSlice(0, 4L * Math.min(n, Limits.MAX_GROUPS))
                                .toArray(ValueLayout.JAVA_INT);
                    }
                }
            }
            return new Caller(uid, gid, groups);
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.DEBUG, "fuse_get_context failed", t);
            return null;
        }
    }

    /**
     * Installs {@code link(from, to)} into jfuse's {@code fuse_operations} struct before mounting.
     * The callback receives (existing path, new link path) and returns 0 or a negative errno; it
     * must not throw (it is wrapped anyway).
     *
     * @param arena owns the upcall stub; must stay open until the FUSE session is destroyed
     * @return whether the slot was installed
     */
    static boolean bindLink(Fuse fuse, Arena arena, BiFunction<String, String, Integer> link) {
        return bindSlot(
                fuse,
                arena,
                "link",
                LINK_OFFSET_FALLBACK,
                LINK_UPCALL.bindTo(link),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS),
                "hard links will fail with ENOSYS");
    }

    /** The libfuse3 {@code mknod(const char *path, mode_t mode, dev_t rdev)} callback. */
    @FunctionalInterface
    interface Mknod {
        /**
         * Creates a node.
         *
         * @param mode full {@code st_mode} (an unsigned 32-bit {@code mode_t})
         * @param rdev the device number (a 64-bit {@code dev_t})
         * @return 0 or a negative errno
         */
        int mknod(String path, int mode, long rdev);
    }

    /**
     * Installs {@code mknod(path, mode, rdev)} into jfuse's {@code fuse_operations} struct before
     * mounting: jfuse 0.7.3's {@code FuseOperations.mknod(String, short, int)} is never bound (and
     * its types would cut {@code S_IFSOCK} and 64-bit device numbers). libfuse calls it for FIFOs,
     * sockets and device nodes ({@code S_IFREG} goes to {@code create}, which is bound).
     *
     * @param arena owns the upcall stub; must stay open until the FUSE session is destroyed
     * @return whether the slot was installed
     */
    static boolean bindMknod(Fuse fuse, Arena arena, Mknod mknod) {
        return bindSlot(
                fuse,
                arena,
                "mknod",
                MKNOD_OFFSET_FALLBACK,
                MKNOD_UPCALL.bindTo(mknod),
                FunctionDescriptor.of(
                        ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG),
                "mkfifo, mknod and socket bind will fail with ENOSYS");
    }

    private static boolean bindSlot(
            Fuse fuse,
            Arena arena,
            String slot,
            long fallbackOffset,
            MethodHandle target,
            FunctionDescriptor descriptor,
            String consequence) {
        try {
            Field f = Fuse.class.getDeclaredField("fuseOperationsStruct");
            f.setAccessible(true);
            MemorySegment ops = (MemorySegment) f.get(fuse);
            long offset = slotOffset(slot, fallbackOffset);
            if (offset + 8 > ops.byteSize()) {
                return false;
            }
            MemorySegment stub = Linker.nativeLinker().upcallStub(target, descriptor, arena);
            ops.set(ValueLayout.ADDRESS, offset, stub);
            return true;
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot bind FUSE " + slot + "(); " + consequence, e);
            return false;
        }
    }

    private static long slotOffset(String slot, long fallback) {
        try {
            Class<?> c = Class.forName("org.cryptomator.jfuse.linux.amd64.extr.fuse3.fuse_operations");
            Method layout = c.getDeclaredMethod("layout");
            layout.setAccessible(true);
            GroupLayout g = (GroupLayout) layout.invoke(null);
            return g.byteOffset(MemoryLayout.PathElement.groupElement(slot));
        } catch (ReflectiveOperationException | RuntimeException e) {
            return fallback;
        }
    }

    private static int mknodUpcall(Mknod fn, MemorySegment path, int mode, long rdev) {
        try {
            return fn.mknod(path.reinterpret(Long.MAX_VALUE).getString(0), mode, rdev);
        } catch (Throwable t) {
            return -Errnos.EIO;
        }
    }

    private static int linkUpcall(BiFunction<String, String, Integer> fn, MemorySegment from, MemorySegment to) {
        try {
            return fn.apply(
                    from.reinterpret(Long.MAX_VALUE).getString(0),
                    to.reinterpret(Long.MAX_VALUE).getString(0));
        } catch (Throwable t) {
            return -Errnos.EIO;
        }
    }

    // ---- fallocate and lseek (slots jfuse 0.7.3 declares in its struct but never binds)

    /** {@code fallocate(path, mode, offset, length, fi)}; returns 0 or a negative errno. */
    @FunctionalInterface
    interface FallocateCallback {
        /**
         * @param fh the handle {@code open}/{@code create} stored in {@code fi->fh}, or -1 without one
         */
        int fallocate(String path, int mode, long offset, long length, long fh);
    }

    /** {@code lseek(path, offset, whence, fi)}; returns the new offset or a negative errno. */
    @FunctionalInterface
    interface LseekCallback {
        /**
         * @param fh the handle in {@code fi->fh}, or -1 without one
         */
        long lseek(String path, long offset, int whence, long fh);
    }

    /** Offsets in libfuse 3.14's {@code struct fuse_operations} and {@code struct fuse_file_info}. */
    private static final long FALLOCATE_OFFSET_FALLBACK = 312;

    private static final long LSEEK_OFFSET_FALLBACK = 328;
    private static final long FI_FH_FALLBACK = 16;
    private static final long FI_FH = fileInfoFhOffset();

    /**
     * Installs {@code fallocate} into jfuse's {@code fuse_operations} struct before mounting. The
     * callback must not throw (it is wrapped anyway: a throwable gives {@code -EIO}).
     *
     * @param arena owns the upcall stub; must stay open until the FUSE session is destroyed
     * @return whether the slot was installed (without it the kernel answers EOPNOTSUPP)
     */
    static boolean bindFallocate(Fuse fuse, Arena arena, FallocateCallback callback) {
        try {
            MethodHandle target = MethodHandles.lookup()
                    .findStatic(
                            NativeFuse.class,
                            "fallocateUpcall",
                            MethodType.methodType(
                                    int.class,
                                    FallocateCallback.class,
                                    MemorySegment.class,
                                    int.class,
                                    long.class,
                                    long.class,
                                    MemorySegment.class))
                    .bindTo(callback);
            return bindSlot(
                    fuse,
                    arena,
                    "fallocate",
                    FALLOCATE_OFFSET_FALLBACK,
                    target,
                    FunctionDescriptor.of(
                            ValueLayout.JAVA_INT,
                            ValueLayout.ADDRESS,
                            ValueLayout.JAVA_INT,
                            ValueLayout.JAVA_LONG,
                            ValueLayout.JAVA_LONG,
                            ValueLayout.ADDRESS));
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot bind FUSE fallocate(); it will fail with EOPNOTSUPP", e);
            return false;
        }
    }

    /**
     * Installs {@code lseek} into jfuse's {@code fuse_operations} struct before mounting. libfuse
     * passes only SEEK_DATA and SEEK_HOLE on (the kernel answers the other whences itself).
     *
     * @param arena owns the upcall stub; must stay open until the FUSE session is destroyed
     * @return whether the slot was installed (without it the kernel treats the whole file as data)
     */
    static boolean bindLseek(Fuse fuse, Arena arena, LseekCallback callback) {
        try {
            MethodHandle target = MethodHandles.lookup()
                    .findStatic(
                            NativeFuse.class,
                            "lseekUpcall",
                            MethodType.methodType(
                                    long.class,
                                    LseekCallback.class,
                                    MemorySegment.class,
                                    long.class,
                                    int.class,
                                    MemorySegment.class))
                    .bindTo(callback);
            return bindSlot(
                    fuse,
                    arena,
                    "lseek",
                    LSEEK_OFFSET_FALLBACK,
                    target,
                    FunctionDescriptor.of(
                            ValueLayout.JAVA_LONG,
                            ValueLayout.ADDRESS,
                            ValueLayout.JAVA_LONG,
                            ValueLayout.JAVA_INT,
                            ValueLayout.ADDRESS));
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot bind FUSE lseek(); SEEK_HOLE will see no holes", e);
            return false;
        }
    }

    private static boolean bindSlot(
            Fuse fuse, Arena arena, String slot, long fallback, MethodHandle target, FunctionDescriptor descriptor)
            throws ReflectiveOperationException {
        Field f = Fuse.class.getDeclaredField("fuseOperationsStruct");
        f.setAccessible(true);
        MemorySegment ops = (MemorySegment) f.get(fuse);
        long offset = structOffset("fuse_operations", slot, fallback);
        if (offset + 8 > ops.byteSize()) {
            return false;
        }
        ops.set(ValueLayout.ADDRESS, offset, Linker.nativeLinker().upcallStub(target, descriptor, arena));
        return true;
    }

    private static long structOffset(String struct, String field, long fallback) {
        try {
            Class<?> c = Class.forName("org.cryptomator.jfuse.linux.amd64.extr.fuse3." + struct);
            Method layout = c.getDeclaredMethod("layout");
            layout.setAccessible(true);
            GroupLayout g = (GroupLayout) layout.invoke(null);
            return g.byteOffset(MemoryLayout.PathElement.groupElement(field));
        } catch (ReflectiveOperationException | RuntimeException e) {
            return fallback;
        }
    }

    private static long fileInfoFhOffset() {
        return structOffset("fuse_file_info", "fh", FI_FH_FALLBACK);
    }

    private static String pathOf(MemorySegment p) {
        return p.equals(MemorySegment.NULL)
                ? null
                : p.reinterpret(Long.MAX_VALUE).getString(0);
    }

    private static long fhOf(MemorySegment fi) {
        return fi.equals(MemorySegment.NULL) ? -1 : fi.reinterpret(FI_FH + 8).get(ValueLayout.JAVA_LONG, FI_FH);
    }

    private static int fallocateUpcall(
            FallocateCallback cb, MemorySegment path, int mode, long offset, long length, MemorySegment fi) {
        try {
            return cb.fallocate(pathOf(path), mode, offset, length, fhOf(fi));
        } catch (Throwable t) {
            return -Errnos.EIO;
        }
    }

    private static long lseekUpcall(LseekCallback cb, MemorySegment path, long offset, int whence, MemorySegment fi) {
        try {
            return cb.lseek(pathOf(path), offset, whence, fhOf(fi));
        } catch (Throwable t) {
            return -Errnos.EIO;
        }
    }

    /**
     * Writes the fields jfuse's {@link Stat} cannot set. Silently does nothing if the underlying
     * {@code struct stat} is not reachable.
     */
    static void setStatExtras(Stat stat, long ino, long nlink, long blocks512, long rdev) {
        MemorySegment seg = statSegment(stat);
        if (seg == null) {
            return;
        }
        seg.set(ValueLayout.JAVA_LONG, ST_INO, ino);
        seg.set(ValueLayout.JAVA_LONG, ST_NLINK, nlink);
        seg.set(ValueLayout.JAVA_LONG, ST_RDEV, rdev);
        seg.set(ValueLayout.JAVA_LONG, ST_BLKSIZE, 4096);
        seg.set(ValueLayout.JAVA_LONG, ST_BLOCKS, blocks512);
    }

    /**
     * Sets {@code fuse_config.use_ino = 1} from {@code init()}: libfuse3 no longer accepts
     * {@code -o use_ino}, and jfuse's {@link org.cryptomator.jfuse.api.FuseConfig} is read-only.
     *
     * @return whether the flag was set
     */
    static boolean enableUseIno(FuseConfig cfg) {
        try {
            long off = structOffset("fuse_config", "use_ino", CONF_USE_INO_FALLBACK);
            configSegment(cfg, off + 4).set(ValueLayout.JAVA_INT, off, 1);
            return true;
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot set use_ino; inode numbers come from libfuse", e);
            return false;
        }
    }

    // ---- the kernel's caches of names and attributes (KernelCache)

    /** {@code FUSE_NOTIFY_INC_EPOCH} (FUSE protocol 7.44, Linux 6.16): every cached name is stale. */
    private static final int FUSE_NOTIFY_INC_EPOCH = 8;
    /** {@code struct fuse_out_header}: uint32 len, int32 error (the notification code), uint64 unique (0). */
    private static final int OUT_HEADER_BYTES = 16;

    /** Offsets in libfuse 3.14's {@code struct fuse_config}. */
    private static final long CONF_USE_INO_FALLBACK = 64;

    private static final long CONF_ENTRY_TIMEOUT_FALLBACK = 24;
    private static final long CONF_ATTR_TIMEOUT_FALLBACK = 40;

    /**
     * What a mount needs to let the kernel cache names and attributes and to take them back: the
     * session's {@code struct fuse_config} (whose {@code entry_timeout} and {@code attr_timeout}
     * libfuse reads at every reply, so changing them changes what later replies say), and the
     * session's {@code /dev/fuse} descriptor and {@code struct fuse} for notifications.
     *
     * <p>Thread-safe: the timeouts are aligned 8-byte stores (single copy atomic on x86-64), and
     * libfuse and the kernel take notifications from any thread.
     */
    static final class KernelCacheControl {
        private final MemorySegment conf;
        private final long entryTimeout;
        private final long attrTimeout;
        private final MemorySegment fuse;
        private final int fd;
        private final MethodHandle invalidatePath;
        private final MethodHandle write;
        private final StructLayout callState = Linker.Option.captureStateLayout();

        private KernelCacheControl(
                MemorySegment conf,
                long entryTimeout,
                long attrTimeout,
                MemorySegment fuse,
                int fd,
                MethodHandle invalidatePath,
                MethodHandle write) {
            this.conf = conf;
            this.entryTimeout = entryTimeout;
            this.attrTimeout = attrTimeout;
            this.fuse = fuse;
            this.fd = fd;
            this.invalidatePath = invalidatePath;
            this.write = write;
        }

        /**
         * Sets how long the kernel may keep the names and attributes of later replies
         * ({@code entry_timeout} and {@code attr_timeout}; negative lookups are never cached).
         *
         * @param seconds at least 0
         */
        void timeouts(double seconds) {
            conf.set(ValueLayout.JAVA_DOUBLE, attrTimeout, seconds);
            conf.set(ValueLayout.JAVA_DOUBLE, entryTimeout, seconds);
        }

        /**
         * Makes every name the kernel caches for this mount stale ({@code FUSE_NOTIFY_INC_EPOCH}):
         * a path walk after this returns asks again ({@code FUSE_LOOKUP}) for every name, and the
         * answer refreshes the attributes of the inode it names.
         *
         * @return 0, or the errno of the refusal ({@code EINVAL} from a kernel older than 6.16,
         *     {@code ENOENT}/{@code EBADF} once unmounted)
         */
        int incrementEpoch() {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment header = arena.allocate(OUT_HEADER_BYTES, 8);
                header.set(ValueLayout.JAVA_INT, 0, OUT_HEADER_BYTES);
                header.set(ValueLayout.JAVA_INT, 4, FUSE_NOTIFY_INC_EPOCH);
                header.set(ValueLayout.JAVA_LONG, 8, 0L);
                MemorySegment state = arena.allocate(callState);
                long n = (long) write.invokeExact(state, fd, header, (long) OUT_HEADER_BYTES);
                if (n == OUT_HEADER_BYTES) {
                    return 0;
                }
                int errno = state.get(
                        ValueLayout.JAVA_INT, callState.byteOffset(MemoryLayout.PathElement.groupElement("errno")));
                return n < 0 ? Math.max(errno, 1) : Errnos.EIO;
            } catch (Throwable t) {
                return Errnos.EIO;
            }
        }

        /**
         * Makes the attributes (and page cache) of the inode libfuse knows under {@code fusePath}
         * stale ({@code fuse_invalidate_path}, libfuse &ge; 3.1): the next {@code fstat} or read of
         * an open file asks again.
         *
         * @param fusePath the absolute FUSE path, {@code "/a/b"}
         * @return 0, or a negative errno ({@code -ENOENT} if libfuse knows no such node)
         */
        int invalidatePath(String fusePath) {
            try (Arena arena = Arena.ofConfined()) {
                return (int) invalidatePath.invokeExact(fuse, arena.allocateFrom(fusePath));
            } catch (Throwable t) {
                return -Errnos.EIO;
            }
        }
    }

    /**
     * The kernel cache control of the session being initialised; call from {@code init()}, the
     * only callback that receives the {@code struct fuse_config}.
     *
     * @return the control, or null if libfuse's or jfuse's internals are not reachable
     */
    static KernelCacheControl kernelCacheControl(FuseConfig cfg) {
        String lib = libraryPath();
        if (lib == null || FUSE_GET_CONTEXT == null) {
            return null;
        }
        try {
            long entry = structOffset("fuse_config", "entry_timeout", CONF_ENTRY_TIMEOUT_FALLBACK);
            long attr = structOffset("fuse_config", "attr_timeout", CONF_ATTR_TIMEOUT_FALLBACK);
            MemorySegment conf = configSegment(cfg, Math.max(entry, attr) + 8);
            MemorySegment ctx = ((MemorySegment) FUSE_GET_CONTEXT.invokeExact()).reinterpret(CTX_SIZE);
            MemorySegment fuse = ctx.get(ValueLayout.ADDRESS, 0);
            if (fuse.equals(MemorySegment.NULL)) {
                return null;
            }
            Linker linker = Linker.nativeLinker();
            SymbolLookup lookup = SymbolLookup.libraryLookup(Path.of(lib), Arena.global());
            MethodHandle getSession = linker.downcallHandle(
                    lookup.find("fuse_get_session").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS));
            MethodHandle sessionFd = linker.downcallHandle(
                    lookup.find("fuse_session_fd").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
            MethodHandle invalidate = linker.downcallHandle(
                    lookup.find("fuse_invalidate_path").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
            MethodHandle write = linker.downcallHandle(
                    linker.defaultLookup().find("write").orElseThrow(),
                    FunctionDescriptor.of(
                            ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG),
                    Linker.Option.captureCallState("errno"));
            MemorySegment session = (MemorySegment) getSession.invokeExact(fuse);
            int fd = (int) sessionFd.invokeExact(session);
            if (fd < 0) {
                return null;
            }
            return new KernelCacheControl(conf, entry, attr, fuse, fd, invalidate, write);
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.WARNING, "cannot reach libfuse's session; the kernel will not cache names", t);
            return null;
        }
    }

    /**
     * The session's {@code struct fuse_config} behind jfuse's read-only {@link FuseConfig}, the
     * first {@code bytes} of it.
     *
     * @throws ReflectiveOperationException if jfuse's internals are not reachable
     */
    private static MemorySegment configSegment(FuseConfig cfg, long bytes) throws ReflectiveOperationException {
        Method m = cfg.getClass().getDeclaredMethod("segment");
        m.setAccessible(true);
        return ((MemorySegment) m.invoke(cfg)).reinterpret(bytes);
    }

    /** Whether {@link #setStatExtras} can write inode numbers (decides {@code -o use_ino}). */
    static boolean statExtrasSupported() {
        try {
            Class<?> c = Class.forName("org.cryptomator.jfuse.linux.amd64.StatImpl");
            c.getDeclaredMethod("segment").setAccessible(true);
            return !statSegmentBroken;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return false;
        }
    }

    private static MemorySegment statSegment(Stat stat) {
        if (statSegmentBroken) {
            return null;
        }
        try {
            Method m = statSegmentAccessor;
            if (m == null || m.getDeclaringClass() != stat.getClass()) {
                m = stat.getClass().getDeclaredMethod("segment");
                m.setAccessible(true);
                statSegmentAccessor = m;
            }
            MemorySegment seg = (MemorySegment) m.invoke(stat);
            return seg.byteSize() >= STAT_SIZE ? seg : seg.reinterpret(STAT_SIZE);
        } catch (ReflectiveOperationException | RuntimeException e) {
            statSegmentBroken = true;
            LOG.log(System.Logger.Level.WARNING, "cannot reach struct stat; inode numbers come from libfuse", e);
            return null;
        }
    }
}
