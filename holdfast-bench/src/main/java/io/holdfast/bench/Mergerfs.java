package io.holdfast.bench;

import io.holdfast.common.Executables;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A mergerfs mount run in the foreground as a child process, laid out like an overlay: the upper
 * branch first and read-write, the lower branch no-create ({@code =NC}), creates on the first
 * branch found ({@code category.create=ff}: always the upper one, cloning the directory path
 * there), no page caching by mergerfs ({@code cache.files=off}) and the same attribute and entry
 * cache timeouts as the overlay's mount. mergerfs has no copy-up: a changed lower file is changed
 * in place. Closing unmounts and waits for the process; if the JVM exits first (Ctrl-C), a shutdown
 * hook unmounts lazily and ends mergerfs. Not thread-safe.
 */
final class Mergerfs implements AutoCloseable {
    private static final long MOUNT_WAIT_NANOS = 15_000_000_000L;

    private final Process process;
    private final Path mountPoint;
    private final Path log;
    /** Unmounts if the JVM exits (Ctrl-C) before {@link #close}: mergerfs would outlive it. */
    private final Thread onExit;

    private Mergerfs(Process process, Path mountPoint, Path log) {
        this.process = process;
        this.mountPoint = mountPoint;
        this.log = log;
        this.onExit = new Thread(
                () -> {
                    try {
                        run("fusermount3", "-u", "-z", mountPoint.toString());
                    } catch (IOException | InterruptedException e) {
                        // exiting anyway; destroy the process below
                    }
                    process.destroy();
                },
                "holdfast-bench-mergerfs-unmount");
        Runtime.getRuntime().addShutdownHook(onExit);
    }

    /** The {@code mergerfs} executable on {@code PATH}, if any. */
    static Optional<Path> find() {
        return Executables.find("mergerfs");
    }

    /** The first line of {@code mergerfs --version}, or "unknown version". */
    static String version(Path exe) {
        try {
            Process p = new ProcessBuilder(exe.toString(), "--version")
                    .redirectErrorStream(true)
                    .start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(10, TimeUnit.SECONDS);
            return out.lines().findFirst().orElse("unknown version").strip();
        } catch (IOException e) {
            return "unknown version (" + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown version";
        }
    }

    /** The {@code -o} options used for a mount with these cache timeouts. */
    static String options(int cacheTimeoutSeconds) {
        return "category.create=ff,cache.files=off,cache.attr=" + cacheTimeoutSeconds + ",cache.entry="
                + cacheTimeoutSeconds + ",cache.negative_entry=" + cacheTimeoutSeconds
                + ",fsname=holdfast-bench-mergerfs";
    }

    /**
     * Mounts {@code upper=RW:lower=NC} at {@code mountPoint} and returns once it is in the mount table.
     *
     * @throws IllegalArgumentException if a path contains {@code :} or {@code =} (branch syntax)
     * @throws IOException if mergerfs cannot start or exits, or the mount does not appear within
     *     15 s (the message holds mergerfs's output)
     */
    static Mergerfs mount(Path exe, Path upper, Path lower, Path mountPoint, int cacheTimeoutSeconds, Path log)
            throws IOException, InterruptedException {
        for (Path p : List.of(upper, lower)) {
            if (p.toString().contains(":") || p.toString().contains("=")) {
                throw new IllegalArgumentException("a mergerfs branch cannot contain ':' or '=': " + p);
            }
        }
        Path mnt = mountPoint.toRealPath();
        Process p = new ProcessBuilder(
                        exe.toString(),
                        "-f",
                        "-o",
                        options(cacheTimeoutSeconds),
                        upper.toRealPath() + "=RW:" + lower.toRealPath() + "=NC",
                        mnt.toString())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        long deadline = System.nanoTime() + MOUNT_WAIT_NANOS;
        while (!isMounted(mnt)) {
            if (!p.isAlive()) {
                throw new IOException("mergerfs exited with " + p.exitValue() + " before mounting: " + tail(log));
            }
            if (System.nanoTime() - deadline > 0) {
                p.destroyForcibly();
                throw new IOException("mergerfs did not mount " + mnt + " within 15 s: " + tail(log));
            }
            Thread.sleep(20);
        }
        return new Mergerfs(p, mnt, log);
    }

    /** Whether {@code mnt} (a real path without spaces) is a mount point in this process's namespace. */
    static boolean isMounted(Path mnt) throws IOException {
        String want = mnt.toString();
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/mountinfo"))) {
            return lines.map(l -> l.split(" ")).anyMatch(f -> f.length > 4 && f[4].equals(want));
        }
    }

    /** Unmounts ({@code fusermount3 -u}, lazily if busy) and waits for mergerfs to exit. */
    @Override
    public void close() throws IOException, InterruptedException {
        try {
            Runtime.getRuntime().removeShutdownHook(onExit);
        } catch (IllegalStateException e) {
            return; // the JVM is exiting: the hook unmounts
        }
        if (isMounted(mountPoint)) {
            int rc = run("fusermount3", "-u", mountPoint.toString());
            if (rc != 0) {
                run("fusermount3", "-u", "-z", mountPoint.toString());
            }
        }
        if (!process.waitFor(15, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            process.waitFor(5, TimeUnit.SECONDS);
        }
    }

    private static int run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        if (!p.waitFor(15, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return -1;
        }
        return p.exitValue();
    }

    private static String tail(Path log) {
        try {
            String s = Files.readString(log, StandardCharsets.UTF_8).strip();
            return s.length() > 2000 ? s.substring(s.length() - 2000) : s;
        } catch (IOException e) {
            return "(no output: " + e.getMessage() + ")";
        }
    }

    @Override
    public String toString() {
        return "mergerfs at " + mountPoint + " (log " + log + ")";
    }
}
