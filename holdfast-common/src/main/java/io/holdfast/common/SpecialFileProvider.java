package io.holdfast.common;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A {@link java.nio.file.spi.FileSystemProvider} that can create special files (FIFOs, device
 * nodes, UNIX-domain socket names), which {@code java.nio.file} has no call for. Holdfast's
 * provider implements it; code that works on any {@link Path} (the FUSE adapter, {@code holdfast
 * cp}) checks {@code path.getFileSystem().provider() instanceof SpecialFileProvider}.
 */
public interface SpecialFileProvider {
    /**
     * Creates a special file, as POSIX {@code mknod(2)}.
     *
     * @param path the new file's path, of this provider
     * @param mode full {@code st_mode}: type bits ({@code S_IFIFO 0010000}, {@code S_IFCHR
     *     0020000}, {@code S_IFBLK 0060000}, {@code S_IFSOCK 0140000}; {@code S_IFREG} or none makes
     *     an empty regular file) and permission bits ({@code 07777}), used as given: no umask is
     *     applied (callers apply their own, as the kernel does before a FUSE request reaches the
     *     file system)
     * @param rdev device number of a character or block device in the Linux {@code dev_t} encoding
     *     ({@code makedev(3)}); ignored for other types
     * @throws java.nio.file.FileAlreadyExistsException if {@code path} exists
     * @throws java.nio.file.NoSuchFileException if its parent does not exist
     * @throws java.nio.file.AccessDeniedException if the caller may not write the parent, or
     *     (device nodes) is not privileged
     * @throws ErrnoFileSystemException {@link Errno#EINVAL} for type bits that name no file type,
     *     {@link Errno#EPERM} for a directory ({@code mkdir} makes those)
     * @throws IOException if the file system fails otherwise
     */
    void mknod(Path path, int mode, long rdev) throws IOException;
}
