package io.holdfast.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The lag measurement against a replicator of known behaviour: a copier thread in this process. */
class ReplicationLagTest {
    @TempDir
    Path tmp;

    /**
     * Copies {@code source/new/N} to {@code target/new/N} (temp name, then rename) every 10 ms; with
     * {@code skipOdd} it never copies odd-numbered messages.
     */
    private static Thread copier(Path source, Path target, boolean skipOdd, AtomicBoolean stop) {
        return Thread.ofPlatform().daemon().start(() -> {
            try {
                Files.createDirectories(target.resolve("new"));
                while (!stop.get()) {
                    List<Path> files = new ArrayList<>();
                    if (Files.isDirectory(source.resolve("new"))) {
                        try (Stream<Path> s = Files.list(source.resolve("new"))) {
                            s.forEach(files::add);
                        }
                    }
                    for (Path f : files) {
                        String name = f.getFileName().toString();
                        Path to = target.resolve("new").resolve(name);
                        if ((skipOdd && Integer.parseInt(name) % 2 == 1) || Files.exists(to)) {
                            continue;
                        }
                        Path temp = target.resolve("new").resolve("." + name + ".tmp");
                        Files.copy(f, temp, StandardCopyOption.REPLACE_EXISTING);
                        Files.move(temp, to, StandardCopyOption.ATOMIC_MOVE);
                    }
                    Thread.sleep(10);
                }
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    void measuresTheLagOfEveryMessageThatArrives() throws Exception {
        Path source = tmp.resolve("source");
        Path target = tmp.resolve("target");
        AtomicBoolean stop = new AtomicBoolean();
        Thread t = copier(source, target, false, stop);
        try {
            ReplicationLag lag = new ReplicationLag(source, target, s -> {});
            lag.prepare(Duration.ofSeconds(30));
            ReplicationLag.Result r = lag.run(100, Duration.ofSeconds(1), Duration.ofSeconds(30), 2, 0);
            assertThat(r.delivered()).isEqualTo(100);
            assertThat(r.arrived()).isEqualTo(100);
            assertThat(r.missing()).isZero();
            assertThat(r.p50Millis()).isPositive().isLessThanOrEqualTo(r.p99Millis());
            assertThat(r.p99Millis()).isLessThanOrEqualTo(r.maxMillis());
            try (Stream<Path> s = Files.list(target.resolve("new"))) {
                assertThat(s.filter(p -> !p.getFileName().toString().startsWith(".")))
                        .hasSize(100);
            }
        } finally {
            stop.set(true);
            t.join();
        }
    }

    @Test
    void messagesThatNeverArriveAreCountedMissing() throws Exception {
        Path source = tmp.resolve("source");
        Path target = tmp.resolve("target");
        AtomicBoolean stop = new AtomicBoolean();
        Thread t = copier(source, target, true, stop);
        try {
            ReplicationLag lag = new ReplicationLag(source, target, s -> {});
            lag.prepare(Duration.ofSeconds(30));
            ReplicationLag.Result r = lag.run(50, Duration.ofSeconds(1), Duration.ofSeconds(2), 1, 1000);
            assertThat(r.delivered()).isEqualTo(50);
            assertThat(r.arrived()).isEqualTo(25);
            assertThat(r.missing()).isEqualTo(25);
        } finally {
            stop.set(true);
            t.join();
        }
    }

    @Test
    void messageBodiesAreOfTheSizeAndKindAsked() {
        byte[] filled = ReplicationLag.body(ReplicationLag.Body.FILLED, 100);
        assertThat(filled).hasSize(100).containsOnly((byte) 'm');
        byte[] text = ReplicationLag.body(ReplicationLag.Body.TEXT, 20_000);
        assertThat(text).hasSize(20_000);
        String mail = new String(text, StandardCharsets.US_ASCII);
        assertThat(mail).startsWith("Return-Path: ").contains("\n\n").contains("quarterly");
        byte[] random = ReplicationLag.body(ReplicationLag.Body.RANDOM, 20_000);
        assertThat(random).hasSize(20_000).isEqualTo(ReplicationLag.body(ReplicationLag.Body.RANDOM, 20_000));
        assertThat(IntStream.range(0, 256)
                        .filter(b -> {
                            for (byte x : random) {
                                if ((x & 0xff) == b) {
                                    return true;
                                }
                            }
                            return false;
                        })
                        .count())
                .as("every byte value occurs in random data")
                .isEqualTo(256);
    }
}
