package io.holdfast.bench;

import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.SplittableRandom;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The foreground of {@link OverlayBench}: at a fixed rate of cycles per second, one cycle is a
 * maildir delivery into {@code fg/} of the mount (create {@code tmp/N}, write 4 KiB, fsync, close,
 * rename to {@code new/N}) and one read (stat and read of up to 4 KiB) of a random small file of
 * the merged set. Each operation's latency, from its start, is recorded in the current phase; a
 * cycle that starts late (the previous one ran long) starts at once, without catching up in a
 * burst. {@link #nextPhase} ends one phase after the operation under way.
 *
 * <p>Threads: one daemon thread runs the loop after {@link #start}; {@link #nextPhase} and {@link
 * #close} are for one other thread.
 */
final class OverlayForeground implements AutoCloseable {
    /** Latencies one phase keeps per kind; later operations are counted as done but not timed. */
    static final int MAX_SAMPLES = 1 << 22;

    private final Path mount;
    private final OverlayBenchScale scale;
    private final byte[] message;
    private final SplittableRandom random;
    private final ReentrantLock lock = new ReentrantLock(true);
    private final Thread thread;
    private volatile boolean stop;
    private volatile Throwable crashed;
    private PhaseSamples current = phase(System.nanoTime()); // guarded by lock

    OverlayForeground(Path mount, OverlayBenchScale scale, long seed) {
        this.mount = mount;
        this.scale = scale;
        this.message = OverlayBench.bytes(OverlayBench.MESSAGE_BYTES, seed + 7);
        this.random = new SplittableRandom(seed + 8);
        this.thread = new Thread(this::loop, "holdfast-bench-overlay-foreground");
        thread.setDaemon(true);
    }

    /** Starts the loop; the first phase begins now. */
    void start() {
        lock.lock();
        try {
            current = phase(System.nanoTime());
        } finally {
            lock.unlock();
        }
        thread.start();
    }

    /**
     * Ends the current phase after the operation under way, and starts the next.
     *
     * @throws IllegalStateException if the loop died of an unexpected exception
     */
    OverlayBenchReport.Phase nextPhase() {
        lock.lock();
        try {
            if (crashed != null) {
                throw new IllegalStateException("the foreground died", crashed);
            }
            long now = System.nanoTime();
            OverlayBenchReport.Phase p = new OverlayBenchReport.Phase(
                    current.seconds(now), current.first(), current.second(), current.failed(), current.failures());
            current = phase(now);
            return p;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() throws InterruptedException {
        stop = true;
        thread.join(60_000);
    }

    private void loop() {
        try {
            long interval = 1_000_000_000L / scale.foregroundRate();
            long next = System.nanoTime();
            ByteBuffer head = ByteBuffer.allocate(OverlayBench.MESSAGE_BYTES);
            for (int n = 0; !stop; n++) {
                long now = System.nanoTime();
                if (next - now > 0) {
                    LockSupport.parkNanos(next - now);
                    continue;
                }
                next = Math.max(next + interval, now);
                int number = n;
                op(true, () -> deliver(number));
                op(false, () -> read(head));
            }
        } catch (RuntimeException | Error e) {
            crashed = e;
        }
    }

    @FunctionalInterface
    private interface Op {
        void run() throws IOException;
    }

    private void op(boolean deliver, Op op) {
        lock.lock();
        try {
            if (stop) {
                return;
            }
            long start = System.nanoTime();
            String failure = null;
            try {
                op.run();
            } catch (IOException e) {
                failure = (deliver ? "deliver: " : "read: ") + e;
            }
            current.record(deliver, System.nanoTime() - start, failure);
        } finally {
            lock.unlock();
        }
    }

    private void deliver(int n) throws IOException {
        Path fg = mount.resolve("fg");
        String name = n + ".M" + n + "P0.fg";
        Path tmp = fg.resolve("tmp").resolve(name);
        ByteBuffer b = ByteBuffer.wrap(message);
        b.putInt(0, n);
        try (FileChannel c = FileChannel.open(tmp, CREATE_NEW, WRITE)) {
            OverlayBench.writeFully(c, b);
            c.force(true);
        }
        Files.move(tmp, fg.resolve("new").resolve(name), StandardCopyOption.ATOMIC_MOVE);
    }

    private void read(ByteBuffer head) throws IOException {
        int i;
        do {
            i = random.nextInt(scale.mergeFiles());
        } while (i % OverlayBenchScale.MERGE_LARGE_EVERY == 0 && scale.mergeFiles() > 1);
        Path file = OverlayBench.mergeFile(mount, i);
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
        long want = scale.mergeFileBytes(i);
        if (a.size() != want) {
            throw new IOException(file + " has " + a.size() + " bytes, not " + want);
        }
        head.clear();
        try (FileChannel c = FileChannel.open(file, READ)) {
            while (head.hasRemaining() && c.read(head) >= 0) {
                // until 4 KiB or the end
            }
        }
        if (head.position() != Math.min(want, head.capacity())) {
            throw new IOException(file + ": read " + head.position() + " bytes of its first " + head.capacity());
        }
    }

    private static PhaseSamples phase(long startNanos) {
        return new PhaseSamples(startNanos, MAX_SAMPLES, false);
    }
}
