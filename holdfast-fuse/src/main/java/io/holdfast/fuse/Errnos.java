package io.holdfast.fuse;

import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.common.HoldfastException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.NonReadableChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;
import java.nio.file.ReadOnlyFileSystemException;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Translates Java exceptions into negative Linux errno values for the FUSE reply.
 *
 * <p>Only Linux x86-64 is supported by jfuse-linux-amd64, so the constants are the Linux values
 * (the same as {@link io.holdfast.common.Errno#code()}).
 *
 * <p>Thread safety: stateless except for the set of exception types already logged with a stack
 * trace, which is concurrent.
 */
final class Errnos {
    static final int EPERM = 1;
    static final int ENOENT = 2;
    static final int EIO = 5;
    static final int ENXIO = 6;
    static final int E2BIG = 7;
    static final int EBADF = 9;
    static final int EACCES = 13;
    static final int EBUSY = 16;
    static final int EEXIST = 17;
    static final int EXDEV = 18;
    static final int ENOTDIR = 20;
    static final int EISDIR = 21;
    static final int EINVAL = 22;
    static final int ETXTBSY = 26;
    static final int EFBIG = 27;
    static final int ENOSPC = 28;
    static final int EROFS = 30;
    static final int EMLINK = 31;
    static final int ERANGE = 34;
    static final int ENAMETOOLONG = 36;
    static final int ENOSYS = 38;
    static final int ENOTEMPTY = 39;
    static final int ELOOP = 40;
    static final int ENODATA = 61;
    static final int EOVERFLOW = 75;
    static final int ENOTSUP = 95;
    static final int ESTALE = 116;
    static final int EDQUOT = 122;

    /** glibc {@code strerror} texts, which the JDK puts into {@link FileSystemException#getReason()}. */
    private static final Map<String, Integer> STRERROR = Map.ofEntries(
            Map.entry("Operation not permitted", EPERM),
            Map.entry("No such file or directory", ENOENT),
            Map.entry("Input/output error", EIO),
            Map.entry("No such device or address", ENXIO),
            Map.entry("Argument list too long", E2BIG),
            Map.entry("Bad file descriptor", EBADF),
            Map.entry("Permission denied", EACCES),
            Map.entry("Device or resource busy", EBUSY),
            Map.entry("File exists", EEXIST),
            Map.entry("Invalid cross-device link", EXDEV),
            Map.entry("Not a directory", ENOTDIR),
            Map.entry("Is a directory", EISDIR),
            Map.entry("Invalid argument", EINVAL),
            Map.entry("Text file busy", ETXTBSY),
            Map.entry("File too large", EFBIG),
            Map.entry("No space left on device", ENOSPC),
            Map.entry("Read-only file system", EROFS),
            Map.entry("Too many links", EMLINK),
            Map.entry("Numerical result out of range", ERANGE),
            Map.entry("File name too long", ENAMETOOLONG),
            Map.entry("Function not implemented", ENOSYS),
            Map.entry("Directory not empty", ENOTEMPTY),
            Map.entry("Too many levels of symbolic links", ELOOP),
            Map.entry("No data available", ENODATA),
            Map.entry("Value too large for defined data type", EOVERFLOW),
            Map.entry("Operation not supported", ENOTSUP),
            Map.entry("Stale file handle", ESTALE),
            Map.entry("Disk quota exceeded", EDQUOT));

    private static final System.Logger LOG = System.getLogger(Errnos.class.getName());
    private static final Set<Class<?>> LOGGED_WITH_TRACE = ConcurrentHashMap.newKeySet();

    private Errnos() {}

    /**
     * Returns the negative errno for {@code t}, never 0. Unknown exceptions give {@code -EIO} and
     * are logged (one line naming the operation and path; the stack trace only the first time a
     * type is seen).
     */
    static int of(Throwable t, String op, String path) {
        int errno = errnoOf(t);
        if (errno == 0) {
            errno = EIO;
            if (LOGGED_WITH_TRACE.add(t.getClass())) {
                LOG.log(System.Logger.Level.WARNING, "FUSE " + op + " " + path + " failed with EIO", t);
            } else {
                LOG.log(System.Logger.Level.WARNING, "FUSE " + op + " " + path + " failed with EIO: " + t);
            }
        }
        return -errno;
    }

    /** The positive errno for a known exception, or 0 if it has no specific mapping. */
    static int errnoOf(Throwable t) {
        if (t instanceof UncheckedIOException u && u.getCause() != null) {
            return errnoOf(u.getCause());
        }
        if (t instanceof DirectoryIteratorException d && d.getCause() != null) {
            return errnoOf(d.getCause());
        }
        return switch (t) {
            case ErrnoFileSystemException e -> e.errno().code();
            case HoldfastException e -> e.errno().code();
            case NoSuchFileException e -> ENOENT;
            case FileAlreadyExistsException e -> EEXIST;
            case DirectoryNotEmptyException e -> ENOTEMPTY;
            case AccessDeniedException e -> EACCES;
            case NotDirectoryException e -> ENOTDIR;
            case NotLinkException e -> EINVAL;
            case FileSystemLoopException e -> ELOOP;
            case AtomicMoveNotSupportedException e -> EXDEV;
            case FileSystemException e -> fromReason(e.getReason());
            case ClosedChannelException e -> EBADF;
            case NonReadableChannelException e -> EBADF;
            case NonWritableChannelException e -> EBADF;
            case ReadOnlyFileSystemException e -> EROFS;
            case UnsupportedOperationException e -> ENOTSUP;
            case SecurityException e -> EACCES;
            case IllegalArgumentException e -> EINVAL;
            case IOException e -> e.getCause() != null && e.getCause() != e ? errnoOf(e.getCause()) : 0;
            default -> 0;
        };
    }

    /** Maps a strerror text (possibly with a JDK suffix such as " or unable to access ...") to errno. */
    static int fromReason(String reason) {
        if (reason == null) {
            return 0;
        }
        Integer exact = STRERROR.get(reason);
        if (exact != null) {
            return exact;
        }
        for (Map.Entry<String, Integer> e : STRERROR.entrySet()) {
            if (reason.startsWith(e.getKey())) {
                return e.getValue();
            }
        }
        return 0;
    }
}
