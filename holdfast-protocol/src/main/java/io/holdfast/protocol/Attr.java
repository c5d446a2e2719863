package io.holdfast.protocol;

/**
 * The attributes of one inode, as POSIX {@code stat(2)} reports them.
 *
 * @param inode the inode number, unique within a volume and never reused
 * @param type file, directory, symbolic link or special file
 * @param mode permission bits only ({@code 07777}); add {@link FileType#formatBits()} for
 *     {@code st_mode}
 * @param nlink number of hard links (directories: 2 + number of subdirectories)
 * @param uid owner user id
 * @param gid owner group id
 * @param size size in bytes (symbolic links: length of the target; special files: 0)
 * @param atimeNanos last access, nanoseconds since the epoch
 * @param mtimeNanos last modification of content, nanoseconds since the epoch
 * @param ctimeNanos last change of attributes or content, nanoseconds since the epoch
 * @param rdev the device number {@code st_rdev} of a character or block device, in the Linux
 *     {@code dev_t} encoding ({@code makedev(3)}: {@code major(3)} and {@code minor(3)} decode
 *     it), as given to {@code mknod(2)}; 0 for every other type
 */
public record Attr(
        long inode,
        FileType type,
        int mode,
        int nlink,
        int uid,
        int gid,
        long size,
        long atimeNanos,
        long mtimeNanos,
        long ctimeNanos,
        long rdev) {

    /** Attributes of an inode without a device number ({@code rdev} 0). */
    public Attr(
            long inode,
            FileType type,
            int mode,
            int nlink,
            int uid,
            int gid,
            long size,
            long atimeNanos,
            long mtimeNanos,
            long ctimeNanos) {
        this(inode, type, mode, nlink, uid, gid, size, atimeNanos, mtimeNanos, ctimeNanos, 0);
    }

    /** These attributes with device number {@code rdev}. */
    public Attr withRdev(long rdev) {
        return new Attr(inode, type, mode, nlink, uid, gid, size, atimeNanos, mtimeNanos, ctimeNanos, rdev);
    }

    /** Full {@code st_mode}: format bits plus permission bits. */
    public int stMode() {
        return type.formatBits() | (mode & 07777);
    }

    /** Whether this is a directory. */
    public boolean isDirectory() {
        return type == FileType.DIRECTORY;
    }
}
