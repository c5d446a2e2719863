package io.holdfast.fuse;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.testing.TestSeed;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mounts a local directory through {@link FuseMount} and drives real tools (tar, cp, mv, find,
 * rm, ln, chmod, touch, dd, cmp, sh) through the mount, then checks the backing directory.
 * Skipped when FUSE is not available. Seed: {@code -Dholdfast.seed=N} (printed on every run).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class PathFuseIT {
    private static final long SEED = TestSeed.seed();
    private static final int MIB = 1 << 20;

    @TempDir
    Path tmp;

    private Path backing;
    private Path mnt;
    private FuseMount mount;

    @BeforeEach
    void mount() throws IOException {
        assumeTrue(FuseMount.isAvailable(), "FUSE is not available here");
        System.out.println("PathFuseIT seed=" + SEED);
        backing = Files.createDirectory(tmp.resolve("backing"));
        mnt = Files.createDirectory(tmp.resolve("mnt"));
        mount = FuseMount.mount(
                backing, mnt, FuseOptions.defaults().withFsName("holdfast-it").withCapabilities(Capabilities.LOCAL));
    }

    @AfterEach
    void unmount() throws Exception {
        try {
            if (mount != null) {
                mount.close();
                mount.close(); // idempotent
            }
        } finally {
            if (mnt != null && isMounted(mnt)) {
                new ProcessBuilder("fusermount3", "-u", "-z", mnt.toString())
                        .inheritIO()
                        .start()
                        .waitFor(10, TimeUnit.SECONDS);
            }
        }
        if (mnt != null) {
            assertThat(isMounted(mnt)).as("mount left behind").isFalse();
        }
    }

    @Test
    void tarCpMvFindLnChmodTouchRm() throws Exception {
        Path src = Files.createDirectory(tmp.resolve("src"));
        generateTree(src, new Random(SEED));
        Map<String, String> expected = tree(src);
        Path tarball = tmp.resolve("tree.tar");
        sh("tar -cf " + tarball + " -C " + src + " .");

        Path direct = Files.createDirectory(tmp.resolve("direct"));
        long t0 = System.nanoTime();
        sh("tar -xf " + tarball + " -C " + direct);
        long directNs = System.nanoTime() - t0;
        Files.createDirectory(mnt.resolve("x"));
        t0 = System.nanoTime();
        sh("tar -xf " + tarball + " -C " + mnt.resolve("x"));
        long fuseNs = System.nanoTime() - t0;
        System.out.printf(
                "untar %d MiB, %d entries: direct %d ms, through FUSE %d ms%n",
                Files.size(tarball) / MIB, expected.size(), directNs / 1_000_000, fuseNs / 1_000_000);
        assertThat(tree(backing.resolve("x"))).isEqualTo(expected);
        // libfuse's high-level API gives each name of a hard link its own kernel node; the mount
        // caches no attributes, so the other name's nlink is right at once.
        assertThat(tree(mnt.resolve("x"))).as("seen through the mount").isEqualTo(expected);

        sh("cp -a " + mnt.resolve("x") + " " + mnt.resolve("y"));
        assertThat(tree(backing.resolve("y"))).isEqualTo(expected);

        sh("mv " + mnt.resolve("y") + " " + mnt.resolve("z"));
        assertThat(backing.resolve("y")).doesNotExist();
        assertThat(tree(backing.resolve("z"))).isEqualTo(expected);

        long files = expected.values().stream().filter(v -> v.startsWith("f ")).count();
        assertThat(sh("find " + mnt.resolve("z") + " -type f | wc -l").trim()).isEqualTo(Long.toString(files));
        assertThat(sh("find " + mnt.resolve("z") + " -type l").trim()).endsWith("link-to-small");

        sh("ln " + mnt.resolve("z/d0/small") + " " + mnt.resolve("z/small.hard"));
        assertThat(Files.getAttribute(backing.resolve("z/d0/small"), "unix:nlink"))
                .isEqualTo(3); // + d2/hard-to-small
        assertThat(Files.isSameFile(backing.resolve("z/d0/small"), backing.resolve("z/small.hard")))
                .isTrue();

        sh("chmod 640 " + mnt.resolve("z/small.hard"));
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(backing.resolve("z/d0/small"))))
                .isEqualTo("rw-r-----");
        sh("chmod 4755 " + mnt.resolve("z/d0/small"));
        assertThat((int) Files.getAttribute(backing.resolve("z/d0/small"), "unix:mode") & 07777)
                .isEqualTo(04755);

        sh("touch -d '2001-02-03 04:05:06.789 UTC' " + mnt.resolve("z/d0/small"));
        assertThat(Files.getLastModifiedTime(backing.resolve("z/d0/small")).toInstant())
                .isEqualTo(Instant.parse("2001-02-03T04:05:06.789Z"));
        sh("touch -a -d '2002-01-01 00:00:00 UTC' " + mnt.resolve("z/d0/small")); // mtime UTIME_OMIT
        assertThat(Files.getLastModifiedTime(backing.resolve("z/d0/small")).toInstant())
                .isEqualTo(Instant.parse("2001-02-03T04:05:06.789Z"));
        assertThat(((FileTime) Files.getAttribute(backing.resolve("z/d0/small"), "lastAccessTime")).toInstant())
                .isEqualTo(Instant.parse("2002-01-01T00:00:00Z"));

        sh("rm -r " + mnt.resolve("z"));
        assertThat(backing.resolve("z")).doesNotExist();
        assertThat(tree(backing.resolve("x"))).isEqualTo(expected);
        try (Stream<Path> s = Files.list(backing)) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("x");
        }
    }

    @Test
    void dd64MiBThenCmp() throws Exception {
        Path local = tmp.resolve("big.local");
        byte[] chunk = new byte[MIB];
        Random random = new Random(SEED);
        try (var out = Files.newOutputStream(local)) {
            for (int i = 0; i < 64; i++) {
                random.nextBytes(chunk);
                out.write(chunk);
            }
        }
        long t0 = System.nanoTime();
        sh("dd if=" + local + " of=" + mnt.resolve("big") + " bs=1M status=none");
        long writeNs = System.nanoTime() - t0;
        t0 = System.nanoTime();
        sh("cmp " + local + " " + mnt.resolve("big"));
        long cmpNs = System.nanoTime() - t0;
        sh("cmp " + local + " " + backing.resolve("big"));
        System.out.printf(
                "dd 64 MiB into FUSE: %d ms (%.0f MiB/s); cmp through FUSE: %d ms%n",
                writeNs / 1_000_000, 64 / (writeNs / 1e9), cmpNs / 1_000_000);
        assertThat(Files.size(backing.resolve("big"))).isEqualTo(64L * MIB);
    }

    @Test
    void errnoVisibleThroughTools() throws Exception {
        Files.createDirectories(backing.resolve("d/sub"));
        Files.writeString(backing.resolve("d/sub/f"), "content\n");
        assertThat(run("mkdir " + mnt.resolve("d")).errors()).contains("File exists");
        assertThat(run("rmdir " + mnt.resolve("d")).errors()).contains("Directory not empty");
        assertThat(run("rmdir " + mnt.resolve("d/sub/f")).errors()).contains("Not a directory");
        assertThat(run("cat " + mnt.resolve("missing")).errors()).contains("No such file or directory");
        assertThat(run("cat " + mnt.resolve("d")).errors()).contains("Is a directory");
        assertThat(run("mv " + mnt.resolve("d") + " " + mnt.resolve("d/sub/inside"))
                        .exit())
                .isNotZero();
        assertThat(run("ln " + mnt.resolve("d") + " " + mnt.resolve("dirlink")).exit())
                .isNotZero();
        // unlink while open: the open descriptor keeps reading
        assertThat(sh("exec 3<" + mnt.resolve("d/sub/f") + "; rm " + mnt.resolve("d/sub/f") + "; cat <&3"))
                .isEqualTo("content\n");
        assertThat(mnt.resolve("d/sub/f")).doesNotExist();
        // O_APPEND, O_TRUNC, O_EXCL through the shell
        sh("echo one > " + mnt.resolve("a") + "; echo two >> " + mnt.resolve("a"));
        assertThat(Files.readString(backing.resolve("a"))).isEqualTo("one\ntwo\n");
        sh("echo three > " + mnt.resolve("a"));
        assertThat(Files.readString(backing.resolve("a"))).isEqualTo("three\n");
        assertThat(run("set -C; echo four > " + mnt.resolve("a")).exit()).isNotZero();
        assertThat(Files.readString(backing.resolve("a"))).isEqualTo("three\n");
        sh("truncate -s 5000 " + mnt.resolve("a") + "; truncate -s 2 " + mnt.resolve("a"));
        assertThat(Files.readString(backing.resolve("a"))).isEqualTo("th");
        // rename replaces a file
        sh("echo new > " + mnt.resolve("b") + "; mv -f " + mnt.resolve("b") + " " + mnt.resolve("a"));
        assertThat(Files.readString(backing.resolve("a"))).isEqualTo("new\n");
        sh("sync " + mnt.resolve("a")); // fsync
        assertThat(sh("df -P " + mnt + " | tail -1")).startsWith("holdfast-it");
    }

    /**
     * mkfifo, mknod and a bound UNIX socket through the mount of a local directory: the daemon makes
     * them with libc mknod(2) in the backing directory, with the caller's mode (umask applied by the
     * kernel, not the daemon's); devices when the process may make device nodes.
     */
    @Test
    void specialFilesReachTheBackingDirectory() throws Exception {
        sh("umask 027 && mkfifo " + mnt.resolve("fifo") + " && python3 -c 'import socket, sys; "
                + "socket.socket(socket.AF_UNIX).bind(sys.argv[1])' " + mnt.resolve("sock"));
        assertThat(sh("stat -c '%F %a' " + backing.resolve("fifo")).trim()).isEqualTo("fifo 640");
        assertThat(sh("stat -c '%F %a' " + mnt.resolve("fifo")).trim()).isEqualTo("fifo 640");
        assertThat(sh("stat -c '%F %a' " + backing.resolve("sock")).trim()).isEqualTo("socket 750");
        assertThat(run("mkfifo " + mnt.resolve("sock")).errors()).contains("File exists");
        // touch sets the FIFO's times without opening it (an open would wait for a writer)
        sh("timeout 20 touch -d '2001-02-03 04:05:06 UTC' " + mnt.resolve("fifo") + " && timeout 20 touch "
                + mnt.resolve("sock"));
        assertThat(sh("stat -c %Y " + backing.resolve("fifo")).trim()).isEqualTo("981173106");
        boolean root = ProcessHandle.current().info().user().orElse("").equals("root");
        if (root && run("mknod " + tmp.resolve("probe") + " c 1 3").exit() == 0) {
            sh("mknod -m 620 " + mnt.resolve("null") + " c 1 3 && mknod " + mnt.resolve("loop0") + " b 7 0");
            assertThat(sh("stat -c '%F %t %T %a' " + backing.resolve("null")).trim())
                    .isEqualTo("character special file 1 3 620");
            assertThat(sh("stat -c '%F %t %T' " + mnt.resolve("loop0")).trim()).isEqualTo("block special file 7 0");
        }
        sh("mv " + mnt.resolve("fifo") + " " + mnt.resolve("fifo2") + " && rm " + mnt.resolve("sock"));
        assertThat(sh("stat -c %F " + backing.resolve("fifo2")).trim()).isEqualTo("fifo");
        assertThat(backing.resolve("sock")).doesNotExist();
    }

    @Test
    void largeDirectoryAndXattrs() throws Exception {
        sh("cd " + mnt + " && mkdir big && cd big && seq 1 3000 | xargs touch");
        try (Stream<Path> s = Files.list(backing.resolve("big"))) {
            assertThat(s.count()).isEqualTo(3000);
        }
        assertThat(sh("ls " + mnt.resolve("big") + " | wc -l").trim()).isEqualTo("3000");

        Files.writeString(backing.resolve("x"), "x");
        UserDefinedFileAttributeView backView =
                Files.getFileAttributeView(backing.resolve("x"), UserDefinedFileAttributeView.class);
        try {
            backView.write("probe", ByteBuffer.wrap(new byte[] {1}));
            backView.delete("probe");
        } catch (IOException e) {
            System.out.println("backing file system has no user xattrs; skipping xattr checks: " + e);
            return;
        }
        UserDefinedFileAttributeView view =
                Files.getFileAttributeView(mnt.resolve("x"), UserDefinedFileAttributeView.class);
        view.write("holdfast.test", StandardCharsets.UTF_8.encode("value-1"));
        assertThat(backView.list()).containsExactly("holdfast.test");
        assertThat(view.list()).containsExactly("holdfast.test");
        ByteBuffer buf = ByteBuffer.allocate(view.size("holdfast.test"));
        view.read("holdfast.test", buf);
        assertThat(new String(buf.array(), StandardCharsets.UTF_8)).isEqualTo("value-1");
        if (onPath("setfattr") && onPath("getfattr")) {
            sh("setfattr -n user.tool -v hello " + mnt.resolve("x"));
            assertThat(sh("getfattr --only-values -n user.tool " + mnt.resolve("x")))
                    .isEqualTo("hello");
            assertThat(run("setfattr -n trusted.no -v x " + mnt.resolve("x")).exit())
                    .isNotZero();
        } else {
            System.out.println("setfattr/getfattr not installed; tool-level xattr checks skipped");
        }
        view.delete("holdfast.test");
        assertThat(backView.list()).doesNotContain("holdfast.test");
    }

    // ------------------------------------------------------------------ helpers

    /** Nested dirs, files of 0 B .. 3 MiB with seeded content, a symlink and a hard link. */
    private static void generateTree(Path root, Random random) throws IOException {
        int[] sizes = {0, 1, 511, 4096, 4097, 65_536, 131_073, MIB, MIB + 3, 3 * MIB};
        int n = 0;
        for (int d = 0; d < 4; d++) {
            Path dir = Files.createDirectories(
                    root.resolve("d" + d).resolve("nested" + d).resolve("deeper"));
            for (int i = 0; i < 12; i++) {
                int size = i < sizes.length && d == 0 ? sizes[i] : random.nextInt(20_000);
                byte[] data = new byte[size];
                random.nextBytes(data);
                Path f = (i % 3 == 0 ? root.resolve("d" + d) : dir).resolve("file-" + n++ + ".bin");
                Files.write(f, data);
                Files.setLastModifiedTime(
                        f, FileTime.fromMillis(1_600_000_000_000L + random.nextInt(1_000_000) * 1000L));
            }
        }
        Files.writeString(root.resolve("d0/small"), "small file\n");
        Files.setPosixFilePermissions(root.resolve("d0/small"), PosixFilePermissions.fromString("rw-r--r--"));
        Files.setLastModifiedTime(
                root.resolve("d0/small"), FileTime.fromMillis(1_700_000_000_000L)); // tar keeps seconds
        Files.setPosixFilePermissions(root.resolve("d1/file-12.bin"), PosixFilePermissions.fromString("r--------"));
        Files.createSymbolicLink(root.resolve("d1/link-to-small"), Path.of("../d0/small"));
        Files.createLink(root.resolve("d2/hard-to-small"), root.resolve("d0/small"));
        Files.createDirectories(root.resolve("empty-dir"));
    }

    /** relative path -> "type size sha256 perms nlink [mtime] [target]" for every entry under root. */
    private static Map<String, String> tree(Path root) throws IOException {
        Map<String, String> out = new TreeMap<>();
        List<Path> paths;
        try (Stream<Path> s = Files.walk(root)) {
            paths = s.filter(p -> !p.equals(root)).toList();
        }
        for (Path p : paths) {
            String rel = root.relativize(p).toString();
            Map<String, Object> a = Files.readAttributes(p, "unix:mode,nlink,size,lastModifiedTime", NOFOLLOW_LINKS);
            String perms = Integer.toOctalString((int) a.get("mode") & 07777);
            if (Files.isSymbolicLink(p)) {
                out.put(rel, "l " + Files.readSymbolicLink(p));
            } else if (Files.isDirectory(p, NOFOLLOW_LINKS)) {
                out.put(rel, "d " + perms);
            } else {
                out.put(
                        rel,
                        "f " + a.get("size") + " " + sha256(p) + " " + perms + " nlink=" + a.get("nlink") + " mtime="
                                + ((FileTime) a.get("lastModifiedTime")).toMillis());
            }
        }
        return out;
    }

    private static String sha256(Path p) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            try (var in = Files.newInputStream(p)) {
                byte[] buf = new byte[1 << 16];
                for (int n; (n = in.read(buf)) > 0; ) {
                    md.update(buf, 0, n);
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** A finished command: its exit status, standard output and standard error, kept apart. */
    private record Result(int exit, String output, String errors) {}

    private static Result run(String command) throws IOException, InterruptedException {
        Path err = Files.createTempFile("pathfuseit", ".err");
        try {
            Process p = new ProcessBuilder("sh", "-c", command)
                    .redirectError(err.toFile())
                    .start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("timed out: " + command);
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), Files.readString(err));
        } finally {
            Files.deleteIfExists(err);
        }
    }

    /** Runs {@code command}, asserts it succeeded, and returns its standard output only. */
    private static String sh(String command) throws IOException, InterruptedException {
        Result r = run(command);
        assertThat(r.exit())
                .as("exit status of `%s`, output:%n%s%s", command, r.output(), r.errors())
                .isZero();
        return r.output();
    }

    private static boolean onPath(String tool) throws IOException, InterruptedException {
        return run("command -v " + tool).exit() == 0;
    }

    private static boolean isMounted(Path mountPoint) throws IOException {
        String target = " " + mountPoint.toAbsolutePath() + " ";
        return Files.readAllLines(Path.of("/proc/mounts")).stream().anyMatch(l -> l.contains(target));
    }
}
