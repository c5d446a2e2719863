package io.holdfast.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Measures replication lag the way a mail administrator sees it: maildir deliveries into a source
 * tree at a fixed rate (write {@code tmp/N}, fsync, rename to {@code new/N}), and for each message
 * the time from the end of its rename at the source to its complete arrival under {@code new/} at
 * the target (a replicator that keeps files atomic makes a file appear there by a rename, so its
 * appearance is its arrival). Whatever replicates (lsyncd, {@code holdfast mirror}, geo-replication)
 * runs meanwhile; this class only writes the source and watches the target (inotify, through the
 * JDK's {@link WatchService}, with a directory listing after an overflow).
 *
 * <p>Times are {@link System#nanoTime()} of this process, so the source and the target must be
 * visible to it (a target on another machine needs a local mount of it). Not thread-safe: one
 * measurement at a time.
 */
public final class ReplicationLag {
    /** Bytes of each message. */
    public static final int MESSAGE_BYTES = 4096;

    /**
     * The outcome of one run.
     *
     * @param ratePerSecond the delivery rate asked for
     * @param delivered messages delivered at the source
     * @param achievedPerSecond delivered / the time the deliveries took
     * @param arrived messages seen at the target by the end of the drain time
     * @param p50Millis median lag of the arrived ones, milliseconds
     * @param p99Millis 99th percentile, milliseconds
     * @param maxMillis largest, milliseconds
     */
    public record Result(
            int ratePerSecond,
            int delivered,
            double achievedPerSecond,
            int arrived,
            double p50Millis,
            double p99Millis,
            double maxMillis) {
        /** Messages delivered but not seen at the target. */
        public int missing() {
            return delivered - arrived;
        }
    }

    /** What the messages hold. */
    public enum Body {
        /** One byte repeated (compresses to almost nothing). */
        FILLED,
        /** Mail-like text: headers and sentences of a small vocabulary (zstd: about 4:1). */
        TEXT,
        /** Random bytes (incompressible, as attachments already compressed). */
        RANDOM
    }

    private final Path source;
    private final Path target;
    private final Consumer<String> progress;
    private Body body = Body.FILLED;
    private int messageBytes = MESSAGE_BYTES;

    /**
     * @param source the replicated source tree; {@code source/tmp} and {@code source/new} are made
     * @param target where the replicator puts the copy of {@code source}
     * @param progress receives one line now and then
     */
    public ReplicationLag(Path source, Path target, Consumer<String> progress) {
        this.source = Objects.requireNonNull(source, "source");
        this.target = Objects.requireNonNull(target, "target");
        this.progress = Objects.requireNonNull(progress, "progress");
    }

    /**
     * Sets what the messages of later runs hold (default {@link Body#FILLED}, {@value #MESSAGE_BYTES}
     * bytes).
     *
     * @param bytes each message's size, 1 to 16 MiB
     * @throws IllegalArgumentException if {@code bytes} is outside its range
     */
    public ReplicationLag withBody(Body kind, int bytes) {
        if (bytes < 1 || bytes > 16 << 20) {
            throw new IllegalArgumentException("message of " + bytes + " bytes, outside 1..16 MiB");
        }
        this.body = Objects.requireNonNull(kind, "kind");
        this.messageBytes = bytes;
        return this;
    }

    /** A message body of {@code bytes} bytes of the kind given (seeded: the same every run). */
    static byte[] body(Body kind, int bytes) {
        Random random = new Random(15);
        byte[] b = new byte[bytes];
        switch (kind) {
            case FILLED -> Arrays.fill(b, (byte) 'm');
            case RANDOM -> random.nextBytes(b);
            case TEXT -> {
                String[] words = {
                    "the",
                    "quarterly",
                    "report",
                    "meeting",
                    "please",
                    "find",
                    "attached",
                    "regards",
                    "figures",
                    "budget",
                    "schedule",
                    "tomorrow",
                    "review",
                    "project",
                    "customer",
                    "invoice",
                    "thanks",
                    "update",
                    "team",
                    "agenda",
                    "and",
                    "of",
                    "to",
                    "we",
                    "will",
                    "for",
                    "with",
                    "is",
                    "our",
                    "next"
                };
                StringBuilder t = new StringBuilder("Return-Path: <alice@example.org>\n"
                        + "Received: from mx.example.org by mail.example.net with ESMTPS\n"
                        + "From: Alice <alice@example.org>\nTo: Bob <bob@example.net>\n"
                        + "Subject: re: the quarterly report\nMessage-ID: <4711@example.org>\n\n");
                while (t.length() < bytes) {
                    int n = 5 + random.nextInt(12);
                    for (int i = 0; i < n; i++) {
                        t.append(i == 0 ? "" : " ").append(words[random.nextInt(words.length)]);
                    }
                    t.append(random.nextInt(8) == 0 ? ".\n\n" : ". ");
                }
                byte[] ascii = t.toString().getBytes(StandardCharsets.US_ASCII);
                System.arraycopy(ascii, 0, b, 0, bytes);
            }
        }
        return b;
    }

    /** Makes {@code source/tmp} and {@code source/new} and waits until {@code target/new} exists. */
    public void prepare(Duration timeout) throws IOException, InterruptedException {
        Files.createDirectories(source.resolve("tmp"));
        Files.createDirectories(source.resolve("new"));
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!Files.isDirectory(target.resolve("new"))) {
            if (System.nanoTime() - deadline > 0) {
                throw new IOException("the replicator did not make " + target.resolve("new") + " within " + timeout);
            }
            Thread.sleep(10); // polling a directory that another process makes: no event to wait for
        }
    }

    /**
     * Delivers {@code rate} messages a second for {@code duration} from {@code writers} threads
     * (numbered from {@code first}, so runs can share a tree), then waits up to {@code drain} for
     * the last ones to arrive.
     *
     * @throws IOException if writing the source or watching the target fails
     */
    public Result run(int rate, Duration duration, Duration drain, int writers, int first)
            throws IOException, InterruptedException {
        if (rate < 1 || writers < 1) {
            throw new IllegalArgumentException("rate " + rate + "/s from " + writers + " writers");
        }
        int count = (int) Math.max(1, Math.round(rate * duration.toNanos() / 1e9));
        AtomicLongArray renamed = new AtomicLongArray(count);
        AtomicLongArray arrivedAt = new AtomicLongArray(count);
        AtomicInteger arrived = new AtomicInteger();
        Path targetNew = target.resolve("new");
        byte[] body = body(this.body, messageBytes);
        try (WatchService watch = FileSystems.getDefault().newWatchService()) {
            targetNew.register(watch, StandardWatchEventKinds.ENTRY_CREATE);
            Thread observer = Thread.ofPlatform().daemon().name("lag-observer").start(() -> {
                try {
                    observe(watch, targetNew, first, count, arrivedAt, arrived);
                } catch (ClosedWatchServiceException e) {
                    // done
                }
            });
            long start = System.nanoTime() + 50_000_000L;
            long intervalNanos = 1_000_000_000L / rate;
            AtomicInteger next = new AtomicInteger();
            ExecutorService pool = Executors.newFixedThreadPool(writers);
            try {
                List<Future<?>> done = Stream.<Future<?>>generate(() -> pool.submit(() -> {
                            for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
                                long due = start + i * intervalNanos;
                                long wait = due - System.nanoTime();
                                if (wait > 0) {
                                    LockSupport.parkNanos(wait);
                                }
                                deliver(first + i, body);
                                renamed.set(i, System.nanoTime());
                            }
                            return null;
                        }))
                        .limit(writers)
                        .toList();
                for (Future<?> f : done) {
                    f.get();
                }
            } catch (ExecutionException e) {
                throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
            } finally {
                pool.shutdownNow();
            }
            long written = System.nanoTime();
            double achieved = count / ((written - start) / 1e9);
            progress.accept(String.format(
                    "%d messages delivered at %.0f/s (asked %d/s); waiting for the last to arrive",
                    count, achieved, rate));
            long drainDeadline = written + drain.toNanos();
            long lastScan = System.nanoTime();
            while (arrived.get() < count && System.nanoTime() - drainDeadline < 0) {
                Thread.sleep(20); // the observer thread counts arrivals; this only bounds the wait
                if (System.nanoTime() - lastScan > 1_000_000_000L) {
                    rescan(targetNew, first, count, arrivedAt, arrived); // in case the watch missed one
                    lastScan = System.nanoTime();
                }
            }
            watch.close();
            observer.join(5_000);
            long[] lags = new long[count];
            int n = 0;
            for (int i = 0; i < count; i++) {
                long a = arrivedAt.get(i);
                if (a != 0) {
                    lags[n++] = Math.max(0, a - renamed.get(i));
                }
            }
            long[] sorted = Arrays.copyOf(lags, n);
            Arrays.sort(sorted);
            return new Result(
                    rate,
                    count,
                    achieved,
                    n,
                    percentile(sorted, 0.50),
                    percentile(sorted, 0.99),
                    n == 0 ? Double.NaN : sorted[n - 1] / 1e6);
        }
    }

    private void deliver(int n, byte[] body) throws IOException {
        Path tmp = source.resolve("tmp").resolve(Integer.toString(n));
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(body);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
        Files.move(tmp, source.resolve("new").resolve(Integer.toString(n)), StandardCopyOption.ATOMIC_MOVE);
    }

    private static void observe(
            WatchService watch, Path dir, int first, int count, AtomicLongArray arrivedAt, AtomicInteger arrived) {
        while (true) {
            WatchKey key;
            try {
                key = watch.take();
            } catch (InterruptedException e) {
                return;
            }
            long now = System.nanoTime();
            for (WatchEvent<?> e : key.pollEvents()) {
                if (e.kind() == StandardWatchEventKinds.OVERFLOW) {
                    rescan(dir, first, count, arrivedAt, arrived);
                } else if (e.context() instanceof Path p) {
                    record(p.toString(), now, first, count, arrivedAt, arrived);
                }
            }
            if (!key.reset()) {
                return;
            }
        }
    }

    /** Records every message present in {@code dir} not yet recorded, as arrived now (an upper bound). */
    private static void rescan(Path dir, int first, int count, AtomicLongArray arrivedAt, AtomicInteger arrived) {
        long now = System.nanoTime();
        try (Stream<Path> s = Files.list(dir)) {
            s.forEach(p -> record(p.getFileName().toString(), now, first, count, arrivedAt, arrived));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void record(
            String name, long now, int first, int count, AtomicLongArray arrivedAt, AtomicInteger arrived) {
        int n;
        try {
            n = Integer.parseInt(name) - first;
        } catch (NumberFormatException e) {
            return; // a replicator's temporary name
        }
        if (n >= 0 && n < count && arrivedAt.compareAndSet(n, 0, now)) {
            arrived.incrementAndGet();
        }
    }

    private static double percentile(long[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1e6;
    }
}
