package io.holdfast.georep;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Random changes to a {@link SourceTree} over a small namespace, so that names collide: creates,
 * writes, appends (some without a name in the record), truncates, renames of files and
 * directories (over existing names too), links, symbolic links, deletes of files and trees, modes,
 * times and xattrs. A change the file system refuses (a rename over a non-empty directory) makes
 * no record, as at a volume.
 */
final class Workload {
    private static final String[] NAMES = {"a", "b", "c", "d", "e", "f"};

    private final SourceTree tree;
    private final Random random;
    private final Map<String, Integer> counts = new TreeMap<>();

    Workload(SourceTree tree, Random random) {
        this.tree = tree;
        this.random = random;
    }

    Map<String, Integer> counts() {
        return counts;
    }

    /** One random change. */
    void step() throws IOException {
        List<String> files = new ArrayList<>();
        List<String> dirs = new ArrayList<>();
        dirs.add("");
        try (Stream<Path> s = Files.walk(tree.root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (p.equals(tree.root)) {
                    continue;
                }
                String v = "/" + tree.root.relativize(p);
                if (Files.isDirectory(p, NOFOLLOW_LINKS)) {
                    dirs.add(v);
                } else {
                    files.add(v);
                }
            }
        }
        String dir = pick(dirs);
        String fresh = dir + "/" + NAMES[random.nextInt(NAMES.length)];
        String file = files.isEmpty() ? null : pick(files);
        int op = random.nextInt(100);
        String name;
        try {
            if (op < 12) {
                name = "mkdir";
                if (dirs.size() < 12 && !Files.exists(tree.path(fresh), NOFOLLOW_LINKS)) {
                    tree.mkdir(fresh);
                }
            } else if (op < 30) {
                name = "write";
                if (!Files.isDirectory(tree.path(fresh), NOFOLLOW_LINKS) && !Files.isSymbolicLink(tree.path(fresh))) {
                    byte[] b = new byte[random.nextInt(40_000)];
                    random.nextBytes(b);
                    tree.write(fresh, b);
                }
            } else if (file == null) {
                name = "none";
            } else if (op < 40) {
                name = "append";
                if (Files.isRegularFile(tree.path(file), NOFOLLOW_LINKS)) {
                    tree.append(file, "+" + random.nextInt(1000), random.nextInt(4) == 0);
                }
            } else if (op < 44) {
                name = "truncate";
                if (Files.isRegularFile(tree.path(file), NOFOLLOW_LINKS)) {
                    tree.truncate(file, random.nextInt(100));
                }
            } else if (op < 56) {
                name = "rename-file";
                if (!Files.isDirectory(tree.path(fresh), NOFOLLOW_LINKS) && !fresh.equals(file)) {
                    tree.rename(file, fresh);
                }
            } else if (op < 64) {
                name = "rename-dir";
                String from = pick(dirs);
                if (!from.isEmpty() && !fresh.startsWith(from + "/") && !fresh.equals(from)) {
                    Path to = tree.path(fresh);
                    if (!Files.exists(to, NOFOLLOW_LINKS) || isEmptyDir(to)) {
                        tree.rename(from, fresh);
                    }
                }
            } else if (op < 72) {
                name = "unlink";
                tree.unlink(file);
            } else if (op < 76) {
                name = "remove-tree";
                String d = pick(dirs);
                if (!d.isEmpty()) {
                    tree.removeTree(d);
                }
            } else if (op < 81) {
                name = "link";
                if (Files.isRegularFile(tree.path(file), NOFOLLOW_LINKS)
                        && !Files.exists(tree.path(fresh), NOFOLLOW_LINKS)) {
                    tree.link(file, fresh);
                }
            } else if (op < 85) {
                name = "symlink";
                if (!Files.exists(tree.path(fresh), NOFOLLOW_LINKS)) {
                    tree.symlink(fresh, random.nextBoolean() ? "../" + NAMES[random.nextInt(NAMES.length)] : "x/y");
                }
            } else if (op < 90) {
                name = "chmod";
                if (!Files.isSymbolicLink(tree.path(file))) {
                    tree.chmod(file, 0600 | random.nextInt(0100));
                }
            } else if (op < 95) {
                name = "mtime";
                tree.setMtime(file, FileTime.from(Instant.ofEpochSecond(1_000_000_000L + random.nextInt(1_000_000))));
            } else {
                name = "xattr";
                if (Files.isRegularFile(tree.path(file), NOFOLLOW_LINKS)) {
                    if (random.nextBoolean()) {
                        tree.setXattr(file, "user.k" + random.nextInt(3), "v" + random.nextInt(100));
                    } else if (!Files.getFileAttributeView(tree.path(file), UserDefinedFileAttributeView.class)
                            .list()
                            .isEmpty()) {
                        tree.removeXattr(
                                file,
                                Files.getFileAttributeView(tree.path(file), UserDefinedFileAttributeView.class)
                                        .list()
                                        .getFirst());
                    }
                }
            }
        } catch (IOException e) {
            name = "refused";
        }
        counts.merge(name, 1, Integer::sum);
    }

    private static boolean isEmptyDir(Path p) throws IOException {
        if (!Files.isDirectory(p, NOFOLLOW_LINKS)) {
            return false;
        }
        try (Stream<Path> s = Files.list(p)) {
            return s.findAny().isEmpty();
        }
    }

    private String pick(List<String> list) {
        return list.get(random.nextInt(list.size()));
    }
}
