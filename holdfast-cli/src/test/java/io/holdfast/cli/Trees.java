package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.FileInfo;
import io.holdfast.testing.TestSeed;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Builds and compares file trees on any {@link Path}. */
final class Trees {
    private Trees() {}

    /**
     * A small tree under {@code root}: files with various modes and old mtimes, an empty file, a
     * 3 MiB file (more than one copy buffer), nested and empty directories, a hidden file, and
     * symbolic links (relative, dangling, to a directory).
     */
    static void build(Path root, long seed) throws IOException {
        Random random = new Random(TestSeed.derive("Trees") ^ seed);
        Files.createDirectories(root.resolve("docs/nested/deeper"));
        Files.createDirectories(root.resolve("empty"));
        Files.writeString(root.resolve("docs/readme.txt"), "hello holdfast\n");
        Files.writeString(root.resolve("docs/nested/deeper/note.md"), "# deep\n");
        Files.write(root.resolve("docs/empty.bin"), new byte[0]);
        byte[] big = new byte[3 * 1024 * 1024 + 17];
        random.nextBytes(big);
        Files.write(root.resolve("big.bin"), big);
        Files.writeString(root.resolve(".hidden"), "secret");
        Files.writeString(root.resolve("run.sh"), "#!/bin/sh\necho hi\n");
        FileInfo.setPermissionBits(root.resolve("run.sh"), 0750);
        FileInfo.setPermissionBits(root.resolve("docs/readme.txt"), 0640);
        FileInfo.setPermissionBits(root.resolve("docs/nested"), 0710);
        Files.createSymbolicLink(
                root.resolve("link-to-readme"), root.getFileSystem().getPath("docs/readme.txt"));
        Files.createSymbolicLink(root.resolve("dangling"), root.getFileSystem().getPath("no/such/target"));
        Files.createSymbolicLink(root.resolve("docs/up"), root.getFileSystem().getPath(".."));
        Files.setLastModifiedTime(root.resolve("docs/readme.txt"), FileTime.fromMillis(1_600_000_000_000L));
        Files.setLastModifiedTime(root.resolve("big.bin"), FileTime.fromMillis(1_500_000_000_000L));
        Files.setLastModifiedTime(root.resolve("docs/nested/deeper"), FileTime.fromMillis(1_400_000_000_000L));
    }

    /** Asserts the same names, types, contents, link targets, permission bits and file mtimes. */
    static void assertSame(Path expected, Path actual) throws IOException {
        FileInfo e = FileInfo.read(expected, false);
        FileInfo a = FileInfo.read(actual, false);
        String where = actual.toString();
        assertThat(a.type()).as("type of %s", where).isEqualTo(e.type());
        if (e.isSymbolicLink()) {
            assertThat(Files.readSymbolicLink(actual).toString())
                    .as("link %s", where)
                    .isEqualTo(Files.readSymbolicLink(expected).toString());
            return;
        }
        assertThat(a.permissionBits()).as("mode of %s", where).isEqualTo(e.permissionBits());
        assertThat(a.mtime().toMillis())
                .as("mtime of %s", where)
                .isEqualTo(e.mtime().toMillis());
        if (e.isRegularFile()) {
            assertThat(Files.readAllBytes(actual)).as("content of %s", where).isEqualTo(Files.readAllBytes(expected));
            return;
        }
        if (e.isSpecial()) {
            assertThat(a.rdev()).as("device number of %s", where).isEqualTo(e.rdev());
            return;
        }
        List<String> en = names(expected);
        List<String> an = names(actual);
        assertThat(an).as("entries of %s", where).isEqualTo(en);
        for (String n : en) {
            assertSame(expected.resolve(n), actual.resolve(n));
        }
    }

    static List<String> names(Path dir) throws IOException {
        List<String> out = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) {
                out.add(p.getFileName().toString());
            }
        }
        out.sort(null);
        return out;
    }
}
