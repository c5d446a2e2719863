package io.holdfast.common;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;

/**
 * The {@code stat(2)} fields of one file, read through {@code java.nio.file} from any file
 * system: the {@code "unix"} view when the file system has it (the JDK's on Linux, Holdfast's),
 * else {@code "posix"}, else basic attributes with a synthesized mode. Missing numbers are -1.
 * Immutable.
 *
 * @param inode {@code st_ino}
 * @param nlink {@code st_nlink}
 * @param uid {@code st_uid}
 * @param gid {@code st_gid}
 * @param size {@code st_size}, bytes
 * @param atime last access
 * @param mtime last modification
 * @param ctime last status change (the modification time where the file system has none)
 * @param mode full {@code st_mode}: file type bits and permission bits
 * @param rdev {@code st_rdev}: the device number of a character or block device (Linux
 *     {@code dev_t}), else 0
 */
public record FileInfo(
        long inode,
        int mode,
        long nlink,
        long uid,
        long gid,
        long size,
        FileTime atime,
        FileTime mtime,
        FileTime ctime,
        long rdev) {

    /** The file type bits of {@code st_mode}. */
    public static final int S_IFMT = 0170000;
    /** Type bits of a socket. */
    public static final int S_IFSOCK = 0140000;
    /** Type bits of a symbolic link. */
    public static final int S_IFLNK = 0120000;
    /** Type bits of a regular file. */
    public static final int S_IFREG = 0100000;
    /** Type bits of a block device. */
    public static final int S_IFBLK = 0060000;
    /** Type bits of a directory. */
    public static final int S_IFDIR = 0040000;
    /** Type bits of a character device. */
    public static final int S_IFCHR = 0020000;
    /** Type bits of a FIFO. */
    public static final int S_IFIFO = 0010000;

    /**
     * Reads {@code p}'s attributes, following a final symbolic link only if {@code follow}.
     *
     * @throws IOException if the file cannot be read (e.g. {@link java.nio.file.NoSuchFileException})
     */
    public static FileInfo read(Path p, boolean follow) throws IOException {
        LinkOption[] opts = follow ? new LinkOption[0] : new LinkOption[] {LinkOption.NOFOLLOW_LINKS};
        Set<String> views = p.getFileSystem().supportedFileAttributeViews();
        if (views.contains("unix")) {
            Map<String, Object> a = Files.readAttributes(
                    p, "unix:mode,ino,nlink,uid,gid,size,rdev,lastAccessTime,lastModifiedTime,ctime", opts);
            return new FileInfo(
                    ((Number) a.get("ino")).longValue(),
                    ((Number) a.get("mode")).intValue(),
                    ((Number) a.get("nlink")).longValue(),
                    ((Number) a.get("uid")).longValue(),
                    ((Number) a.get("gid")).longValue(),
                    ((Number) a.get("size")).longValue(),
                    (FileTime) a.get("lastAccessTime"),
                    (FileTime) a.get("lastModifiedTime"),
                    (FileTime) a.get("ctime"),
                    ((Number) a.get("rdev")).longValue());
        }
        BasicFileAttributes b;
        int perms;
        if (views.contains("posix")) {
            PosixFileAttributes px = Files.readAttributes(p, PosixFileAttributes.class, opts);
            b = px;
            perms = modeBits(px.permissions());
        } else {
            b = Files.readAttributes(p, BasicFileAttributes.class, opts);
            perms = b.isDirectory() ? 0755 : 0644;
        }
        int type = b.isDirectory() ? S_IFDIR : b.isSymbolicLink() ? S_IFLNK : b.isRegularFile() ? S_IFREG : 0;
        return new FileInfo(
                -1,
                type | perms,
                -1,
                -1,
                -1,
                b.size(),
                b.lastAccessTime(),
                b.lastModifiedTime(),
                b.lastModifiedTime(),
                0);
    }

    /** The file type bits ({@code mode & S_IFMT}). */
    public int type() {
        return mode & S_IFMT;
    }

    /** Whether this is a directory. */
    public boolean isDirectory() {
        return type() == S_IFDIR;
    }

    /** Whether this is a symbolic link. */
    public boolean isSymbolicLink() {
        return type() == S_IFLNK;
    }

    /** Whether this is a regular file. */
    public boolean isRegularFile() {
        return type() == S_IFREG;
    }

    /** Whether this is a FIFO, socket or device node. */
    public boolean isSpecial() {
        int t = type();
        return t == S_IFIFO || t == S_IFSOCK || t == S_IFCHR || t == S_IFBLK;
    }

    /** The permission bits including set-uid, set-gid and sticky ({@code 07777}). */
    public int permissionBits() {
        return mode & 07777;
    }

    /** Like {@code stat -c %F}: "regular file", "directory", "symbolic link", ... */
    public String typeName() {
        return switch (type()) {
            case S_IFREG -> size == 0 ? "regular empty file" : "regular file";
            case S_IFDIR -> "directory";
            case S_IFLNK -> "symbolic link";
            case S_IFIFO -> "fifo";
            case S_IFSOCK -> "socket";
            case S_IFBLK -> "block special file";
            case S_IFCHR -> "character special file";
            default -> "unknown type";
        };
    }

    /** Like {@code ls -l}'s first column, e.g. {@code drwxr-xr-x} or {@code -rwsr-x--T}. */
    public String modeString() {
        return modeString(mode);
    }

    /** Like {@code ls -l}'s first column for a full {@code st_mode}. */
    public static String modeString(int mode) {
        char t = switch (mode & S_IFMT) {
            case S_IFDIR -> 'd';
            case S_IFLNK -> 'l';
            case S_IFIFO -> 'p';
            case S_IFSOCK -> 's';
            case S_IFBLK -> 'b';
            case S_IFCHR -> 'c';
            default -> '-';
        };
        StringBuilder s = new StringBuilder(10).append(t);
        String rwx = "rwxrwxrwx";
        for (int i = 0; i < 9; i++) {
            s.append((mode & (0400 >> i)) != 0 ? rwx.charAt(i) : '-');
        }
        special(s, 3, (mode & 04000) != 0, 's');
        special(s, 6, (mode & 02000) != 0, 's');
        special(s, 9, (mode & 01000) != 0, 't');
        return s.toString();
    }

    private static void special(StringBuilder s, int at, boolean set, char lower) {
        if (set) {
            s.setCharAt(at, s.charAt(at) == 'x' ? lower : Character.toUpperCase(lower));
        }
    }

    /** The {@code 0777} bits of a set of POSIX permissions. */
    public static int modeBits(Set<PosixFilePermission> perms) {
        int m = 0;
        for (PosixFilePermission p : perms) {
            m |= 0400 >> p.ordinal();
        }
        return m;
    }

    /**
     * Sets {@code p}'s permission bits to {@code bits} ({@code 07777}), with the {@code "unix"}
     * view when available (keeps set-uid, set-gid, sticky), else {@code "posix"}, else not at all.
     *
     * @throws IOException if the file system refuses the change
     */
    public static void setPermissionBits(Path p, int bits) throws IOException {
        Set<String> views = p.getFileSystem().supportedFileAttributeViews();
        if (views.contains("unix")) {
            Files.setAttribute(p, "unix:mode", bits & 07777);
        } else if (views.contains("posix")) {
            StringBuilder s = new StringBuilder(modeString(bits).substring(1));
            for (int i = 0; i < 9; i++) {
                char c = s.charAt(i);
                s.setCharAt(i, c == 's' || c == 't' ? 'x' : c == 'S' || c == 'T' ? '-' : c);
            }
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(s.toString()));
        }
    }
}
