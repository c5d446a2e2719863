package io.holdfast.georep;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.nio.file.LinkOption.NOFOLLOW_LINKS;

import io.holdfast.common.SpecialFiles;
import io.holdfast.protocol.Change;
import io.holdfast.protocol.Change.Kind;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.List;

/**
 * A source tree in a local directory that records, for each change a test makes, the
 * {@link io.holdfast.protocol.ChangeRecord} a Holdfast volume would add to its feed. Paths are volume
 * paths ({@code "/a/b"}). Not thread-safe.
 */
final class SourceTree {
    final Path root;
    final FakeFeed feed;
    private List<Change> group;

    SourceTree(Path root, FakeFeed feed) {
        this.root = root;
        this.feed = feed;
    }

    Path path(String p) {
        return TargetSync.at(root, TargetSync.relative(p));
    }

    private long ino(String p) throws IOException {
        return ((Number) Files.getAttribute(path(p), "unix:ino", NOFOLLOW_LINKS)).longValue();
    }

    /** Every change emitted, with its index, for a failing test's report. */
    final List<String> history = new ArrayList<>();

    private void emit(Change c) {
        history.add((feed.appliedIndex() + 1) + " " + c);
        if (group != null) {
            group.add(c);
        } else {
            feed.append(List.of(c));
        }
    }

    /** Runs {@code body}; its changes go into one record (as one batch entry). */
    void inOneRecord(IoBody body) throws IOException {
        group = new ArrayList<>();
        try {
            body.run();
        } finally {
            List<Change> changes = group;
            group = null;
            if (!changes.isEmpty()) {
                feed.append(changes);
            }
        }
    }

    @FunctionalInterface
    interface IoBody {
        void run() throws IOException;
    }

    void mkdir(String p) throws IOException {
        Files.createDirectory(path(p));
        emit(Change.of(Kind.MKDIR, ino(p), p));
    }

    /** Creates {@code p} if missing, then writes {@code text} at offset 0 and truncates to it. */
    void write(String p, String text) throws IOException {
        write(p, text.getBytes(UTF_8));
    }

    void write(String p, byte[] bytes) throws IOException {
        if (!Files.exists(path(p), NOFOLLOW_LINKS)) {
            Files.createFile(path(p));
            emit(Change.of(Kind.CREATE, ino(p), p));
        }
        try (FileChannel ch = FileChannel.open(path(p), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(bytes), 0);
            long old = ch.size();
            ch.truncate(bytes.length);
            emit(new Change(Kind.WRITE, ino(p), p, null, 0, bytes.length));
            if (old > bytes.length) {
                emit(new Change(Kind.TRUNCATE, ino(p), p, null, bytes.length, 0));
            }
        }
    }

    /** Appends to an existing file; the WRITE record names no path if {@code anonymous}. */
    void append(String p, String text, boolean anonymous) throws IOException {
        byte[] b = text.getBytes(UTF_8);
        try (FileChannel ch = FileChannel.open(path(p), StandardOpenOption.WRITE)) {
            long at = ch.size();
            ch.write(ByteBuffer.wrap(b), at);
            emit(new Change(Kind.WRITE, ino(p), anonymous ? null : p, null, at, b.length));
        }
    }

    void truncate(String p, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(path(p), StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
        emit(new Change(Kind.TRUNCATE, ino(p), p, null, size, 0));
    }

    void rename(String from, String to) throws IOException {
        long ino = ino(from);
        Files.move(path(from), path(to), StandardCopyOption.ATOMIC_MOVE);
        emit(new Change(Kind.RENAME, ino, to, from, 0, 0));
    }

    void unlink(String p) throws IOException {
        long ino = ino(p);
        Files.delete(path(p));
        emit(Change.of(Kind.UNLINK, ino, p));
    }

    void rmdir(String p) throws IOException {
        Files.delete(path(p));
        emit(Change.of(Kind.RMDIR, 0, p));
    }

    /** Deletes a tree bottom-up, one record per name, as {@code rm -r} does. */
    void removeTree(String p) throws IOException {
        if (Files.isDirectory(path(p), NOFOLLOW_LINKS)) {
            List<String> children = new ArrayList<>();
            try (DirectoryStream<Path> s = Files.newDirectoryStream(path(p))) {
                for (Path c : s) {
                    children.add(p + "/" + c.getFileName());
                }
            }
            for (String c : children) {
                removeTree(c);
            }
            rmdir(p);
        } else {
            unlink(p);
        }
    }

    void link(String existing, String p) throws IOException {
        Files.createLink(path(p), path(existing));
        emit(new Change(Kind.LINK, ino(p), p, existing, 0, 0));
    }

    void symlink(String p, String target) throws IOException {
        Files.createSymbolicLink(path(p), root.getFileSystem().getPath(target));
        emit(Change.of(Kind.SYMLINK, ino(p), p));
    }

    void mkfifo(String p, int perms) throws IOException {
        SpecialFiles.mknod(path(p), 0010000 | perms, 0);
        emit(Change.of(Kind.MKNOD, ino(p), p));
    }

    void chmod(String p, int perms) throws IOException {
        Files.setAttribute(path(p), "unix:mode", perms);
        emit(Change.of(Kind.SETATTR, ino(p), p));
    }

    void chown(String p, int uid, int gid) throws IOException {
        Files.setAttribute(path(p), "unix:uid", uid, NOFOLLOW_LINKS);
        Files.setAttribute(path(p), "unix:gid", gid, NOFOLLOW_LINKS);
        emit(Change.of(Kind.SETATTR, ino(p), p));
    }

    void setMtime(String p, FileTime t) throws IOException {
        SpecialFiles.setTimes(path(p), t, null);
        emit(Change.of(Kind.SETATTR, ino(p), p));
    }

    void setXattr(String p, String name, String value) throws IOException {
        Files.getFileAttributeView(path(p), UserDefinedFileAttributeView.class).write(name, UTF_8.encode(value));
        emit(Change.of(Kind.SETXATTR, ino(p), p));
    }

    void removeXattr(String p, String name) throws IOException {
        Files.getFileAttributeView(path(p), UserDefinedFileAttributeView.class).delete(name);
        emit(Change.of(Kind.REMOVEXATTR, ino(p), p));
    }
}
