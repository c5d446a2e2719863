package io.holdfast.protocol;

/**
 * The attributes of one inode, as POSIX {@code stat(2)} reports them.
 *
 * @param inode the inode number, unique within a volume and never reused
 * @param type file, directory or symbolic link
 * @param mode permission bits only ({@code 07777}); add {@link FileType#formatBits()} for
 *     {@code st_mode}
 * @param nlink number of hard links (directories: 2 + number of subdirectories)
 * @param uid owner user id
 * @param gid owner group id
 * @param size size in bytes (symbolic links: length of the target)
 * @param atimeNanos last access, nanoseconds since the epoch
 * @param mtimeNanos last modification of content, nanoseconds since the epoch
 * @param ctimeNanos last change of attributes or content, nanoseconds since the epoch
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
    long ctimeNanos) {

  /** Full {@code st_mode}: format bits plus permission bits. */
  public int stMode() {
    return type.formatBits() | (mode & 07777);
  }

  /** Whether this is a directory. */
  public boolean isDirectory() {
    return type == FileType.DIRECTORY;
  }
}
