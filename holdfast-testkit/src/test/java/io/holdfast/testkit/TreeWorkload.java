package io.holdfast.testkit;

import io.holdfast.client.nio.HoldfastFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * A seeded random mix of ordinary file operations on a tree reached through {@code java.nio.file}
 * (create and write, append, truncate down and up, rename of files and directories, hard links,
 * symbolic links, unlink, rmdir, chmod, times, user xattrs), and a description of a tree to compare
 * two of them. Not thread-safe.
 */
final class TreeWorkload {
    private final Path root;
    private final Random random;
    private final Set<String> exclude;
    private int names;
    /** Operations done so far. */
    int operations;

    /**
     * @param exclude names directly under the root that are not part of the tree (a replicator's state)
     */
    TreeWorkload(Path root, long seed, Set<String> exclude) {
        this.root = root;
        this.random = new Random(seed);
        this.exclude = exclude;
    }

    private List<Path> all(boolean dirs) throws IOException {
        List<Path> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(root)) {
            s.filter(p -> !p.equals(root))
                    .filter(p -> !exclude.contains(root.relativize(p).getName(0).toString()))
                    .filter(p -> dirs
                            ? Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)
                            : Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
                    .forEach(out::add);
        }
        return out;
    }

    private Path anyDir() throws IOException {
        List<Path> d = all(true);
        return d.isEmpty() || random.nextInt(4) == 0 ? root : d.get(random.nextInt(d.size()));
    }

    private Path anyFile() throws IOException {
        List<Path> f = all(false);
        return f.isEmpty() ? null : f.get(random.nextInt(f.size()));
    }

    private byte[] bytes(int max) {
        byte[] b = new byte[random.nextInt(max + 1)];
        random.nextBytes(b);
        return b;
    }

    /**
     * One random operation, then a durability point on a Holdfast volume ({@link HoldfastFiles#sync}:
     * what a mount writes back, removals and attribute changes, is committed, as after an
     * application's fsync), so a replicator reading the volume's change feed sees it; returns what
     * it did.
     */
    String step() throws IOException {
        String did = operation();
        if (HoldfastFiles.isHoldfast(root.getFileSystem())) {
            HoldfastFiles.sync(root.getFileSystem());
        }
        return did;
    }

    private String operation() throws IOException {
        operations++;
        int op = random.nextInt(100);
        Path file = anyFile();
        if (op < 10) {
            Path d = anyDir().resolve("d" + names++);
            Files.createDirectory(d);
            return "mkdir " + d;
        }
        if (op < 35 || file == null) {
            Path f = anyDir().resolve("f" + names++);
            Files.write(f, bytes(random.nextInt(4) == 0 ? 200_000 : 5_000));
            return "create " + f;
        }
        if (op < 45) {
            Files.write(file, bytes(3_000), StandardOpenOption.APPEND);
            return "append " + file;
        }
        if (op < 50) {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                long size = ch.size();
                if (random.nextBoolean()) {
                    ch.truncate(size / 2);
                } else {
                    ch.write(ByteBuffer.wrap(new byte[] {1}), size + random.nextInt(100_000)); // grows with a hole
                }
            }
            return "resize " + file;
        }
        if (op < 60) {
            Path to = anyDir().resolve("r" + names++);
            Files.move(file, to, StandardCopyOption.ATOMIC_MOVE);
            return "rename " + file + " " + to;
        }
        if (op < 65) {
            List<Path> dirs = all(true);
            if (!dirs.isEmpty()) {
                Path d = dirs.get(random.nextInt(dirs.size()));
                Path parent = anyDir();
                if (!parent.startsWith(d)) {
                    Path to = parent.resolve("m" + names++);
                    Files.move(d, to, StandardCopyOption.ATOMIC_MOVE);
                    return "rename-dir " + d + " " + to;
                }
            }
            return "nothing";
        }
        if (op < 70) {
            Path link = anyDir().resolve("h" + names++);
            Files.createLink(link, file);
            return "link " + file + " " + link;
        }
        if (op < 73) {
            Path link = anyDir().resolve("s" + names++);
            Files.createSymbolicLink(link, link.getFileSystem().getPath("target-" + names));
            return "symlink " + link;
        }
        if (op < 83) {
            Files.delete(file);
            return "unlink " + file;
        }
        if (op < 86) {
            for (Path d : all(true)) {
                try (Stream<Path> s = Files.list(d)) {
                    if (s.findAny().isEmpty()) {
                        Files.delete(d);
                        return "rmdir " + d;
                    }
                }
            }
            return "nothing";
        }
        if (op < 92) {
            Set<PosixFilePermission> perms =
                    EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
            if (random.nextBoolean()) {
                perms.add(PosixFilePermission.GROUP_READ);
            }
            if (random.nextBoolean()) {
                perms.add(PosixFilePermission.OTHERS_READ);
            }
            Files.setPosixFilePermissions(file, perms);
            return "chmod " + file;
        }
        if (op < 96) {
            Files.setLastModifiedTime(
                    file, FileTime.fromMillis(1_600_000_000_000L + random.nextInt(1_000_000) * 1000L));
            return "touch " + file;
        }
        UserDefinedFileAttributeView x = Files.getFileAttributeView(file, UserDefinedFileAttributeView.class);
        if (x == null) {
            return "nothing";
        }
        x.write("k" + random.nextInt(3), ByteBuffer.wrap(bytes(20)));
        return "setxattr " + file;
    }

    /**
     * A description of the tree under {@code root}: per path, its type and, for a file, its size,
     * content digest, permission bits and modification time (milliseconds), for a symbolic link its
     * target; plus the hard-link groups (paths sharing an inode). Directory times are not included
     * (a replicator's temporary names touch them). Names in {@code exclude} directly under the root
     * are left out.
     */
    static Map<String, String> describe(Path root, Set<String> exclude) throws IOException {
        TreeMap<String, String> out = new TreeMap<>();
        Map<Object, TreeSet<String>> links =
                new TreeMap<>((a, b) -> a.toString().compareTo(b.toString()));
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(p -> !p.equals(root)).toList()) {
                String rel = root.relativize(p).toString();
                if (exclude.contains(root.relativize(p).getName(0).toString())) {
                    continue;
                }
                if (Files.isSymbolicLink(p)) {
                    out.put(rel, "symlink -> " + Files.readSymbolicLink(p));
                } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.put(rel, "dir " + perms(p));
                } else {
                    byte[] content = Files.readAllBytes(p);
                    out.put(
                            rel,
                            "file " + content.length + " " + sha(content) + " " + perms(p) + " mtime "
                                    + Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS)
                                            .toMillis());
                    Object key = Files.readAttributes(p, "unix:nlink,ino", LinkOption.NOFOLLOW_LINKS)
                            .get("nlink");
                    if (key instanceof Integer n && n > 1) {
                        Object ino = Files.getAttribute(p, "unix:ino", LinkOption.NOFOLLOW_LINKS);
                        links.computeIfAbsent(ino, k -> new TreeSet<>()).add(rel);
                    }
                }
            }
        }
        for (TreeSet<String> group : links.values()) {
            out.put("#links " + group.first(), String.join(" ", group));
        }
        return out;
    }

    /**
     * Fails unless the tree at {@code got} has the {@link #describe description} of the one at
     * {@code want}, naming only the entries that differ (a whole description is too long to read in
     * a CI log).
     *
     * @param what says which comparison failed (a seed, a round)
     */
    static void assertSameTree(Path want, Path got, Set<String> exclude, String what) throws IOException {
        List<String> differences = differences(describe(want, exclude), describe(got, exclude));
        if (!differences.isEmpty()) {
            throw new AssertionError(what + ": " + differences.size() + " entries differ (source | target):\n  "
                    + String.join("\n  ", differences.subList(0, Math.min(40, differences.size()))));
        }
    }

    /** The entries of two {@link #describe descriptions} that differ, as "name: want | got". */
    static List<String> differences(Map<String, String> want, Map<String, String> got) {
        TreeSet<String> names = new TreeSet<>(want.keySet());
        names.addAll(got.keySet());
        List<String> out = new ArrayList<>();
        for (String name : names) {
            String a = want.getOrDefault(name, "(absent)");
            String b = got.getOrDefault(name, "(absent)");
            if (!a.equals(b)) {
                out.add(name + ": " + a + " | " + b);
            }
        }
        return out;
    }

    private static String perms(Path p) throws IOException {
        return Integer.toOctalString((Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777);
    }

    private static String sha(byte[] b) {
        try {
            return HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(b))
                    .substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
