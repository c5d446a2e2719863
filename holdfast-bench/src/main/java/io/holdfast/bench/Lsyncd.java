package io.holdfast.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * lsyncd (Debian package {@code lsyncd}) replicating a directory with rsync, as the lag bench's
 * peer: {@code default.rsync} with the given delay (lsyncd's own default is 15 s; the issue's
 * comparison uses {@code delay = 1}). Runs in the foreground as a child process until closed.
 * Not thread-safe.
 */
public final class Lsyncd implements AutoCloseable {
    private final Process process;
    private final Path log;

    private Lsyncd(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    /**
     * Starts {@code lsyncd} syncing {@code source} to {@code target}, its configuration and log in
     * {@code work}.
     *
     * @param delay lsyncd's {@code delay}: how long it collects events before it runs rsync
     * @throws IOException if lsyncd is not installed or does not start
     */
    public static Lsyncd start(Path source, Path target, Path work, Duration delay) throws IOException {
        Objects.requireNonNull(delay, "delay");
        Files.createDirectories(work);
        Files.createDirectories(target);
        Path config = work.resolve("lsyncd.conf.lua");
        Path log = work.resolve("lsyncd.log");
        Files.writeString(
                config,
                String.format(
                        """
                        settings { logfile = "%s", statusFile = "%s", statusInterval = 10, insist = true }
                        sync { default.rsync, source = "%s/", target = "%s/", delay = %s,
                               rsync = { archive = true } }
                        """,
                        lua(log),
                        lua(work.resolve("lsyncd.status")),
                        lua(source),
                        lua(target),
                        delay.toMillis() / 1000.0));
        Process p;
        try {
            p = new ProcessBuilder(List.of("lsyncd", "-nodaemon", config.toString()))
                    .redirectErrorStream(true)
                    .redirectOutput(work.resolve("lsyncd.out").toFile())
                    .start();
        } catch (IOException e) {
            throw new IOException("cannot start lsyncd (apt-get install lsyncd rsync): " + e.getMessage(), e);
        }
        return new Lsyncd(p, log);
    }

    private static String lua(Path p) {
        String s = p.toAbsolutePath().toString();
        if (s.contains("\"") || s.contains("\\")) {
            throw new IllegalArgumentException("path not usable in an lsyncd configuration: " + s);
        }
        return s;
    }

    /** The log lsyncd writes. */
    public Path log() {
        return log;
    }

    /** Stops lsyncd (SIGTERM, then SIGKILL after 5 s). */
    @Override
    public void close() throws IOException {
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
