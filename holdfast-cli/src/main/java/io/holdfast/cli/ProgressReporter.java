package io.holdfast.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.georep.GeoStatus;
import java.io.PrintStream;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * Reports a running geo-replication worker's progress to the source cluster's map
 * ({@code ClusterAdmin.reportGeorepProgress}), so that the primary shows every session's lag
 * ({@code holdfast georep list --map}) and a worker that stopped shows a growing one.
 *
 * <p>{@link #tick()} (called about once a second by the foreground loop) sends a report when the
 * recorded position moved and at least {@value #MIN_INTERVAL_SECONDS} s passed since the last
 * one, or every {@value #HEARTBEAT_SECONDS} s regardless; one report at a time, on a thread of its
 * own, so a slow cluster never holds the loop. Each report is one entry in the cluster group's
 * log. A refusal that will not change (not allowed, no such session in the map, a cluster too old
 * for sessions) is printed once and ends the reports; other failures are printed once per streak
 * and retried at the next interval.
 *
 * <p>Thread safety: {@link #tick()} and {@link #close()} from one thread.
 */
final class ProgressReporter implements AutoCloseable {
    /** Least time between two reports of a moving position. */
    static final long MIN_INTERVAL_SECONDS = 10;
    /** A report at least this often while the position stands still. */
    static final long HEARTBEAT_SECONDS = 60;

    private final HoldfastClient client;
    private final String session;
    private final Supplier<GeoStatus> status;
    private final PrintStream out;
    private final ExecutorService sender;
    private final AtomicBoolean inFlight = new AtomicBoolean();
    private volatile boolean disabled;
    private volatile boolean failing;
    private long lastNanos;
    private long lastPosition = -1;

    ProgressReporter(HoldfastClient client, String session, Supplier<GeoStatus> status, PrintStream out) {
        this.client = client;
        this.session = session;
        this.status = status;
        this.out = out;
        this.sender = Executors.newSingleThreadExecutor(
                Thread.ofPlatform().daemon().name("holdfast-georep-report").factory());
    }

    /** Sends a report if one is due (see the class comment). */
    void tick() {
        if (disabled || inFlight.get()) {
            return;
        }
        GeoStatus s = status.get();
        if (s.position() == 0) {
            return; // nothing recorded at the target yet
        }
        long now = System.nanoTime();
        long since = now - lastNanos;
        boolean moved = s.position() != lastPosition;
        boolean due = lastPosition < 0
                || (moved && since >= TimeUnit.SECONDS.toNanos(MIN_INTERVAL_SECONDS))
                || since >= TimeUnit.SECONDS.toNanos(HEARTBEAT_SECONDS);
        if (!due) {
            return;
        }
        lastNanos = now;
        lastPosition = s.position();
        inFlight.set(true);
        sender.execute(() -> {
            try {
                send(s);
            } finally {
                inFlight.set(false);
            }
        });
    }

    private void send(GeoStatus s) {
        try {
            client.admin().reportGeorepProgress(session, s.position(), s.commitNanos());
            if (failing) {
                out.println("georep " + session + ": progress reported to the cluster map again");
            }
            failing = false;
        } catch (HoldfastException e) {
            if (e.errno() == Errno.EACCES || e.errno() == Errno.ENOENT || e.errno() == Errno.ENOTSUP) {
                disabled = true;
                out.println("georep " + session + ": progress is not reported to the cluster map (" + e.getMessage()
                        + "); the primary will not show this session's lag");
            } else if (!failing) {
                failing = true;
                out.println("georep " + session + ": reporting progress to the cluster map failed (" + e.getMessage()
                        + "); retrying");
            }
        } catch (RuntimeException e) {
            if (!failing) {
                failing = true;
                out.println("georep " + session + ": reporting progress to the cluster map failed (" + e + ")");
            }
        }
    }

    /** Sends a last report of the final position (waiting a few seconds at most), then stops. */
    @Override
    public void close() {
        GeoStatus s = status.get();
        if (!disabled && s.position() > 0 && s.position() != lastPosition) {
            sender.execute(() -> send(s));
        }
        sender.shutdown();
        try {
            sender.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        sender.shutdownNow();
    }
}
