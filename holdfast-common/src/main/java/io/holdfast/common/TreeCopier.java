package io.holdfast.common;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Copies and deletes files and trees between any two {@link Path}s, whatever their file
 * systems: local, {@code holdfast://}, or one of each. Written once over
 * {@code java.nio.file}; paths are mapped between file systems by name, never with
 * {@code Path.resolve(Path)} across providers.
 *
 * <p>What a copy keeps: file contents, symbolic links as links (their target text), permission
 * bits (with set-uid/set-gid/sticky when both sides have the {@code "unix"} view), access and
 * modification times. Not kept: owner and group (the copy belongs to the caller, as with
 * {@code cp} without {@code -p}), hard links (each name becomes its own file), extended
 * attributes. FIFOs, sockets and device nodes are recreated with their type, permission bits,
 * device number and times, as {@code cp -a} does (POSIX {@code mknod(2)} through
 * {@link SpecialFiles}: device nodes need root); a target file system that cannot hold them
 * (neither Holdfast nor the local disk) makes that entry fail.
 *
 * <p>Directories are read with a {@link DirectoryStream}, which Holdfast's provider pages, so a
 * huge directory is never held in memory; recursion depth is the tree's depth. A failure of
 * one entry inside a tree is handed to {@link Failures} and the copy goes on with the next
 * entry. Blocking; not thread-safe.
 */
public final class TreeCopier {
    /** Copy buffer: 1 MiB. */
    public static final int BUFFER_BYTES = 1 << 20;

    /** Receives failures of single entries; the operation continues after each. */
    @FunctionalInterface
    public interface Failures {
        /** One entry failed with {@code e}. */
        void failed(IOException e);
    }

    /** Receives how far a copy got, e.g. to draw a progress line. Called on the copying thread. */
    public interface Progress {
        /** Shows nothing. */
        Progress NONE = new Progress() {};

        /** {@link #scan} found {@code fileCount} more entries of {@code byteCount} bytes to copy. */
        default void expect(long fileCount, long byteCount) {}

        /** {@code n} more bytes of file content were copied. */
        default void bytes(long n) {}

        /** One more entry (file, directory, link, special file) was copied. */
        default void fileDone() {}
    }

    private final Progress progress;
    private final Failures failures;
    private final ByteBuffer buffer = ByteBuffer.allocate(BUFFER_BYTES);
    private int failed;

    /**
     * A copier.
     *
     * @param progress told of every entry and every chunk of bytes copied
     * @param failures told of every entry below the given path that could not be copied or deleted
     */
    public TreeCopier(Progress progress, Failures failures) {
        this.progress = progress;
        this.failures = failures;
    }

    /** How many entries failed so far. */
    public int failedCount() {
        return failed;
    }

    /**
     * Copies {@code src} to {@code dst}, the full target name (not its parent). An existing
     * regular file at {@code dst} is overwritten; an existing directory is merged into.
     *
     * @param recursive whether directories may be copied; a symbolic link given as {@code src}
     *     is copied as a link if set, else followed (as {@code cp} does)
     * @throws IOException if {@code src} itself cannot be copied; failures below it go to
     *     {@link Failures}
     */
    public void copy(Path src, Path dst, boolean recursive) throws IOException {
        FileInfo info = FileInfo.read(src, !recursive);
        if (info.isDirectory()) {
            if (!recursive) {
                throw new FileSystemException(src.toString(), null, "is a directory (use -r)");
            }
            if (sameFileSystem(src, dst) && isWithin(dst, src)) {
                throw new FileSystemException(src.toString(), dst.toString(), "cannot copy a directory into itself");
            }
        } else if (sameFileSystem(src, dst) && Files.exists(dst) && Files.isSameFile(src, dst)) {
            throw new FileSystemException(src.toString(), dst.toString(), "are the same file");
        }
        copyEntry(src, dst, info);
    }

    private void copyEntry(Path src, Path dst, FileInfo info) throws IOException {
        switch (info.type()) {
            case FileInfo.S_IFDIR -> copyDirectory(src, dst, info);
            case FileInfo.S_IFLNK -> copyLink(src, dst, info);
            case FileInfo.S_IFREG -> copyFile(src, dst, info);
            case FileInfo.S_IFIFO, FileInfo.S_IFSOCK, FileInfo.S_IFCHR, FileInfo.S_IFBLK -> copySpecial(src, dst, info);
            default ->
                throw new FileSystemException(
                        src.toString(),
                        null,
                        "is a " + info.typeName()
                                + "; only files, directories, symbolic links and special files are copied");
        }
    }

    private void copyDirectory(Path src, Path dst, FileInfo info) throws IOException {
        if (Files.isDirectory(dst, LinkOption.NOFOLLOW_LINKS)) {
            // merge into the existing directory
        } else if (Files.exists(dst, LinkOption.NOFOLLOW_LINKS)) {
            throw new FileAlreadyExistsException(dst.toString(), null, "exists and is not a directory");
        } else {
            Files.createDirectory(dst);
        }
        // Until the children are in, keep the directory writable for us.
        if ((info.permissionBits() & 0700) != 0700) {
            FileInfo.setPermissionBits(dst, 0700);
        }
        try (DirectoryStream<Path> children = Files.newDirectoryStream(src)) {
            for (Path child : children) {
                Path target = dst.resolve(child.getFileName().toString());
                try {
                    copyEntry(child, target, FileInfo.read(child, false));
                } catch (IOException e) {
                    fail(e);
                }
            }
        }
        progress.fileDone();
        // Mode and times last: adding children changes a directory's mtime.
        FileInfo.setPermissionBits(dst, info.permissionBits());
        setTimes(dst, info, false);
    }

    private void copyLink(Path src, Path dst, FileInfo info) throws IOException {
        String target = Files.readSymbolicLink(src).toString();
        if (Files.isDirectory(dst, LinkOption.NOFOLLOW_LINKS)) {
            throw new FileAlreadyExistsException(dst.toString(), null, "exists and is a directory");
        }
        Files.deleteIfExists(dst);
        Files.createSymbolicLink(dst, dst.getFileSystem().getPath(target));
        try {
            setTimes(dst, info, true);
        } catch (IOException | UnsupportedOperationException e) {
            // Not every file system can set a link's own times; the link itself is what matters.
        }
        progress.fileDone();
    }

    private void copySpecial(Path src, Path dst, FileInfo info) throws IOException {
        if (!SpecialFiles.supported(dst)) {
            throw new FileSystemException(
                    src.toString(),
                    dst.toString(),
                    "is a " + info.typeName() + ", which the target file system cannot hold");
        }
        if (Files.isDirectory(dst, LinkOption.NOFOLLOW_LINKS)) {
            throw new FileAlreadyExistsException(dst.toString(), null, "exists and is a directory");
        }
        Files.deleteIfExists(dst);
        SpecialFiles.mknod(dst, info.mode(), info.rdev());
        SpecialFiles.setTimes(dst, info.mtime(), info.atime()); // the JDK's setTimes would open a FIFO, and block
        progress.fileDone();
    }

    private void copyFile(Path src, Path dst, FileInfo info) throws IOException {
        try (SeekableByteChannel in = Files.newByteChannel(src, StandardOpenOption.READ);
                SeekableByteChannel out = Files.newByteChannel(
                        dst,
                        StandardOpenOption.CREATE,
                        StandardOpenOption.TRUNCATE_EXISTING,
                        StandardOpenOption.WRITE)) {
            while (true) {
                buffer.clear();
                int n = in.read(buffer);
                if (n < 0) {
                    break;
                }
                buffer.flip();
                while (buffer.hasRemaining()) {
                    out.write(buffer);
                }
                progress.bytes(n);
            }
        }
        FileInfo.setPermissionBits(dst, info.permissionBits());
        setTimes(dst, info, false);
        progress.fileDone();
    }

    private static void setTimes(Path p, FileInfo info, boolean link) throws IOException {
        BasicFileAttributeView view = link
                ? Files.getFileAttributeView(p, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                : Files.getFileAttributeView(p, BasicFileAttributeView.class);
        if (view != null) {
            view.setTimes(info.mtime(), info.atime(), null);
        }
    }

    /**
     * Counts the files and bytes {@link #copy} would move, for the progress line. Unreadable
     * entries are skipped here; the copy reports them.
     */
    public static void scan(Path src, boolean recursive, Progress progress) {
        try {
            FileInfo info = FileInfo.read(src, !recursive);
            scanEntry(src, info, recursive, progress);
        } catch (IOException e) {
            // reported by the copy
        }
    }

    private static void scanEntry(Path p, FileInfo info, boolean recursive, Progress progress) {
        progress.expect(1, info.isRegularFile() ? info.size() : 0);
        if (!info.isDirectory() || !recursive) {
            return;
        }
        try (DirectoryStream<Path> children = Files.newDirectoryStream(p)) {
            for (Path child : children) {
                try {
                    scanEntry(child, FileInfo.read(child, false), true, progress);
                } catch (IOException e) {
                    // reported by the copy
                }
            }
        } catch (IOException e) {
            // reported by the copy
        }
    }

    /**
     * Deletes {@code p}; a directory only if {@code recursive}, with everything below it. Never
     * follows symbolic links: a link is deleted, not its target.
     *
     * @throws NoSuchFileException if {@code p} does not exist
     * @throws IOException if {@code p} itself cannot be deleted; failures below it go to
     *     {@link Failures}
     */
    public void delete(Path p, boolean recursive) throws IOException {
        FileInfo info = FileInfo.read(p, false);
        if (info.isDirectory()) {
            if (!recursive) {
                throw new FileSystemException(p.toString(), null, "is a directory (use -r)");
            }
            if (p.toAbsolutePath().normalize().getNameCount() == 0) {
                throw new FileSystemException(p.toString(), null, "refusing to remove a root directory");
            }
            deleteChildren(p);
        }
        Files.delete(p);
    }

    private void deleteChildren(Path dir) throws IOException {
        // Not deleting while iterating: list a bounded batch of names, delete it, list again.
        // Every round deletes or gives up on each name it lists, so the loop ends.
        Set<String> givenUp = new HashSet<>();
        while (true) {
            List<Path> batch = new ArrayList<>();
            try (DirectoryStream<Path> children = Files.newDirectoryStream(dir)) {
                for (Path child : children) {
                    if (!givenUp.contains(child.getFileName().toString())) {
                        batch.add(child);
                        if (batch.size() == DELETE_BATCH) {
                            break;
                        }
                    }
                }
            }
            for (Path child : batch) {
                try {
                    if (FileInfo.read(child, false).isDirectory()) {
                        deleteChildren(child);
                    }
                    Files.delete(child);
                } catch (NoSuchFileException e) {
                    // gone already
                } catch (IOException e) {
                    givenUp.add(child.getFileName().toString());
                    fail(e);
                }
            }
            if (batch.size() < DELETE_BATCH) {
                return;
            }
        }
    }

    /** Names listed per round when deleting a directory's contents: 4096. */
    static final int DELETE_BATCH = 4096;

    private void fail(IOException e) {
        failed++;
        failures.failed(e);
    }

    /** Whether {@code a} and {@code b} belong to one file system (a rename can move one to the other). */
    public static boolean sameFileSystem(Path a, Path b) {
        return a.getFileSystem().equals(b.getFileSystem());
    }

    /** Whether {@code inner} is {@code outer} or below it; both in one file system. */
    static boolean isWithin(Path inner, Path outer) {
        return inner.toAbsolutePath()
                .normalize()
                .startsWith(outer.toAbsolutePath().normalize());
    }
}
