package io.holdfast.testkit;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A {@link LazyDisk} mounted by a child JVM: a directory whose unsynced file data a test can
 * lose on purpose ({@link #crash}, {@link #crashTorn}). The mount lives as long as the child;
 * libfuse's {@code auto_unmount} removes it when the child dies. Not thread-safe.
 */
public final class LazyDiskMount implements AutoCloseable {
    private static final List<String> FUSERMOUNT = List.of("/usr/bin/fusermount3", "/bin/fusermount3");
    private final Path backing;
    private final Path mountPoint;
    private final Path log;
    private Process process;

    private LazyDiskMount(Path backing, Path mountPoint, Path log) {
        this.backing = backing;
        this.mountPoint = mountPoint.toAbsolutePath();
        this.log = log;
    }

    /** Whether a lazy disk can be mounted here: {@code /dev/fuse} and {@code fusermount3} exist. */
    public static boolean isAvailable() {
        return Files.isReadable(Path.of("/dev/fuse"))
                && Files.isWritable(Path.of("/dev/fuse"))
                && FUSERMOUNT.stream().anyMatch(p -> Files.isExecutable(Path.of(p)));
    }

    /**
     * Mounts {@code backing} at {@code mountPoint} (both created if missing) and returns once the
     * mount serves requests.
     *
     * @param log where the child's output goes (appended)
     * @throws IOException if the child cannot start
     * @throws AssertionError if the mount does not come up within two minutes
     */
    public static LazyDiskMount mount(Path backing, Path mountPoint, Path log) throws IOException {
        LazyDiskMount m = new LazyDiskMount(backing, mountPoint, log);
        m.start();
        return m;
    }

    /** The backing directory: what survived the last crash, once the mount is gone. */
    public Path backing() {
        return backing;
    }

    /** The mount point. */
    public Path mountPoint() {
        return mountPoint;
    }

    private void start() throws IOException {
        Files.createDirectories(backing);
        Files.createDirectories(mountPoint);
        long from = Files.exists(log) ? Files.size(log) : 0;
        List<String> cmd = List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-ea",
                "--enable-native-access=ALL-UNNAMED",
                "-Xmx768m",
                "-cp",
                System.getProperty("java.class.path"),
                LazyDisk.class.getName(),
                backing.toAbsolutePath().toString(),
                mountPoint.toString());
        process = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
        Process p = process;
        MiniCluster.await(
                Duration.ofSeconds(120),
                () -> {
                    if (!p.isAlive()) {
                        throw new AssertionError(
                                "the lazy disk at " + mountPoint + " exited with " + p.exitValue() + "; log " + log);
                    }
                    return logSince(from).contains(LazyDisk.READY) && mounted();
                },
                "the lazy disk is mounted at " + mountPoint + " (log " + log + ")");
    }

    private String logSince(long from) {
        try {
            byte[] all = Files.readAllBytes(log);
            int at = (int) Math.min(from, all.length);
            return new String(all, at, all.length - at, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    /** Whether the kernel lists the mount point as a mount. */
    boolean mounted() {
        try {
            String target = " " + mountPoint + " ";
            return Files.readAllLines(Path.of("/proc/self/mountinfo")).stream().anyMatch(l -> l.contains(target));
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Crashes the disk: every write not fsynced is lost. Whoever still uses the mount must be
     * gone first (kill it), as after a power loss. Returns once the mount is gone; {@link #remount}
     * brings the directory back with what survived.
     */
    public void crash() throws IOException {
        command("crash");
    }

    /**
     * Crashes the disk, torn: a random half (by {@code seed}) of the unsynced pages, some of them
     * in part, reach the backing files first, the rest is lost.
     */
    public void crashTorn(long seed) throws IOException {
        command("crash-torn " + seed);
    }

    private void command(String c) throws IOException {
        Process p = process;
        if (p == null) {
            throw new IllegalStateException("the lazy disk at " + mountPoint + " is not mounted");
        }
        process = null;
        OutputStream in = p.getOutputStream();
        in.write((c + "\n").getBytes(StandardCharsets.UTF_8));
        in.flush();
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted crashing the lazy disk");
        }
        awaitUnmounted();
    }

    private void awaitUnmounted() throws IOException {
        try {
            MiniCluster.await(Duration.ofSeconds(20), () -> !mounted(), "auto_unmount removes " + mountPoint);
        } catch (AssertionError e) {
            String fusermount = FUSERMOUNT.stream()
                    .filter(f -> Files.isExecutable(Path.of(f)))
                    .findFirst()
                    .orElseThrow();
            try {
                new ProcessBuilder(fusermount, "-u", "-z", mountPoint.toString())
                        .inheritIO()
                        .start()
                        .waitFor(30, TimeUnit.SECONDS);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
            MiniCluster.await(Duration.ofSeconds(20), () -> !mounted(), "fusermount3 -u removes " + mountPoint);
        }
    }

    /** Mounts the backing directory again after a crash (what survived it). */
    public void remount() throws IOException {
        if (process != null) {
            throw new IllegalStateException("the lazy disk at " + mountPoint + " is still mounted");
        }
        start();
    }

    /** Syncs every file and unmounts (a clean shutdown). Idempotent. */
    @Override
    public void close() throws IOException {
        Process p = process;
        if (p == null) {
            return;
        }
        process = null;
        NodeProcess.tellToStop(p);
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
        }
        awaitUnmounted();
    }
}
