package io.holdfast.cli;

import io.holdfast.common.Units;
import io.holdfast.fuse.FuseMount;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * {@code holdfast demo --overlay}: the overlay's disaster-recovery story end to end on this machine,
 * with the commands an operator runs, each a separate {@code holdfast} process.
 *
 * <ol>
 *   <li>A base tree (about 300 files in a dozen directories, symbolic links, a hard link) stands for
 *       a damaged file system; a handful of its files are unreadable.
 *   <li>A plain copy of it ({@code cp -a}) gets the same workload as the overlay, so it is the tree
 *       the merge must produce.
 *   <li>{@code holdfast overlay mount --inject-lower-errors GLOB ...} mounts the union with FUSE.
 *   <li>A workload of ordinary tools (sh, seq, mv, rm, mkdir, ln, cp -a, cat, sha256sum) runs
 *       through the mount: writes, renames (of a directory too), deletes, a directory replaced, an
 *       unreadable file overwritten and another renamed over; reads of unreadable files fail with
 *       EIO while everything else is served.
 *   <li>The mount is stopped (SIGTERM) and {@code holdfast overlay status} lists the lower errors.
 *   <li>{@code holdfast overlay merge}, paced, folds UPPER into the base, and is killed with SIGKILL
 *       partway; the same command run again resumes from its journal and finishes, emptying UPPER.
 *   <li>The merged base is compared with the expected tree: types, contents (SHA-256), permission
 *       bits, symbolic link targets and which names are hard links of each other (not times: the
 *       two workloads ran at different moments).
 * </ol>
 *
 * <p>How the lower layer fails: the unreadable files are a fault injected by the mount's {@code
 * --inject-lower-errors} (a {@link io.holdfast.overlay.FaultyFileSystem} decorating LOWER): their
 * data reads throw the {@link java.io.IOException} a disk's EIO gives through the JDK, so the
 * overlay takes exactly its real error path. A failing FUSE layer below would be a second mount and
 * need a second FUSE file system written for the purpose; the decorator needs neither and runs
 * wherever the demo runs. The disk "repaired" before the merge is the same directory read without
 * the injected faults, so the merge folds UPPER back in place, as after an fsck.
 *
 * <p>Everything is under {@code DATA/overlay} (removed at the start of the next run). Needs FUSE
 * ({@code /dev/fuse}, libfuse3, fusermount3) and the coreutils. Not thread-safe (one run).
 */
final class OverlayDemo {
    private static final int STEPS = 8;
    private static final Pattern PROGRESS = Pattern.compile("^pass (\\d+): (\\d+)/(\\d+) files");

    /** The lower files whose reads fail, as globs relative to the base. */
    static final List<String> UNREADABLE = List.of(
            "mail/cur/0007.eml", "mail/cur/0042.eml", "docs/report-33.txt", "photos/2019/img-013.jpg", "photos/old/*");

    /** The workload's commands that change the tree: run through the mount and in the expected copy. */
    static final List<Step> CHANGES = List.of(
            new Step(
                    "deliver 60 new messages",
                    "mkdir -p inbox/new && for i in $(seq 1 60); do " + "seq $i 900 > inbox/new/msg-$i.eml; done"),
            new Step("write a 2 MB file", "seq 1 300000 > inbox/archive.txt"),
            new Step("append to a lower file (copy-up)", "echo 'appended after the disk failed' >> docs/notes.txt"),
            new Step("change a lower file's mode (copy-up)", "chmod 600 docs/notes.txt"),
            new Step("rename a lower file", "mv docs/report-01.txt docs/report-01-final.txt"),
            new Step("rename a lower directory", "mv src/b src/b-renamed"),
            new Step("delete two lower files (whiteouts)", "rm mail/cur/0003.eml mail/cur/0004.eml"),
            new Step("delete a directory of unreadable files", "rm -r photos/old"),
            new Step("replace a directory (opaque)", "rm -r src/a && mkdir src/a && echo 'fresh start' > src/a/README"),
            new Step(
                    "overwrite an UNREADABLE file anew",
                    "printf 'rewritten after the disk failed\\n' > mail/cur/0007.eml"),
            new Step(
                    "rename a new file over an UNREADABLE one",
                    "echo replacement > docs/tmp && mv docs/tmp docs/report-33.txt"),
            new Step(
                    "a symbolic link and a hard link",
                    "ln -s ../docs/notes.txt inbox/notes-link && "
                            + "ln inbox/new/msg-1.eml inbox/new/msg-1-again.eml"),
            new Step("copy a lower directory with cp -a", "cp -a bin bin-backup"));

    /** Reads through the mount only (they change nothing); the first two are expected to fail with EIO. */
    static final List<Step> READS = List.of(
            new Step("read an UNREADABLE file (EIO expected)", "cat mail/cur/0042.eml"),
            new Step("checksum 30 photos, one UNREADABLE (EIO)", "sha256sum photos/2019/*.jpg | wc -l"),
            new Step("everything else is served", "find . | wc -l && cat mail/cur/0001.eml | head -c 40; echo"));

    record Step(String what, String command) {}

    private final Path dir;
    private final PrintStream out;
    private final List<Process> children = new ArrayList<>();
    private int step;

    /**
     * @param data the demo's data directory (absolute); the overlay demo works in {@code data/overlay}
     * @param out where the demo's narrative goes
     */
    OverlayDemo(Path data, PrintStream out) {
        this.dir = data.resolve("overlay");
        this.out = out;
    }

    /**
     * Runs the demo.
     *
     * @return 0 if the merged base equals the expected tree and every step went as it should, else 1
     */
    int run() throws Exception {
        if (!FuseMount.isAvailable()) {
            out.println("holdfast demo --overlay: FUSE is not available here (needs /dev/fuse, libfuse3.so.3 and "
                    + "fusermount3; apt-get install fuse3)");
            return 1;
        }
        // Ctrl-C or an error midway: SIGTERM to what is still running, so a mount unmounts itself
        Thread reaper = new Thread(() -> children.forEach(Process::destroy), "holdfast-overlay-demo-reaper");
        Runtime.getRuntime().addShutdownHook(reaper);
        try {
            return demo();
        } finally {
            for (Process p : children) {
                p.destroy();
            }
            for (Process p : children) {
                if (!p.waitFor(30, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            }
            Runtime.getRuntime().removeShutdownHook(reaper);
        }
    }

    private int demo() throws Exception {
        long start = System.nanoTime();
        List<String> problems = new ArrayList<>();
        out.println("holdfast demo --overlay: keep a damaged file system in service with an overlay, then merge");
        out.println("the changes back into it with a paced, resumable merge that is killed halfway.");
        Path base = dir.resolve("base");
        Path expected = dir.resolve("expected");
        Path upper = dir.resolve("upper");
        Path mnt = dir.resolve("mnt");
        prepare();

        heading("build the base tree: it stands for the damaged disk (LOWER, never written by the overlay)");
        Shape shape = buildBase(base);
        say(
                "%s: %d files, %d directories, %d symbolic links, %d hard link pair, %s",
                base, shape.files, shape.dirs, shape.links, shape.hardLinks, Units.size(shape.bytes));
        say("unreadable files (reads fail with EIO, injected): %s", String.join(", ", UNREADABLE));

        heading("copy it with cp -a to " + expected.getFileName() + "/: the workload runs there too, on a plain "
                + "directory, to give the tree the merge must produce");
        run(List.of("cp", "-a", base.toString(), expected.toString()), null);
        say("%s", expected);

        heading("mount the overlay with FUSE: LOWER = base, UPPER = a new empty directory");
        Files.createDirectories(upper);
        Files.createDirectories(mnt);
        List<String> mountArgs = new ArrayList<>(List.of("overlay", "mount"));
        for (String g : UNREADABLE) {
            mountArgs.add("--inject-lower-errors=" + g);
        }
        mountArgs.addAll(List.of(base.toString(), upper.toString(), mnt.toString()));
        say("$ holdfast %s", String.join(" ", mountArgs));
        Child mount = startHoldfast(mountArgs);
        String ready = mount.awaitLine(l -> l.contains("; stop with"), 120);
        if (ready == null || !Files.isDirectory(mnt.resolve("docs"))) {
            say("the mount did not come up; its output:");
            mount.lines().forEach(l -> say("  | %s", l));
            return fail(start, List.of("the overlay mount did not start"));
        }
        say("  | %s", ready);

        heading("run a workload through the mount with ordinary tools (each change also runs in expected/)");
        for (Step s : CHANGES) {
            say("%-46s $ %s", s.what, s.command);
            Result r = sh(s.command, mnt);
            r.output.lines().forEach(l -> say("    %s", l));
            if (r.exit != 0) {
                problems.add("through the mount, '" + s.command + "' failed with exit " + r.exit);
            }
            Result e = sh(s.command, expected);
            if (e.exit != 0) {
                problems.add("in expected/, '" + s.command + "' failed: " + e.output.strip());
            }
        }
        for (int i = 0; i < READS.size(); i++) {
            Step s = READS.get(i);
            say("%-46s $ %s", s.what, s.command);
            Result r = sh(s.command, mnt);
            r.output.lines().forEach(l -> say("    %s", l));
            boolean eioExpected = i < 2;
            if (eioExpected && !r.output.contains("Input/output error")) {
                problems.add("'" + s.command + "' did not fail with EIO");
            } else if (!eioExpected && r.exit != 0) {
                problems.add("'" + s.command + "' failed with exit " + r.exit);
            }
        }

        heading("stop the mount (SIGTERM, as Ctrl-C), then ask holdfast overlay status what it saw");
        mount.process.destroy();
        if (!mount.process.waitFor(60, TimeUnit.SECONDS)) {
            problems.add("the mount did not stop within 60 s of SIGTERM");
            mount.process.destroyForcibly().waitFor();
        } else if (mount.process.exitValue() != 0) {
            problems.add("the mount exited with " + mount.process.exitValue());
        }
        mount.drain(30);
        mount.lines().stream().filter(l -> !l.equals(ready)).forEach(l -> say("  | %s", l));
        say("$ holdfast overlay status %s", upper);
        Child status = startHoldfast(List.of("overlay", "status", upper.toString()));
        int statusExit = status.awaitExit(120);
        status.lines().forEach(l -> say("  | %s", l));
        String statusText = String.join("\n", status.lines());
        if (statusExit != 0
                || !statusText.contains("/mail/cur/0042.eml")
                || !statusText.contains("/photos/2019/img-013.jpg")) {
            problems.add("overlay status did not list the lower errors seen");
        }

        heading("the disk is repaired (the demo stops injecting errors); merge UPPER back into it, paced at 20"
                + " operations/s and 1 MiB/s, and KILL the merge (SIGKILL) a third of the way through");
        List<String> mergeArgs = List.of(
                "overlay",
                "merge",
                base.toString(),
                upper.toString(),
                "--ops-per-second=20",
                "--rate=1",
                "--progress-every=0.5");
        say("$ holdfast %s", String.join(" ", mergeArgs));
        Child merge = startHoldfast(mergeArgs);
        String killAt = merge.awaitLine(
                l -> {
                    say("  | %s", l);
                    Matcher m = PROGRESS.matcher(l);
                    return m.find()
                            && Long.parseLong(m.group(3)) > 0
                            && Long.parseLong(m.group(2)) * 3 >= Long.parseLong(m.group(3));
                },
                180);
        if (killAt == null || !merge.process.isAlive()) {
            problems.add("the merge ended before it could be killed partway (exit "
                    + (merge.process.isAlive() ? "none" : merge.process.exitValue()) + ")");
            merge.process.destroyForcibly().waitFor();
        } else {
            merge.process.destroyForcibly(); // SIGKILL: no shutdown hook, no chance to tidy up
            int killedExit = merge.process.waitFor();
            say("killed the merge with SIGKILL (exit status %d) after: %s", killedExit, killAt);
        }
        say("the journal it leaves: %s (%s)", journal(upper), Units.size(Files.size(journal(upper))));

        heading("run the same merge again: it resumes from the journal (unpaced this time) and empties UPPER");
        List<String> resumeArgs = List.of(
                "overlay",
                "merge",
                base.toString(),
                upper.toString(),
                "--ops-per-second=0",
                "--rate=0",
                "--empty-upper",
                "--progress-every=0.5");
        say("$ holdfast %s", String.join(" ", resumeArgs));
        Child resume = startHoldfast(resumeArgs);
        resume.awaitLine(
                l -> {
                    say("  | %s", l);
                    return false;
                },
                300);
        int resumeExit = resume.awaitExit(60);
        if (resumeExit != 0) {
            problems.add("the resumed merge exited with " + resumeExit);
        }
        String resumeText = String.join("\n", resume.lines());
        Matcher unchanged =
                Pattern.compile("unchanged +(\\d+) \\(merged before\\)").matcher(resumeText);
        if (!unchanged.find() || Long.parseLong(unchanged.group(1)) == 0) {
            problems.add("the resumed merge did not resume (nothing reported as merged before)");
        }

        heading("compare the merged base with expected/: types, contents, permission bits, symbolic link targets,"
                + " hard links");
        List<String> diff = compareTrees(expected, base);
        Tree merged = Tree.of(base);
        say(
                "%d entries compared (%d files, %d directories, %d symbolic links, %d hard link groups): %s",
                merged.entries.size(),
                merged.count('f'),
                merged.count('d'),
                merged.count('l'),
                merged.hardLinkGroups().size(),
                diff.isEmpty() ? "identical" : diff.size() + " DIFFERENCES");
        diff.stream().limit(20).forEach(d -> say("  %s", d));
        problems.addAll(diff);
        long upperLeft;
        try (Stream<Path> s = Files.list(upper)) {
            upperLeft = s.count();
        }
        say("entries left in UPPER: %d", upperLeft);
        if (upperLeft != 0) {
            problems.add("UPPER still has " + upperLeft + " entries after --empty-upper");
        }
        return problems.isEmpty() ? pass(start) : fail(start, problems);
    }

    private int pass(long start) {
        out.println();
        out.printf(
                "holdfast demo --overlay: PASS in %.0f s: the workload was served over a disk with unreadable"
                        + " files, status listed them, the merge survived SIGKILL and the base equals the expected"
                        + " tree%n",
                (System.nanoTime() - start) / 1e9);
        return 0;
    }

    private int fail(long start, List<String> problems) {
        out.println();
        out.printf("holdfast demo --overlay: FAIL after %.0f s:%n", (System.nanoTime() - start) / 1e9);
        problems.forEach(p -> out.println("  " + p));
        out.println("  (everything is kept in " + dir + ")");
        return 1;
    }

    private static Path journal(Path upper) {
        return upper.resolveSibling("." + upper.getFileName() + ".overlay-work").resolve("merge.journal");
    }

    private void heading(String what) {
        step++;
        out.println();
        out.println("step " + step + "/" + STEPS + ": " + what);
        out.flush();
    }

    private void say(String fmt, Object... args) {
        out.println("  " + String.format(fmt, args));
        out.flush();
    }

    /** Removes what an earlier run left in {@code DATA/overlay} (unmounting its mount point first). */
    private void prepare() throws IOException, InterruptedException {
        Path mnt = dir.resolve("mnt");
        if (Files.readAllLines(Path.of("/proc/mounts")).stream().anyMatch(l -> l.contains(" " + mnt + " "))) {
            say("unmounting a leftover mount at %s", mnt);
            run(List.of("fusermount3", "-u", "-z", mnt.toString()), null);
        }
        if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
        Files.createDirectories(dir);
    }

    // ---- the base tree -----------------------------------------------------------------------

    static final class Shape {
        int files;
        int dirs;
        int links;
        int hardLinks;
        long bytes;
    }

    /** Builds the base tree, the same bytes every run (a fixed seed). */
    static Shape buildBase(Path base) throws IOException {
        Shape s = new Shape();
        Random random = new Random(20261206L);
        for (String d :
                List.of("docs", "mail/cur", "mail/new", "src/a", "src/b/include", "photos/2019", "photos/old", "bin")) {
            Files.createDirectories(base.resolve(d));
        }
        for (int i = 1; i <= 40; i++) {
            s.bytes += text(base.resolve(String.format("docs/report-%02d.txt", i)), "Report " + i, 20 + i * 3);
        }
        s.bytes += text(base.resolve("docs/notes.txt"), "Notes", 30);
        s.bytes += binary(base.resolve("docs/manual.pdf"), 256 << 10, random);
        Files.createLink(base.resolve("docs/manual-copy.pdf"), base.resolve("docs/manual.pdf"));
        s.hardLinks++;
        for (int i = 1; i <= 120; i++) {
            s.bytes += text(base.resolve(String.format("mail/cur/%04d.eml", i)), "Subject: message " + i, 10 + i % 40);
        }
        for (int i = 1; i <= 30; i++) {
            s.bytes += text(base.resolve(String.format("mail/new/%04d.eml", i)), "Subject: new " + i, 12);
        }
        for (int i = 1; i <= 20; i++) {
            s.bytes += text(base.resolve(String.format("src/a/File%02d.java", i)), "class File" + i + " {}", 15);
            s.bytes += text(base.resolve(String.format("src/b/file%02d.c", i)), "int f" + i + "(void);", 15);
        }
        s.bytes += text(base.resolve("src/b/include/api.h"), "#pragma once", 5);
        for (int i = 1; i <= 30; i++) {
            s.bytes += binary(base.resolve(String.format("photos/2019/img-%03d.jpg", i)), (16 + i) << 10, random);
        }
        for (int i = 1; i <= 10; i++) {
            s.bytes += binary(base.resolve(String.format("photos/old/img-%03d.jpg", i)), 8 << 10, random);
        }
        s.bytes += text(base.resolve("bin/run.sh"), "#!/bin/sh\necho running", 1);
        Files.setPosixFilePermissions(base.resolve("bin/run.sh"), PosixFilePermissions.fromString("rwxr-xr-x"));
        s.bytes += text(base.resolve("bin/secret.key"), "not really a key", 4);
        Files.setPosixFilePermissions(base.resolve("bin/secret.key"), PosixFilePermissions.fromString("rw-------"));
        Files.createSymbolicLink(base.resolve("docs/latest"), Path.of("report-40.txt"));
        Files.createSymbolicLink(base.resolve("current-mail"), Path.of("mail/cur"));
        Files.createSymbolicLink(base.resolve("src/b/lib"), Path.of("../a"));
        Files.createSymbolicLink(base.resolve("bin/broken"), Path.of("../nowhere"));
        Tree t = Tree.of(base);
        s.files = t.count('f');
        s.dirs = t.count('d');
        s.links = t.count('l');
        return s;
    }

    private static long text(Path p, String first, int lines) throws IOException {
        StringBuilder b = new StringBuilder(first).append('\n');
        for (int i = 0; i < lines; i++) {
            b.append("line ").append(i).append(" of ").append(p.getFileName()).append('\n');
        }
        byte[] bytes = b.toString().getBytes(StandardCharsets.UTF_8);
        Files.write(p, bytes);
        return bytes.length;
    }

    private static long binary(Path p, int size, Random random) throws IOException {
        byte[] bytes = new byte[size];
        random.nextBytes(bytes);
        Files.write(p, bytes);
        return size;
    }

    // ---- comparing trees ---------------------------------------------------------------------

    /** One entry: type ('f', 'd', 'l', 'o'), permission bits, content digest or link target, inode. */
    record Entry(char type, int mode, String content, long inode, int links) {}

    /** A tree's entries by path relative to its root (the root itself left out). */
    record Tree(Map<String, Entry> entries) {
        static Tree of(Path root) throws IOException {
            Map<String, Entry> entries = new TreeMap<>();
            try (Stream<Path> s = Files.walk(root)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    if (p.equals(root)) {
                        continue;
                    }
                    int mode = (int) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
                    long inode = (long) Files.getAttribute(p, "unix:ino", LinkOption.NOFOLLOW_LINKS);
                    int nlink = (int) Files.getAttribute(p, "unix:nlink", LinkOption.NOFOLLOW_LINKS);
                    char type;
                    String content = "";
                    if (Files.isSymbolicLink(p)) {
                        type = 'l';
                        content = Files.readSymbolicLink(p).toString();
                    } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                        type = 'd';
                    } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                        type = 'f';
                        content = sha256(p);
                    } else {
                        type = 'o';
                    }
                    entries.put(
                            root.relativize(p).toString(),
                            new Entry(type, type == 'l' ? 0 : mode & 07777, content, inode, nlink));
                }
            }
            return new Tree(entries);
        }

        int count(char type) {
            return (int) entries.values().stream().filter(e -> e.type == type).count();
        }

        /** The sets of names of regular files that are hard links of each other. */
        Set<Set<String>> hardLinkGroups() {
            Map<Long, Set<String>> byInode = new TreeMap<>();
            entries.forEach((name, e) -> {
                if (e.type == 'f' && e.links > 1) {
                    byInode.computeIfAbsent(e.inode, k -> new TreeSet<>()).add(name);
                }
            });
            return Set.copyOf(byInode.values());
        }
    }

    /** What differs between two trees, one line per difference; empty if they are the same. */
    static List<String> compareTrees(Path expected, Path actual) throws IOException {
        Tree want = Tree.of(expected);
        Tree got = Tree.of(actual);
        List<String> diff = new ArrayList<>();
        for (Map.Entry<String, Entry> e : want.entries.entrySet()) {
            Entry g = got.entries.get(e.getKey());
            Entry w = e.getValue();
            if (g == null) {
                diff.add("missing: " + e.getKey());
            } else if (g.type != w.type) {
                diff.add("type differs: " + e.getKey() + " (" + w.type + " expected, " + g.type + ")");
            } else if (g.mode != w.mode) {
                diff.add(String.format("mode differs: %s (%04o expected, %04o)", e.getKey(), w.mode, g.mode));
            } else if (!g.content.equals(w.content)) {
                diff.add((w.type == 'l' ? "link target" : "content") + " differs: " + e.getKey());
            }
        }
        for (String name : got.entries.keySet()) {
            if (!want.entries.containsKey(name)) {
                diff.add("unexpected: " + name);
            }
        }
        Set<Set<String>> wantLinks = want.hardLinkGroups();
        Set<Set<String>> gotLinks = got.hardLinkGroups();
        if (!wantLinks.equals(gotLinks)) {
            diff.add("hard links differ: " + wantLinks + " expected, " + gotLinks);
        }
        return diff;
    }

    private static String sha256(Path p) throws IOException {
        try (InputStream in = Files.newInputStream(p)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---- processes ---------------------------------------------------------------------------

    record Result(int exit, String output) {}

    /** Runs {@code sh -c command} in {@code cwd}, output and errors together, within two minutes. */
    private static Result sh(String command, Path cwd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("sh", "-c", command)
                .directory(cwd.toFile())
                .redirectErrorStream(true)
                .start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("'" + command + "' in " + cwd + " did not finish within 120 s");
        }
        return new Result(p.exitValue(), output);
    }

    private static void run(List<String> cmd, Path cwd) throws IOException, InterruptedException {
        ProcessBuilder b = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (cwd != null) {
            b.directory(cwd.toFile());
        }
        Process p = b.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + output.strip());
        }
    }

    /** Starts {@code holdfast ARGS} as a separate JVM (this one's class path), output and errors merged. */
    private Child startHoldfast(List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow",
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName()));
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        children.add(p);
        return new Child(p);
    }

    /** A child process whose output lines are read by a thread of their own as they come. */
    static final class Child {
        private static final String END = new String("end of output"); // identity marks the end

        final Process process;
        private final BlockingQueue<String> queue = new LinkedBlockingQueue<>();
        private final List<String> seen = new ArrayList<>();

        Child(Process process) {
            this.process = process;
            Thread reader = new Thread(
                    () -> {
                        try (BufferedReader r = new BufferedReader(
                                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                            for (String l; (l = r.readLine()) != null; ) {
                                queue.add(l);
                            }
                        } catch (IOException e) {
                            queue.add("(output unreadable: " + e.getMessage() + ")");
                        } finally {
                            queue.add(END);
                        }
                    },
                    "holdfast-overlay-demo-output");
            reader.setDaemon(true);
            reader.start();
        }

        interface LineTest {
            boolean test(String line);
        }

        /**
         * Takes output lines until one passes {@code test} (returned), the output ends (null) or
         * {@code seconds} pass (null).
         */
        synchronized String awaitLine(LineTest test, int seconds) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (true) {
                long left = deadline - System.nanoTime();
                String l = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : null;
                if (l == null) {
                    return null;
                }
                if (l == END) {
                    queue.add(END);
                    return null;
                }
                seen.add(l);
                if (test.test(l)) {
                    return l;
                }
            }
        }

        /** Waits for the process to end (killing it after {@code seconds}) and for all its output. */
        int awaitExit(int seconds) throws InterruptedException {
            if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
            drain(30);
            return process.exitValue();
        }

        /** Takes output lines until the output ends or {@code seconds} pass. */
        void drain(int seconds) throws InterruptedException {
            awaitLine(l -> false, seconds);
        }

        /** Every line taken so far (after {@link #awaitExit} or {@link #drain}: all of them). */
        synchronized List<String> lines() {
            return List.copyOf(seen);
        }
    }
}
