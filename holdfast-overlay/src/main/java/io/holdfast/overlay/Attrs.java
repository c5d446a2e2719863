package io.holdfast.overlay;

import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Map;

/**
 * The attributes of one entry of one layer, read with a single {@code lstat}: from the {@code
 * "unix"} view where both layers have it (then {@link #unix} holds every name of {@link
 * Overlay#UNIX_ATTRS}), else from the basic view with a synthesized mode. Immutable.
 *
 * @param mode full {@code st_mode} (type bits and permission bits)
 * @param rdev device number of a device node, else 0
 * @param unix the {@code unix} view's values (names without the {@code "unix:"} prefix), or null
 * @param key the file key: identifies the entry within its layer
 */
record Attrs(
        int mode,
        long rdev,
        long size,
        FileTime atime,
        FileTime mtime,
        FileTime ctime,
        Map<String, Object> unix,
        Object key)
        implements BasicFileAttributes {
    static final int S_IFMT = 0170000;
    static final int S_IFDIR = 0040000;
    static final int S_IFREG = 0100000;
    static final int S_IFLNK = 0120000;
    static final int S_IFCHR = 0020000;

    static Attrs ofUnix(Map<String, Object> m, Object key) {
        Object rdev = m.get("rdev");
        return new Attrs(
                ((Number) m.get("mode")).intValue(),
                rdev instanceof Number n ? n.longValue() : 0,
                ((Number) m.get("size")).longValue(),
                (FileTime) m.get("lastAccessTime"),
                (FileTime) m.get("lastModifiedTime"),
                (FileTime) m.get("ctime"),
                m,
                key);
    }

    static Attrs ofBasic(BasicFileAttributes b) {
        int type = b.isDirectory() ? S_IFDIR : b.isSymbolicLink() ? S_IFLNK : b.isRegularFile() ? S_IFREG : 0;
        int perms = b.isDirectory() ? 0755 : b.isSymbolicLink() ? 0777 : 0644;
        return new Attrs(
                type | perms,
                0,
                b.size(),
                b.lastAccessTime(),
                b.lastModifiedTime(),
                b.lastModifiedTime(),
                null,
                b.fileKey());
    }

    int type() {
        return mode & S_IFMT;
    }

    /** Whether this is an overlayfs whiteout: a character device with device number 0/0. */
    boolean isWhiteout() {
        return type() == S_IFCHR && rdev == 0;
    }

    @Override
    public FileTime lastModifiedTime() {
        return mtime;
    }

    @Override
    public FileTime lastAccessTime() {
        return atime;
    }

    @Override
    public FileTime creationTime() {
        return mtime;
    }

    @Override
    public boolean isRegularFile() {
        return type() == S_IFREG;
    }

    @Override
    public boolean isDirectory() {
        return type() == S_IFDIR;
    }

    @Override
    public boolean isSymbolicLink() {
        return type() == S_IFLNK;
    }

    @Override
    public boolean isOther() {
        return !isRegularFile() && !isDirectory() && !isSymbolicLink();
    }

    @Override
    public Object fileKey() {
        return key;
    }
}
