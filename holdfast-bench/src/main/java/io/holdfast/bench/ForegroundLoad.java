package io.holdfast.bench;

import io.holdfast.common.Caller;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * A steady small-file client for benchmarks, like a mail delivery agent: one request at a time,
 * in a loop, it creates a 4 KiB file (exclusively), writes it, reads its attributes and reads
 * the first page of its directory; a new directory every {@value #FILES_PER_DIR} files. Every
 * request's latency is recorded in the current <em>phase</em>; {@link #nextPhase} ends one
 * phase and starts the next, so phases are measured back to back by one client.
 *
 * <p>A request never straddles two phases: {@link #nextPhase} waits for the request under way
 * (at most the client's deadline). Each phase keeps at most {@value #MAX_SAMPLES} latencies per
 * kind; later requests are counted but not timed.
 *
 * <p>Threads: one daemon thread runs the loop after {@link #start}; {@link #nextPhase} and
 * {@link #close} are for one other thread.
 */
final class ForegroundLoad implements AutoCloseable {
    /** Size of each file, in bytes. */
    static final int FILE_BYTES = 4096;
    /** Files per directory. */
    static final int FILES_PER_DIR = 1000;
    /** Entries read by each readdir. */
    static final int READDIR_ENTRIES = 64;
    /** Most latencies one phase keeps per kind (writes, reads). */
    static final int MAX_SAMPLES = 1 << 24;
    /** Failure messages one phase keeps. */
    private static final int KEEP_FAILURES = 5;

    private final VolumeService volume;
    private final String root;
    private final Duration deadline;
    private final byte[] content;
    private final int contentCrc;
    /** Held for each request and by {@link #nextPhase}; fair, so a phase change is not starved. */
    private final ReentrantLock requestLock = new ReentrantLock(true);

    private final Thread thread;
    private volatile boolean stop;
    private Recorder current = new Recorder(System.nanoTime()); // guarded by requestLock
    private volatile Throwable crashed;

    /**
     * @param volume the volume to load
     * @param root an existing directory of the volume for this client's files
     * @param deadline the volume client's per-request deadline (a request is abandoned as failed
     *     after it, plus 10 s)
     * @param seed for the files' content
     */
    ForegroundLoad(VolumeService volume, String root, Duration deadline, long seed) {
        this.volume = volume;
        this.root = root;
        this.deadline = deadline;
        this.content = new byte[FILE_BYTES];
        new SplittableRandom(seed).nextBytes(content);
        this.contentCrc = Checksums.crc32c(content);
        this.thread = new Thread(this::loop, "holdfast-bench-foreground");
        thread.setDaemon(true);
    }

    /** Starts the loop; the first phase begins now. */
    void start() {
        requestLock.lock();
        try {
            current = new Recorder(System.nanoTime());
        } finally {
            requestLock.unlock();
        }
        thread.start();
    }

    /**
     * Ends the current phase (after the request under way, if any) and starts the next.
     *
     * @return the phase that ended
     * @throws IllegalStateException if the loop died of an unexpected exception
     */
    CatchUpReport.Phase nextPhase() {
        requestLock.lock();
        try {
            if (crashed != null) {
                throw new IllegalStateException("the foreground client died", crashed);
            }
            long now = System.nanoTime();
            CatchUpReport.Phase p = current.summary(now);
            current = new Recorder(now);
            return p;
        } finally {
            requestLock.unlock();
        }
    }

    /** Stops the loop after the request under way and waits for it. */
    @Override
    public void close() throws InterruptedException {
        stop = true;
        thread.join(deadline.plusSeconds(15).toMillis());
    }

    private void loop() {
        try {
            String dir = root;
            for (long n = 0; !stop; n++) {
                if (n % FILES_PER_DIR == 0) {
                    dir = root + "/d" + n / FILES_PER_DIR;
                    String d = dir;
                    request(true, () -> volume.submit(new Request.Mkdir(Caller.ROOT, d, 0755)));
                }
                String path = dir + "/m" + n;
                String d = dir;
                Response created =
                        request(true, () -> volume.submit(new Request.Create(Caller.ROOT, path, 0644, true)));
                if (!(created instanceof Response.AttrReply a)) {
                    continue; // failed (counted); the next file
                }
                request(
                        true,
                        () -> volume.submit(
                                new Request.Write(Caller.ROOT, a.attr().inode(), 0, content, contentCrc)));
                request(false, () -> volume.query(new Request.GetAttr(path, false)));
                request(false, () -> volume.query(new Request.ReadDir(d, "", READDIR_ENTRIES)));
            }
        } catch (RuntimeException | Error e) {
            crashed = e;
        }
    }

    /**
     * Runs one request and records its latency and outcome in the current phase.
     *
     * @return the reply, or null if it failed or the loop is stopping
     */
    private Response request(boolean write, Supplier<CompletableFuture<Response>> send) {
        requestLock.lock();
        try {
            if (stop) {
                return null;
            }
            long start = System.nanoTime();
            Response reply = null;
            String failure;
            try {
                reply = send.get().get(deadline.plusSeconds(10).toMillis(), TimeUnit.MILLISECONDS);
                failure = reply instanceof Response.Error e ? e.errno() + ": " + e.message() : null;
            } catch (ExecutionException e) {
                failure = String.valueOf(e.getCause() == null ? e : e.getCause().getMessage());
            } catch (TimeoutException e) {
                failure = "no answer within the deadline " + deadline.plusSeconds(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                stop = true;
                return null;
            }
            current.record(write, System.nanoTime() - start, failure);
            return failure == null ? reply : null;
        } finally {
            requestLock.unlock();
        }
    }

    /** One phase's samples. Guarded by the owner's request lock. */
    private static final class Recorder {
        private final long startNanos;
        private long[] writes = new long[1024];
        private long[] reads = new long[1024];
        private int writeCount;
        private int readCount;
        private long failed;
        private final List<String> failures = new ArrayList<>();

        Recorder(long startNanos) {
            this.startNanos = startNanos;
        }

        void record(boolean write, long nanos, String failure) {
            if (write) {
                writes = add(writes, writeCount, nanos);
                writeCount = Math.min(writeCount + 1, MAX_SAMPLES);
            } else {
                reads = add(reads, readCount, nanos);
                readCount = Math.min(readCount + 1, MAX_SAMPLES);
            }
            if (failure != null) {
                failed++;
                if (failures.size() < KEEP_FAILURES) {
                    failures.add(failure);
                }
            }
        }

        private static long[] add(long[] a, int count, long nanos) {
            if (count >= MAX_SAMPLES) {
                return a;
            }
            long[] out = count < a.length ? a : Arrays.copyOf(a, Math.min(MAX_SAMPLES, a.length * 2));
            out[count] = nanos;
            return out;
        }

        CatchUpReport.Phase summary(long endNanos) {
            long[] all = Arrays.copyOf(writes, writeCount + readCount);
            System.arraycopy(reads, 0, all, writeCount, readCount);
            return new CatchUpReport.Phase(
                    (endNanos - startNanos) / 1e9,
                    CatchUpReport.Latency.of(all, all.length),
                    CatchUpReport.Latency.of(writes, writeCount),
                    CatchUpReport.Latency.of(reads, readCount),
                    failed,
                    failures);
        }
    }
}
