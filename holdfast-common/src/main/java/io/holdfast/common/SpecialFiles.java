package io.holdfast.common;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.time.Instant;

/**
 * Creating special files (FIFOs, device nodes, UNIX-domain socket names) on any {@link Path}
 * that can hold them, which {@code java.nio.file} has no call for.
 *
 * <p>Spec followed: POSIX {@code mknod(2)}, Linux values of the {@code S_IF*} bits and of
 * {@code dev_t}. A path whose provider is a {@link SpecialFileProvider} (Holdfast's) is handed
 * to it; a path of the JVM's default file system is created with libc's {@code mknod(2)}
 * through the FFM API (device nodes then need {@code CAP_MKNOD}, as always; the JVM should run
 * with {@code --enable-native-access=ALL-UNNAMED} to avoid a warning); any other file system
 * cannot hold them.
 *
 * <p>Thread safety: stateless; all methods may be called from any thread.
 */
public final class SpecialFiles {
    private static final MethodHandle MKNOD;
    private static final MethodHandle UTIMENSAT;
    private static final int AT_FDCWD = -100;
    private static final int AT_SYMLINK_NOFOLLOW = 0x100;
    /** {@code tv_nsec} that leaves a time unchanged (Linux {@code UTIME_OMIT}). */
    private static final long UTIME_OMIT = (1L << 30) - 2;

    private static final StructLayout CALL_STATE;
    private static final VarHandle ERRNO;

    static {
        MethodHandle mknod = null;
        MethodHandle utimensat = null;
        StructLayout state = null;
        VarHandle errno = null;
        try {
            Linker linker = Linker.nativeLinker();
            Linker.Option capture = Linker.Option.captureCallState("errno");
            state = Linker.Option.captureStateLayout();
            errno = state.varHandle(MemoryLayout.PathElement.groupElement("errno"));
            mknod = linker.defaultLookup()
                    .find("mknod")
                    .map(a -> linker.downcallHandle(
                            a,
                            FunctionDescriptor.of(
                                    ValueLayout.JAVA_INT,
                                    ValueLayout.ADDRESS,
                                    ValueLayout.JAVA_INT,
                                    ValueLayout.JAVA_LONG),
                            capture))
                    .orElse(null);
            utimensat = linker.defaultLookup()
                    .find("utimensat")
                    .map(a -> linker.downcallHandle(
                            a,
                            FunctionDescriptor.of(
                                    ValueLayout.JAVA_INT,
                                    ValueLayout.JAVA_INT,
                                    ValueLayout.ADDRESS,
                                    ValueLayout.ADDRESS,
                                    ValueLayout.JAVA_INT),
                            capture))
                    .orElse(null);
        } catch (RuntimeException | LinkageError e) {
            System.getLogger(SpecialFiles.class.getName()).log(System.Logger.Level.DEBUG, "libc mknod unavailable", e);
        }
        MKNOD = mknod;
        UTIMENSAT = utimensat;
        CALL_STATE = state;
        ERRNO = errno;
    }

    private SpecialFiles() {}

    /**
     * Whether {@link #mknod} can work for {@code path}'s file system: its provider is a
     * {@link SpecialFileProvider}, or it is the default file system and libc's {@code mknod} was
     * found. (Whether the caller is allowed is another matter.)
     */
    public static boolean supported(Path path) {
        return path.getFileSystem().provider() instanceof SpecialFileProvider
                || (path.getFileSystem() == FileSystems.getDefault() && MKNOD != null);
    }

    /**
     * Creates a special file at {@code path}, as POSIX {@code mknod(2)}, with exactly the
     * permission bits of {@code mode}: on the local disk the process umask is undone by a
     * {@code chmod} afterwards (the caller applies its own umask, as the kernel does before a FUSE
     * request reaches the file system).
     *
     * @param mode full {@code st_mode}: type bits ({@code S_IFIFO 0010000}, {@code S_IFCHR
     *     0020000}, {@code S_IFBLK 0060000}, {@code S_IFSOCK 0140000}) and permission bits
     *     ({@code 07777})
     * @param rdev device number of a character or block device in the Linux {@code dev_t}
     *     encoding; ignored for other types
     * @throws FileAlreadyExistsException if {@code path} exists
     * @throws NoSuchFileException if its parent does not exist
     * @throws AccessDeniedException if the caller may not create it (no write permission on the
     *     parent; a device node without privilege)
     * @throws UnsupportedOperationException if {@code path}'s file system cannot hold special
     *     files ({@link #supported} is false)
     * @throws IOException for other failures; {@link ErrnoFileSystemException} when the errno is
     *     one Holdfast knows
     */
    public static void mknod(Path path, int mode, long rdev) throws IOException {
        if (path.getFileSystem().provider() instanceof SpecialFileProvider p) {
            p.mknod(path, mode, rdev);
            return;
        }
        if (path.getFileSystem() != FileSystems.getDefault() || MKNOD == null) {
            throw new UnsupportedOperationException("the file system of " + path + " cannot hold special files");
        }
        String name = path.toString();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) MKNOD.invokeExact(state, arena.allocateFrom(name), mode, rdev);
            if (rc != 0) {
                throw exception((int) ERRNO.get(state, 0L), name);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException("mknod " + name + " failed", t);
        }
        int perms = mode & 07777;
        int actual = ((Number) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS)).intValue() & 07777;
        if (actual != perms) {
            Files.setAttribute(path, "unix:mode", perms); // not a link: mknod just made it
        }
    }

    /**
     * Sets the modification and access times of {@code path} itself (a final symbolic link is not
     * followed), as {@link java.nio.file.attribute.BasicFileAttributeView#setTimes} does, but
     * without opening the file: the JDK's provider opens it first, which blocks on a FIFO until a
     * writer comes. On the default file system this is POSIX {@code utimensat(2)} with
     * {@code AT_SYMLINK_NOFOLLOW}; elsewhere the file system's basic view (Holdfast's does not
     * open the file).
     *
     * @param mtime new modification time, or null to leave it
     * @param atime new access time, or null to leave it
     * @throws NoSuchFileException if {@code path} does not exist
     * @throws AccessDeniedException if the caller may not set them
     * @throws IOException for other failures
     */
    public static void setTimes(Path path, FileTime mtime, FileTime atime) throws IOException {
        if (path.getFileSystem() != FileSystems.getDefault() || UTIMENSAT == null) {
            Files.getFileAttributeView(path, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                    .setTimes(mtime, atime, null);
            return;
        }
        String name = path.toString();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment times = arena.allocate(ValueLayout.JAVA_LONG, 4);
            setTimespec(times, 0, atime);
            setTimespec(times, 2, mtime);
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) UTIMENSAT.invokeExact(state, AT_FDCWD, arena.allocateFrom(name), times, AT_SYMLINK_NOFOLLOW);
            if (rc != 0) {
                throw exception((int) ERRNO.get(state, 0L), name);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException("utimensat " + name + " failed", t);
        }
    }

    private static void setTimespec(MemorySegment times, int index, FileTime t) {
        if (t == null) {
            times.setAtIndex(ValueLayout.JAVA_LONG, index, 0);
            times.setAtIndex(ValueLayout.JAVA_LONG, index + 1, UTIME_OMIT);
            return;
        }
        Instant i = t.toInstant();
        times.setAtIndex(ValueLayout.JAVA_LONG, index, i.getEpochSecond());
        times.setAtIndex(ValueLayout.JAVA_LONG, index + 1, i.getNano());
    }

    private static IOException exception(int errno, String file) {
        return switch (errno) {
            case 17 -> new FileAlreadyExistsException(file);
            case 2 -> new NoSuchFileException(file);
            case 20 -> new NotDirectoryException(file);
            case 1, 13 ->
                new AccessDeniedException(file, null, errno == 1 ? "Operation not permitted" : "Permission denied");
            default -> {
                try {
                    yield new ErrnoFileSystemException(file, null, Errno.fromCode(errno), "mknod failed");
                } catch (IllegalArgumentException unknown) {
                    yield new FileSystemException(file, null, "mknod failed with errno " + errno);
                }
            }
        };
    }
}
