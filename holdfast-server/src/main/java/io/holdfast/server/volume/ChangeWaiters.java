package io.holdfast.server.volume;

import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * Holds change feed reads ({@link Request.Changes} with a wait) until an entry is applied or their
 * wait runs out, without holding a thread: a long poll, so a feed reader learns of a change
 * within milliseconds without asking again and again.
 *
 * <p>Each applied entry completes the current "applied" signal and installs a new one. A held read
 * reads again when the signal fires (on this class's small executor, never on the apply thread)
 * and is answered once it finds records, its wait has run out, or the page is not an empty one
 * (an error, a resync). Thread-safe.
 */
final class ChangeWaiters {
    /** Runs the re-reads of all members of the node: brick reads are short. */
    private static final ExecutorService REREADS = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "holdfast-change-feed");
        t.setDaemon(true);
        return t;
    });

    private final AtomicReference<CompletableFuture<Void>> applied = new AtomicReference<>(new CompletableFuture<>());

    /** Signals that an entry was applied: every held read reads again. Called by the apply thread. */
    void applied() {
        applied.getAndSet(new CompletableFuture<>()).complete(null);
    }

    /**
     * Answers {@code q}: reads at once with {@code read} and, while the page is empty, reads again after
     * each applied entry until {@code q.waitMillis()} has passed.
     */
    CompletableFuture<Response> answer(Request.Changes q, Function<Request.Changes, Response> read) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(q.waitMillis());
        return attempt(q, read, deadline, REREADS);
    }

    private CompletableFuture<Response> attempt(
            Request.Changes q, Function<Request.Changes, Response> read, long deadline, Executor executor) {
        CompletableFuture<Void> next = applied.get(); // taken before reading: an entry applied meanwhile fires it
        Response r = read.apply(q);
        long left = deadline - System.nanoTime();
        if (!(r instanceof Response.ChangePage p)
                || !p.records().isEmpty()
                || p.resyncNeeded(q.afterIndex())
                || left <= 0) {
            return CompletableFuture.completedFuture(r);
        }
        CompletableFuture<Boolean> woken =
                next.thenApply(v -> true).completeOnTimeout(false, left, TimeUnit.NANOSECONDS);
        return woken.thenComposeAsync(
                fired ->
                        fired ? attempt(q, read, deadline, executor) : CompletableFuture.completedFuture(read.apply(q)),
                executor);
    }
}
