package io.holdfast.georep;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.FileInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Describes a whole tree as sorted lines, one per entry (type, permission bits, owner, size,
 * content digest, symbolic link target, device number, modification time, user xattrs, and the
 * other names of a file with several), for comparing a source and its copy. The target's
 * {@code .holdfast-georep} directory is left out.
 */
final class Trees {
    private Trees() {}

    static void assertSameTree(Path source, Path target) throws IOException {
        Map<String, String> want = describe(source);
        Map<String, String> have = describe(target);
        TreeSet<String> differing = new TreeSet<>();
        for (String k : want.keySet()) {
            if (!want.get(k).equals(have.get(k))) {
                differing.add(k);
            }
        }
        for (String k : have.keySet()) {
            if (!want.containsKey(k)) {
                differing.add(k);
            }
        }
        StringBuilder diff = new StringBuilder();
        for (String k : differing) {
            diff.append("\n  ").append(k).append(": source ").append(want.get(k));
            diff.append("\n  ").append(k).append(": target ").append(have.get(k));
        }
        assertThat(have)
                .as("target %s equals source %s; differing:%s", target, source, diff)
                .isEqualTo(want);
    }

    static Map<String, String> describe(Path root) throws IOException {
        Map<String, String> out = new TreeMap<>();
        Map<Long, TreeSet<String>> byInode = new TreeMap<>();
        walk(root, "", out, byInode);
        for (TreeSet<String> names : byInode.values()) {
            if (names.size() > 1) {
                for (String n : names) {
                    out.put(n, out.get(n) + " links=" + names);
                }
            }
        }
        return out;
    }

    private static void walk(Path root, String rel, Map<String, String> out, Map<Long, TreeSet<String>> byInode)
            throws IOException {
        Path p = TargetSync.at(root, rel);
        FileInfo i = FileInfo.read(p, false);
        StringBuilder d = new StringBuilder()
                .append(i.modeString())
                .append(' ')
                .append(i.uid())
                .append(':')
                .append(i.gid());
        if (!i.isDirectory()) {
            d.append(" size=").append(i.size());
        }
        d.append(" mtime=").append(i.mtime().toInstant());
        if (i.isRegularFile()) {
            d.append(" sha=").append(digest(p));
            if (i.nlink() > 1) {
                byInode.computeIfAbsent(i.inode(), k -> new TreeSet<>()).add(rel.isEmpty() ? "/" : rel);
            }
        } else if (i.isSymbolicLink()) {
            d.append(" -> ").append(Files.readSymbolicLink(p));
        } else if (i.isSpecial()) {
            d.append(" rdev=").append(i.rdev());
        }
        if (i.isRegularFile() || i.isDirectory()) {
            UserDefinedFileAttributeView v = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class);
            Map<String, String> x = new TreeMap<>();
            for (String name : v.list()) {
                ByteBuffer b = ByteBuffer.allocate(v.size(name));
                v.read(name, b);
                x.put(name, HexFormat.of().formatHex(b.array(), 0, b.position()));
            }
            if (!x.isEmpty()) {
                d.append(" xattrs=").append(x);
            }
        }
        out.put(rel.isEmpty() ? "/" : rel, d.toString());
        if (i.isDirectory()) {
            List<String> names = new ArrayList<>();
            try (DirectoryStream<Path> s = Files.newDirectoryStream(p)) {
                for (Path c : s) {
                    String name = c.getFileName().toString();
                    if (!(rel.isEmpty() && name.equals(StateFile.DIR))) {
                        names.add(name);
                    }
                }
            }
            for (String name : names) {
                walk(root, TargetSync.child(rel, name), out, byInode);
            }
        }
    }

    static String digest(Path p) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            return HexFormat.of().formatHex(md.digest(Files.readAllBytes(p))).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** Names anywhere below {@code root} that start with the replicator's temporary prefix. */
    static List<String> temporaries(Path root) throws IOException {
        List<String> found = new ArrayList<>();
        try (var s = Files.walk(root)) {
            s.filter(p -> p.getFileName().toString().startsWith(TargetSync.TEMP_PREFIX))
                    .forEach(p -> found.add(root.relativize(p).toString()));
        }
        return found;
    }
}
