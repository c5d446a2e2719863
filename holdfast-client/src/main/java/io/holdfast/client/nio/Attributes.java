package io.holdfast.client.nio;

import io.holdfast.protocol.Attr;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.Request.SetAttr;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.LinkOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileOwnerAttributeView;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * File attributes and the attribute views "basic", "posix", "owner", "unix" and "user".
 *
 * <p>"unix" adds {@code mode} (full {@code st_mode}), {@code ino}, {@code dev}, {@code rdev},
 * {@code nlink}, {@code uid}, {@code gid} and {@code ctime} to the posix names, as the JDK's
 * Linux provider does: {@code mode} carries the type bits ({@code S_IFIFO}, {@code S_IFCHR},
 * {@code S_IFBLK}, {@code S_IFSOCK} for special files, which are {@code isOther}), {@code rdev}
 * the device number of a device node (Linux {@code dev_t}, 0 for other types).
 */
final class Attributes {
    /**
     * {@code Files.setAttribute(p, "unix:timesNow", Set.of("lastAccessTime", "lastModifiedTime"))}
     * sets the named times to the volume's "now" in one step, as utimensat(2) with {@code UTIME_NOW}
     * does: allowed to anyone who may write the file, where explicit times are for its owner only.
     * Write-only; a Holdfast addition to the {@code unix} view.
     */
    static final String TIMES_NOW = "timesNow";

    /**
     * {@code Files.setAttribute(p, "unix:ids", new int[] {uid, gid})} sets the owner and the group
     * in one step, as chown(2) with both ids does (one request instead of two). Write-only; a
     * Holdfast addition to the {@code unix} view.
     *
     * @throws IllegalArgumentException (from {@code setAttribute}) if the value is not two ids
     */
    static final String IDS = "ids";

    private Attributes() {}

    static final Set<String> VIEWS = Set.of("basic", "posix", "owner", "unix", "user");

    private static final List<String> BASIC = List.of(
            "lastModifiedTime",
            "lastAccessTime",
            "creationTime",
            "size",
            "isRegularFile",
            "isDirectory",
            "isSymbolicLink",
            "isOther",
            "fileKey");
    private static final List<String> POSIX_EXTRA = List.of("permissions", "owner", "group");
    private static final List<String> UNIX_EXTRA =
            List.of("mode", "ino", "dev", "rdev", "nlink", "uid", "gid", "ctime");

    static FileTime time(long nanos) {
        return FileTime.from(nanos, TimeUnit.NANOSECONDS);
    }

    static long nanos(FileTime t) {
        return t.to(TimeUnit.NANOSECONDS);
    }

    static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> out = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] all = PosixFilePermission.values(); // OWNER_READ .. OTHERS_EXECUTE
        for (int i = 0; i < 9; i++) {
            if ((mode & (0400 >> i)) != 0) {
                out.add(all[i]);
            }
        }
        return out;
    }

    static int mode(Set<?> perms) {
        int mode = 0;
        for (Object o : perms) {
            PosixFilePermission p = (PosixFilePermission) o;
            mode |= 0400 >> p.ordinal();
        }
        return mode;
    }

    /**
     * The mode given by a {@code posix:permissions} file attribute, else {@code dflt}.
     *
     * @throws UnsupportedOperationException for any other file attribute
     */
    static int modeFrom(FileAttribute<?>[] attrs, int dflt) {
        int mode = dflt;
        for (FileAttribute<?> a : attrs) {
            String name = a.name();
            if (name.equals("posix:permissions") || name.equals("unix:permissions")) {
                mode = mode((Set<?>) a.value());
            } else {
                throw new UnsupportedOperationException("'" + name + "' not supported as initial attribute");
            }
        }
        return mode;
    }

    /** A {@code posix:permissions} file attribute for {@code mode}. */
    static FileAttribute<Set<PosixFilePermission>> asFileAttribute(int mode) {
        return PosixFilePermissions.asFileAttribute(permissions(mode));
    }

    /** Posix attributes of one inode. */
    static final class HoldfastAttributes implements PosixFileAttributes {
        final Attr attr;
        private final UnixPrincipals principals;

        HoldfastAttributes(Attr attr, UnixPrincipals principals) {
            this.attr = attr;
            this.principals = principals;
        }

        @Override
        public FileTime lastModifiedTime() {
            return time(attr.mtimeNanos());
        }

        @Override
        public FileTime lastAccessTime() {
            return time(attr.atimeNanos());
        }

        @Override
        public FileTime creationTime() {
            return time(attr.mtimeNanos());
        }

        @Override
        public boolean isRegularFile() {
            return attr.type() == FileType.FILE;
        }

        @Override
        public boolean isDirectory() {
            return attr.type() == FileType.DIRECTORY;
        }

        @Override
        public boolean isSymbolicLink() {
            return attr.type() == FileType.SYMLINK;
        }

        @Override
        public boolean isOther() {
            return attr.type().isSpecial();
        }

        @Override
        public long size() {
            return attr.size();
        }

        @Override
        public Object fileKey() {
            return attr.inode();
        }

        @Override
        public UserPrincipal owner() {
            return principals.user(attr.uid());
        }

        @Override
        public GroupPrincipal group() {
            return principals.group(attr.gid());
        }

        @Override
        public Set<PosixFilePermission> permissions() {
            return Attributes.permissions(attr.mode());
        }
    }

    /** The basic, posix and owner views of one path; no I/O until a method is called. */
    static final class View implements PosixFileAttributeView {
        private final String name;
        private final HoldfastFileSystemProvider provider;
        private final HoldfastPath path;
        private final boolean follow;

        View(String name, HoldfastFileSystemProvider provider, HoldfastPath path, boolean follow) {
            this.name = name;
            this.provider = provider;
            this.path = path;
            this.follow = follow;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public HoldfastAttributes readAttributes() throws IOException {
            return new HoldfastAttributes(
                    provider.stat(path, follow), path.getFileSystem().principals());
        }

        @Override
        public void setTimes(FileTime lastModifiedTime, FileTime lastAccessTime, FileTime createTime)
                throws IOException {
            int mask = 0;
            long m = 0;
            long a = 0;
            if (lastModifiedTime != null) {
                mask |= SetAttr.MTIME;
                m = nanos(lastModifiedTime);
            }
            if (lastAccessTime != null) {
                mask |= SetAttr.ATIME;
                a = nanos(lastAccessTime);
            }
            if (mask != 0) {
                provider.setAttr(path, follow, mask, 0, 0, 0, a, m);
            }
        }

        @Override
        public void setPermissions(Set<PosixFilePermission> perms) throws IOException {
            provider.setAttr(path, follow, SetAttr.MODE, mode(perms), 0, 0, 0, 0);
        }

        void setMode(int mode) throws IOException {
            provider.setAttr(path, follow, SetAttr.MODE, mode & 07777, 0, 0, 0, 0);
        }

        @Override
        public UserPrincipal getOwner() throws IOException {
            return readAttributes().owner();
        }

        @Override
        public void setOwner(UserPrincipal owner) throws IOException {
            if (owner instanceof GroupPrincipal g && owner instanceof UnixPrincipals.Principal p && p.isGroup()) {
                setGroup(g);
                return;
            }
            setUid(path.getFileSystem().principals().uidOf(owner));
        }

        void setUid(int uid) throws IOException {
            provider.setAttr(path, follow, SetAttr.UID, 0, uid, 0, 0, 0);
        }

        @Override
        public void setGroup(GroupPrincipal group) throws IOException {
            setGid(path.getFileSystem().principals().gidOf(group));
        }

        void setGid(int gid) throws IOException {
            provider.setAttr(path, follow, SetAttr.GID, 0, 0, gid, 0, 0);
        }
    }

    private static boolean follow(LinkOption... options) {
        for (LinkOption o : options) {
            if (o == LinkOption.NOFOLLOW_LINKS) {
                return false;
            }
        }
        return true;
    }

    /** {@code Files.readAttributes(path, "view:a,b")} for the non-user views. */
    static Map<String, Object> read(
            HoldfastFileSystemProvider provider, HoldfastPath path, String spec, LinkOption... options)
            throws IOException {
        int colon = spec.indexOf(':');
        String view = colon < 0 ? "basic" : spec.substring(0, colon);
        String names = colon < 0 ? spec : spec.substring(colon + 1);
        if (view.equals("user")) {
            return new UserView(provider, path, follow(options)).readMap(names);
        }
        List<String> known = switch (view) {
            case "basic" -> BASIC;
            case "owner" -> List.of("owner");
            case "posix" -> concat(BASIC, POSIX_EXTRA);
            case "unix" -> concat(concat(BASIC, POSIX_EXTRA), UNIX_EXTRA);
            default -> throw new UnsupportedOperationException("View '" + view + "' not available");
        };
        List<String> wanted;
        if (names.equals("*")) {
            wanted = known;
        } else {
            wanted = List.of(names.split(","));
            for (String n : wanted) {
                if (!n.equals("*") && !known.contains(n)) {
                    throw new IllegalArgumentException("'" + n + "' not recognized");
                }
            }
            if (wanted.contains("*")) {
                wanted = known;
            }
        }
        HoldfastAttributes a = new HoldfastAttributes(
                provider.stat(path, follow(options)), path.getFileSystem().principals());
        Map<String, Object> out = new LinkedHashMap<>();
        for (String n : wanted) {
            out.put(n, value(a, n, path.getFileSystem()));
        }
        return out;
    }

    private static List<String> concat(List<String> a, List<String> b) {
        return Stream.concat(a.stream(), b.stream()).toList();
    }

    private static Object value(HoldfastAttributes a, String name, HoldfastFileSystem fs) {
        Attr at = a.attr;
        return switch (name) {
            case "lastModifiedTime" -> a.lastModifiedTime();
            case "lastAccessTime" -> a.lastAccessTime();
            case "creationTime" -> a.creationTime();
            case "size" -> a.size();
            case "isRegularFile" -> a.isRegularFile();
            case "isDirectory" -> a.isDirectory();
            case "isSymbolicLink" -> a.isSymbolicLink();
            case "isOther" -> a.isOther();
            case "fileKey" -> a.fileKey();
            case "permissions" -> a.permissions();
            case "owner" -> a.owner();
            case "group" -> a.group();
            case "mode" -> at.stMode();
            case "ino" -> at.inode();
            case "dev" -> (long) (fs.key().hashCode() & 0x7fffffff);
            case "rdev" -> at.rdev();
            case "nlink" -> at.nlink();
            case "uid" -> at.uid();
            case "gid" -> at.gid();
            case "ctime" -> time(at.ctimeNanos());
            default -> throw new IllegalArgumentException("'" + name + "' not recognized");
        };
    }

    /** {@code Files.setAttribute(path, "view:name", value)}. */
    static void set(
            HoldfastFileSystemProvider provider, HoldfastPath path, String spec, Object value, LinkOption... options)
            throws IOException {
        int colon = spec.indexOf(':');
        String view = colon < 0 ? "basic" : spec.substring(0, colon);
        String name = colon < 0 ? spec : spec.substring(colon + 1);
        boolean follow = follow(options);
        if (view.equals("user")) {
            UserView uv = new UserView(provider, path, follow);
            ByteBuffer buf = value instanceof byte[] b ? ByteBuffer.wrap(b) : (ByteBuffer) value;
            uv.write(name, buf);
            return;
        }
        if (!VIEWS.contains(view)) {
            throw new UnsupportedOperationException("View '" + view + "' not available");
        }
        View v = new View(view, provider, path, follow);
        if (view.equals("unix") && name.equals(IDS)) {
            if (!(value instanceof int[] ids) || ids.length != 2) {
                throw new IllegalArgumentException("'" + spec + "' takes an int[] {uid, gid}");
            }
            provider.setAttr(path, follow, SetAttr.UID | SetAttr.GID, 0, ids[0], ids[1], 0, 0);
            return;
        }
        if (view.equals("unix") && name.equals(TIMES_NOW)) {
            int mask = 0;
            for (Object time : (Set<?>) value) {
                mask |= switch (String.valueOf(time)) {
                    case "lastAccessTime" -> SetAttr.ATIME_NOW;
                    case "lastModifiedTime" -> SetAttr.MTIME_NOW;
                    default ->
                        throw new IllegalArgumentException("'" + time + "' is not lastAccessTime or lastModifiedTime");
                };
            }
            if (mask != 0) {
                provider.setAttr(path, follow, mask, 0, 0, 0, 0, 0);
            }
            return;
        }
        boolean basicName = switch (name) {
            case "lastModifiedTime" -> {
                v.setTimes((FileTime) value, null, null);
                yield true;
            }
            case "lastAccessTime" -> {
                v.setTimes(null, (FileTime) value, null);
                yield true;
            }
            case "creationTime" -> {
                FileTime ignored = (FileTime) value; // not kept by Holdfast, as on Linux
                yield ignored != null;
            }
            default -> false;
        };
        if (basicName && !view.equals("owner")) {
            return;
        }
        if (view.equals("owner") || view.equals("posix") || view.equals("unix")) {
            switch (name) {
                case "owner" -> {
                    v.setOwner((UserPrincipal) value);
                    return;
                }
                default -> {}
            }
        }
        if (view.equals("posix") || view.equals("unix")) {
            switch (name) {
                case "permissions" -> {
                    Set<?> perms = (Set<?>) value;
                    v.setMode(mode(perms));
                    return;
                }
                case "group" -> {
                    v.setGroup((GroupPrincipal) value);
                    return;
                }
                default -> {}
            }
        }
        if (view.equals("unix")) {
            switch (name) {
                case "mode" -> {
                    v.setMode((Integer) value);
                    return;
                }
                case "uid" -> {
                    v.setUid((Integer) value);
                    return;
                }
                case "gid" -> {
                    v.setGid((Integer) value);
                    return;
                }
                default -> {}
            }
        }
        throw new IllegalArgumentException("'" + spec + "' not recognized");
    }

    /** Names of the views, for {@code getFileAttributeView}. */
    static String viewName(Class<?> type) {
        if (type == BasicFileAttributeView.class) {
            return "basic";
        }
        if (type == PosixFileAttributeView.class) {
            return "posix";
        }
        if (type == FileOwnerAttributeView.class) {
            return "owner";
        }
        return null;
    }
}
