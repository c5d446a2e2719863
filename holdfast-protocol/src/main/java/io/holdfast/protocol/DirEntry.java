package io.holdfast.protocol;

/**
 * One entry of a directory listing.
 *
 * @param name the entry's name (not a path), at most {@link Limits#NAME_MAX} UTF-8 bytes
 * @param inode the inode it names
 * @param type the inode's type
 */
public record DirEntry(String name, long inode, FileType type) {}
