package io.holdfast.common;

import java.nio.file.FileSystemException;

/**
 * A {@link FileSystemException} that carries a POSIX error number, thrown by Holdfast's NIO
 * provider where the JDK has no dedicated exception (e.g. {@link Errno#ENAMETOOLONG},
 * {@link Errno#EROFS}, {@link Errno#ELOOP}). Adapters such as the FUSE mount read
 * {@link #errno()} to answer the kernel with the exact error.
 */
public class ErrnoFileSystemException extends FileSystemException {
    private static final long serialVersionUID = 1L;
    private final Errno errno;

    /**
     * Creates an exception.
     *
     * @param file the path involved, or null
     * @param other a second path involved (rename, link), or null
     * @param errno the error number
     * @param reason a message, or null
     */
    public ErrnoFileSystemException(String file, String other, Errno errno, String reason) {
        super(file, other, reason == null ? errno.name() : errno.name() + ": " + reason);
        this.errno = errno;
    }

    /** The POSIX error number. */
    public Errno errno() {
        return errno;
    }
}
