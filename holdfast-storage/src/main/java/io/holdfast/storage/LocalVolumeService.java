package io.holdfast.storage;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.LogEntry;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.io.IOException;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A {@link VolumeService} over one {@link Brick} in this process, for tests and tools.
 *
 * <p>Mutations are applied in submission order on one thread named
 * {@code holdfast-local-apply}, as log entries with indexes increasing by one from
 * {@link Brick#appliedIndex()} + 1 and timestamps read from the injected clock when the entry
 * is applied. At most {@link #MAX_PENDING} mutations wait; beyond that {@link #submit}
 * completes exceptionally with {@link Errno#EAGAIN}. Queries are answered directly on the
 * calling thread from applied state (which is linearizable here, since a mutation's future
 * completes only after it is applied).
 *
 * <p>If the brick fails ({@link Brick#apply} throws), that mutation and every later one
 * complete exceptionally with a {@link HoldfastException} ({@link Errno#EIO}). Thread-safe.
 * {@link #close()} does not close the brick: its owner does.
 */
public final class LocalVolumeService implements VolumeService {
    /** Most mutations waiting to be applied. */
    public static final int MAX_PENDING = 10_000;

    private final Brick brick;
    private final InstantSource clock;
    private final ThreadPoolExecutor executor;
    private long nextIndex; // only used on the apply thread
    private volatile IOException failure;
    private volatile boolean closed;

    /**
     * Creates a service over {@code brick}, which must be open and must not be applied to by
     * anyone else while this service is in use.
     *
     * @param brick the brick; not closed by {@link #close()}
     * @param clock the source of entry timestamps
     */
    public LocalVolumeService(Brick brick, InstantSource clock) {
        this.brick = Objects.requireNonNull(brick, "brick");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.nextIndex = brick.appliedIndex() + 1;
        this.executor =
                new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(MAX_PENDING), r -> {
                    Thread t = new Thread(r, "holdfast-local-apply");
                    t.setDaemon(true);
                    return t;
                });
    }

    /**
     * Applies {@code mutation} as the next log entry. Completes with the brick's response, or
     * exceptionally with a {@link HoldfastException}: {@link Errno#EAGAIN} if too many are
     * pending, {@link Errno#EIO} if the brick failed, {@link Errno#EBADF} after close.
     */
    @Override
    public CompletableFuture<Response> submit(Request.Mutation mutation) {
        Objects.requireNonNull(mutation, "mutation");
        CompletableFuture<Response> f = new CompletableFuture<>();
        try {
            executor.execute(() -> applyOne(mutation, f));
        } catch (RejectedExecutionException e) {
            f.completeExceptionally(
                    executor.isShutdown()
                            ? new HoldfastException(Errno.EBADF, "volume service is closed")
                            : new HoldfastException(Errno.EAGAIN, "more than " + MAX_PENDING + " mutations pending"));
        }
        return f;
    }

    private void applyOne(Request.Mutation mutation, CompletableFuture<Response> f) {
        if (closed) {
            f.completeExceptionally(new HoldfastException(Errno.EBADF, "volume service is closed"));
            return;
        }
        if (failure != null) {
            f.completeExceptionally(new HoldfastException(Errno.EIO, "brick failed earlier", failure));
            return;
        }
        try {
            Instant now = clock.instant();
            long ts = Math.addExact(Math.multiplyExact(now.getEpochSecond(), 1_000_000_000L), now.getNano());
            long index = nextIndex++;
            f.complete(brick.apply(index, new LogEntry(ts, mutation)));
        } catch (IOException e) {
            failure = e;
            f.completeExceptionally(new HoldfastException(Errno.EIO, "brick failed: " + e.getMessage(), e));
        } catch (RuntimeException e) {
            f.completeExceptionally(e);
        }
    }

    /** Answers {@code query} from the brick's applied state on the calling thread. */
    @Override
    public CompletableFuture<Response> query(Request.Query query) {
        Objects.requireNonNull(query, "query");
        try {
            return CompletableFuture.completedFuture(brick.query(query));
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * Stops accepting mutations; those not yet applied complete exceptionally with
     * {@link Errno#EBADF}. Waits for a mutation being applied to finish. Idempotent.
     */
    @Override
    public void close() {
        closed = true;
        for (Runnable r : executor.shutdownNow()) {
            r.run(); // applyOne sees closed and fails the future
        }
        boolean interrupted = false;
        while (true) {
            try {
                if (executor.awaitTermination(1, TimeUnit.MINUTES)) {
                    break;
                }
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
