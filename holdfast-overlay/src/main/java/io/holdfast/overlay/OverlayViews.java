package io.holdfast.overlay;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;

import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The attribute views of overlay paths: reads come from the visible layer, changes copy the
 * entry up first and then go to the upper layer. Each call looks the path up afresh.
 */
final class OverlayViews {
    private OverlayViews() {}

    /**
     * What every view holds: its name, the overlay, the path, and whether a final symbolic link is
     * followed.
     */
    private abstract static class View {
        private final String name;
        final Overlay overlay;
        final OverlayPath path;
        final boolean follow;

        View(String name, Overlay overlay, OverlayPath path, boolean follow) {
            this.name = name;
            this.overlay = overlay;
            this.path = path;
            this.follow = follow;
        }

        /** The view's name ({@code "posix"}, {@code "user"}), as the attribute view interfaces ask. */
        public final String name() {
            return name;
        }

        /** The path's entry, looked up now. */
        final Overlay.Node node() throws IOException {
            Overlay.Node n = overlay.lookup(path, follow);
            if (!n.exists()) {
                throw new NoSuchFileException(path.toString());
            }
            return n;
        }

        /** The path's entry in the upper layer, copied up now if it is only in the lower one. */
        final Path upper() throws IOException {
            return overlay.copyUpForChange(node());
        }
    }

    /** Basic, owner and POSIX view in one. */
    static final class Posix extends View implements PosixFileAttributeView {
        Posix(Overlay overlay, OverlayPath path, boolean follow) {
            super("posix", overlay, path, follow);
        }

        @Override
        public PosixFileAttributes readAttributes() throws IOException {
            return overlay.readAttributes(node(), PosixFileAttributes.class);
        }

        @Override
        public void setTimes(FileTime lastModifiedTime, FileTime lastAccessTime, FileTime createTime)
                throws IOException {
            if (lastModifiedTime == null && lastAccessTime == null) {
                node();
                return;
            }
            overlay.setTimes(node(), lastModifiedTime, lastAccessTime);
        }

        @Override
        public void setPermissions(Set<PosixFilePermission> perms) throws IOException {
            Files.setPosixFilePermissions(upper(), perms);
        }

        @Override
        public void setGroup(GroupPrincipal group) throws IOException {
            Files.getFileAttributeView(upper(), PosixFileAttributeView.class, NOFOLLOW_LINKS)
                    .setGroup(group);
        }

        @Override
        public UserPrincipal getOwner() throws IOException {
            return readAttributes().owner();
        }

        @Override
        public void setOwner(UserPrincipal owner) throws IOException {
            Files.setOwner(upper(), owner);
        }
    }

    /**
     * User extended attributes; the overlay's own ({@code user.overlay.*}) are neither listed nor
     * settable, as the kernel hides {@code trusted.overlay.*}.
     */
    static final class User extends View implements UserDefinedFileAttributeView {
        User(Overlay overlay, OverlayPath path, boolean follow) {
            super("user", overlay, path, follow);
        }

        private UserDefinedFileAttributeView visible(Overlay.Node n) throws IOException {
            UserDefinedFileAttributeView v =
                    Files.getFileAttributeView(n.visible(), UserDefinedFileAttributeView.class, NOFOLLOW_LINKS);
            if (v == null) {
                throw new UnsupportedOperationException("no user attributes on " + path);
            }
            return v;
        }

        private static void checkName(String name) throws IOException {
            if (name.startsWith(Overlay.PRIVATE_XATTRS)) {
                throw new ErrnoFileSystemException(
                        name, null, Errno.EPERM, "user.overlay.* attributes belong to the overlay");
            }
        }

        private <T> T reading(Overlay.Node n, IoCall<T> call, T onLink) throws IOException {
            try {
                return call.run();
            } catch (NoSuchFileException | UnsupportedOperationException e) {
                throw e;
            } catch (IOException e) {
                if (isLinkRefusal(n, e)) {
                    // Linux keeps no user attributes on symbolic links; the JDK cannot even ask
                    // (ELOOP): none to list, ENODATA for a name, as getxattr(2) answers; not a
                    // failure of the lower layer
                    if (onLink != null) {
                        return onLink;
                    }
                    throw new ErrnoFileSystemException(
                            path.toString(), null, Errno.ENODATA, "no such attribute (a symbolic link has none)");
                }
                if (n.layer() == Overlay.Layer.LOWER
                        && !(e instanceof FileSystemException fse
                                && fse.getReason() != null
                                && fse.getReason().startsWith("No data available"))) {
                    throw overlay.lowerError(n.rel(), "getxattr", e);
                }
                throw e;
            }
        }

        /** Whether {@code e} is the JDK refusing user attributes of a symbolic link (O_NOFOLLOW: ELOOP). */
        private static boolean isLinkRefusal(Overlay.Node n, IOException e) {
            return n.attrs() != null
                    && n.attrs().isSymbolicLink()
                    && e instanceof FileSystemException fse
                    && fse.getReason() != null
                    && fse.getReason().contains("symbolic link");
        }

        @Override
        public List<String> list() throws IOException {
            Overlay.Node n = node();
            UserDefinedFileAttributeView v = visible(n);
            List<String> all = reading(n, v::list, List.of());
            List<String> out = new ArrayList<>(all.size());
            for (String s : all) {
                if (!s.startsWith(Overlay.PRIVATE_XATTRS)) {
                    out.add(s);
                }
            }
            return out;
        }

        @Override
        public int size(String name) throws IOException {
            checkName(name);
            Overlay.Node n = node();
            UserDefinedFileAttributeView v = visible(n);
            return reading(n, () -> v.size(name), null);
        }

        @Override
        public int read(String name, ByteBuffer dst) throws IOException {
            checkName(name);
            Overlay.Node n = node();
            UserDefinedFileAttributeView v = visible(n);
            return reading(n, () -> v.read(name, dst), null);
        }

        @Override
        public int write(String name, ByteBuffer src) throws IOException {
            checkName(name);
            Path up = upper();
            return Files.getFileAttributeView(up, UserDefinedFileAttributeView.class, NOFOLLOW_LINKS)
                    .write(name, src);
        }

        @Override
        public void delete(String name) throws IOException {
            checkName(name);
            Path up = upper();
            Files.getFileAttributeView(up, UserDefinedFileAttributeView.class, NOFOLLOW_LINKS)
                    .delete(name);
        }
    }
}
