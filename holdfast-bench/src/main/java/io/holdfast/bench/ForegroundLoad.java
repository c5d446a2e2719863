package io.holdfast.bench;

import io.holdfast.common.Caller;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.time.Duration;
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

    private final VolumeService volume;
    private final String root;
    private final Duration deadline;
    private final byte[] content;
    private final int contentCrc;
    /** Held for each request and by {@link #nextPhase}; fair, so a phase change is not starved. */
    private final ReentrantLock requestLock = new ReentrantLock(true);

    private final Thread thread;
    private volatile boolean stop;
    private PhaseSamples current = phase(System.nanoTime()); // guarded by requestLock
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
            current = phase(System.nanoTime());
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
            CatchUpReport.Phase p = new CatchUpReport.Phase(
                    current.seconds(now),
                    current.both(),
                    current.first(),
                    current.second(),
                    current.failed(),
                    current.failures());
            current = phase(now);
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

    private static PhaseSamples phase(long startNanos) {
        return new PhaseSamples(startNanos, MAX_SAMPLES, true);
    }
}
