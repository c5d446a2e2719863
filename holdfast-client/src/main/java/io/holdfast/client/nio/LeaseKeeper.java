package io.holdfast.client.nio;

import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds a client session's read lease on a volume for a {@link MetadataCache}: renews it in the
 * background, listens for the leader's invalidations (a long poll) and acknowledges each once the
 * cache is dropped. See {@code LeaseTable} in the server for the protocol.
 *
 * <p>The lease holds until {@code granted} milliseconds after the <em>sending</em> of the last
 * renewal that granted it, less {@link #MARGIN_MILLIS} (the server keeps the session longer, by
 * its own margin). A client cut off from the leader stops using its cache when that passes.
 * Renewals go every {@link #RENEW_EVERY_MILLIS}; polls wait up to {@link #POLL_WAIT_MILLIS}.
 *
 * <h2>An idle client lets its lease go</h2>
 *
 * Every other client's mutation waits until this client has dropped its cache and said so (a
 * round trip to this client), for as long as its lease is renewed, whether it uses its cache or
 * not. Measured on a three-node demo (load 3-5): three idle sessions beside a writer made each of
 * its maildir deliveries 50-90 % slower (29.7-32.3 ms against 16.9-20.4 ms; 16.4-18.9 ms once they
 * let their leases go). So a keeper whose lease was not consulted ({@link #valid})
 * for {@link #IDLE_MILLIS} and whose cache has been dropped for another client's change since it
 * last was stops renewing: the leader forgets the session when its lease runs out there, and
 * other clients' mutations no longer wait for it. The next use wakes the keeper, which renews at
 * once; until the new lease is granted (a new session: one drop and two renewals) that client's
 * queries go to the volume. A client alone on its volume is never revoked, so it never lets its
 * lease go.
 *
 * <p>Also the file system's {@link ReadLease}: its drop hooks run right after the cache is
 * dropped, before the acknowledgement.
 *
 * <p>Thread-safe. Runs two daemon threads until {@link #close}.
 */
final class LeaseKeeper implements ReadLease, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LeaseKeeper.class);
    static final long RENEW_EVERY_MILLIS = 250;
    static final int POLL_WAIT_MILLIS = 500;
    static final long MARGIN_MILLIS = 50;
    /** How long the keeper waits for one answer before it tries again. */
    static final long ANSWER_MILLIS = 5_000;
    /** Pause after a failed request (no leader yet, a member down). */
    static final long RETRY_MILLIS = 100;
    /** How long a lease unused since a drop for another client's change is still renewed. */
    static final long IDLE_MILLIS = 1_000;

    private final VolumeService.LeaseChannel channel;
    private final Runnable drop;
    private final String volume;
    /**
     * How far in the past {@link #validUntilNanos} is put when the lease ends. Not just "now": a
     * {@link #valid} that read the clock a moment before that write would then find the lease
     * still valid (its "now" earlier than the end), as a test on a busy machine did before the
     * first grant, and went on to use a cache being dropped.
     */
    private static final long ENDED_NANOS = TimeUnit.DAYS.toNanos(1);

    /** Until when the lease holds, System.nanoTime() scale (long past while none is granted). */
    private volatile long validUntilNanos = ended();

    /** The end of a lease that has ended, for {@link #validUntilNanos} (see {@link #ENDED_NANOS}). */
    private static long ended() {
        return System.nanoTime() - ENDED_NANOS;
    }
    /** The leader's lease table epoch this session's numbers count in, 0 before the first answer. */
    private long epoch;
    /** The highest invalidation number of {@link #epoch} this client has applied (dropped its cache for). */
    private long acked;

    private final AtomicLong drops = new AtomicLong();
    private final List<Runnable> dropHooks = new CopyOnWriteArrayList<>();
    /** When {@link #valid} was last called, System.nanoTime() scale. */
    private volatile long lastUseNanos = System.nanoTime();
    /** When the cache was last dropped for another client's change, System.nanoTime() scale. */
    private volatile long lastRevokedNanos = System.nanoTime();
    /** Whether a keeper thread waits for a use ({@link #awaitUse}); a use then wakes it. */
    private volatile boolean dormant;

    private final Object useSignal = new Object();
    private final AtomicLong dormancies = new AtomicLong();
    private final Thread renewer;
    private final Thread poller;
    private volatile boolean closed;

    /**
     * @param drop drops the cache (called on the keeper's threads, with no lock of the keeper held)
     */
    LeaseKeeper(VolumeService.LeaseChannel channel, Runnable drop, String volume) {
        this.channel = channel;
        this.drop = drop;
        this.volume = volume;
        this.renewer = Thread.ofPlatform()
                .daemon()
                .name("holdfast-lease-renew-" + volume)
                .unstarted(this::renewLoop);
        this.poller = Thread.ofPlatform()
                .daemon()
                .name("holdfast-lease-poll-" + volume)
                .unstarted(this::pollLoop);
        renewer.start();
        poller.start();
    }

    /**
     * Whether the lease holds now: cached answers may be used. Counts as a use of the lease: a
     * keeper that let an idle lease go renews it at once (see the class comment).
     */
    boolean valid() {
        long now = System.nanoTime();
        lastUseNanos = now;
        if (dormant) { // read after the write above: see awaitUse
            synchronized (useSignal) {
                useSignal.notifyAll();
            }
        }
        return now - validUntilNanos < 0;
    }

    @Override
    public long validUntilNanos() {
        return validUntilNanos;
    }

    @Override
    public AutoCloseable onDrop(Runnable hook) {
        Objects.requireNonNull(hook, "hook");
        dropHooks.add(hook);
        return () -> dropHooks.remove(hook);
    }

    /** Drops the cache, then runs the drop hooks. */
    private void dropCache() {
        drops.incrementAndGet();
        drop.run();
        runDropHooks();
    }

    /**
     * Runs the drop hooks without dropping the cache: a written-back change of this file system was
     * refused, the file system's cache took it back, and what the hooks keep must go too
     * ({@link ReadLease#onDrop}). Thread-safe.
     */
    void runDropHooks() {
        for (Runnable hook : dropHooks) {
            try {
                hook.run();
            } catch (RuntimeException e) {
                LOG.warn("volume {}: a drop hook failed", volume, e);
            }
        }
    }

    /** Times the keeper let an idle lease go. */
    long dormancies() {
        return dormancies.get();
    }

    /** Whether the lease is unused for {@link #IDLE_MILLIS} and was revoked since its last use. */
    private boolean idle() {
        long lastUse = lastUseNanos;
        return lastRevokedNanos - lastUse > 0
                && System.nanoTime() - lastUse > TimeUnit.MILLISECONDS.toNanos(IDLE_MILLIS);
    }

    /**
     * Waits while the lease is {@linkplain #idle idle} and the keeper open. {@link #dormant} is
     * set before {@link #idle} reads the last use, and {@link #valid} writes the use before it
     * reads {@link #dormant}: of two such volatile pairs one side sees the other's write, so a
     * use is never missed; the wait is timed anyway.
     *
     * @return whether it waited
     */
    private boolean awaitUse() throws InterruptedException {
        boolean waited = false;
        synchronized (useSignal) {
            try {
                while (!closed) {
                    dormant = true;
                    if (!idle()) {
                        break;
                    }
                    if (!waited) {
                        waited = true;
                        dormancies.incrementAndGet();
                        LOG.debug("volume {}: lease unused since another client's change; not renewed", volume);
                    }
                    useSignal.wait(IDLE_MILLIS);
                }
            } finally {
                dormant = false;
            }
        }
        return waited;
    }

    /** Times the cache was dropped for the leader (another client's change, a new leader, a lost session). */
    long drops() {
        return drops.get();
    }

    private void renewLoop() {
        while (!closed) {
            try {
                awaitUse();
            } catch (InterruptedException e) {
                return;
            }
            long sent = System.nanoTime();
            try {
                Response r = channel.renew().get(ANSWER_MILLIS, TimeUnit.MILLISECONDS);
                if (r instanceof Response.Lease l) {
                    if (apply(l) && l.grantedMillis() > 0) {
                        grant(sent, l);
                    } else {
                        acknowledge();
                    }
                }
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                LOG.debug("volume {}: lease renewal failed: {}", volume, e.toString());
            }
            pause(sent, RENEW_EVERY_MILLIS);
        }
    }

    private void pollLoop() {
        while (!closed) {
            long sent = System.nanoTime();
            long e;
            long a;
            synchronized (this) {
                e = epoch;
                a = acked;
            }
            try {
                if (e == 0 && awaitUse()) {
                    continue; // no session, and none wanted until a use: the renewer starts one
                }
                // no session yet: a poll that does not wait finds the leader (Ratis redirects the
                // poll client to it) for the renewer, which starts the session
                Response r = channel.poll(e, a, e == 0 ? 0 : POLL_WAIT_MILLIS)
                        .get(POLL_WAIT_MILLIS + ANSWER_MILLIS, TimeUnit.MILLISECONDS);
                if (r instanceof Response.Lease l) {
                    apply(l);
                }
                if (e == 0 || !(r instanceof Response.Lease)) {
                    pause(sent, RETRY_MILLIS);
                }
            } catch (InterruptedException ex) {
                return;
            } catch (Exception ex) {
                LOG.debug("volume {}: lease poll failed: {}", volume, ex.toString());
                pause(sent, RETRY_MILLIS);
            }
        }
    }

    /**
     * Applies an answer: drops the cache when the leader says so. Returns true if the answer
     * left the session's numbers where they were (a renewal's grant may then be taken).
     */
    private boolean apply(Response.Lease l) {
        boolean dropIt;
        boolean unchanged;
        synchronized (this) {
            if (l.seq() < 0 && epoch == 0) {
                dropIt = false; // no session yet, nothing cached
                unchanged = false;
            } else if (l.seq() < 0) {
                // the leader does not know this session (its lease ran out there, or a new leader)
                validUntilNanos = ended();
                epoch = 0;
                acked = 0;
                dropIt = true;
                unchanged = false;
            } else if (l.epoch() != epoch || l.seq() > acked) {
                if (l.epoch() != epoch) {
                    validUntilNanos = ended(); // a lease of another epoch is no lease
                } else {
                    lastRevokedNanos = System.nanoTime(); // another client's change
                }
                dropIt = true;
                unchanged = false;
            } else {
                dropIt = false;
                unchanged = true;
            }
        }
        if (dropIt) {
            dropCache();
            synchronized (this) {
                if (l.seq() >= 0 && l.epoch() != epoch) {
                    // a new leader numbers from 1 again: a number acknowledged in the old epoch says
                    // nothing about this one's (keeping the higher one acknowledged the new leader's
                    // invalidations up to it without dropping the cache)
                    epoch = l.epoch();
                    acked = l.seq();
                } else if (l.seq() >= 0) {
                    acked = Math.max(acked, l.seq());
                }
            }
        }
        return unchanged;
    }

    private void grant(long sentNanos, Response.Lease l) {
        synchronized (this) {
            if (l.epoch() != epoch) {
                return;
            }
            validUntilNanos = sentNanos + TimeUnit.MILLISECONDS.toNanos(l.grantedMillis() - MARGIN_MILLIS);
        }
    }

    /** Acknowledges at once (a poll that does not wait), so the next renewal can grant. */
    private void acknowledge() {
        long e;
        long a;
        synchronized (this) {
            e = epoch;
            a = acked;
        }
        if (e != 0) {
            channel.poll(e, a, 0).whenComplete((r, t) -> {
                if (r instanceof Response.Lease l) {
                    apply(l);
                }
            });
        }
    }

    private void pause(long sinceNanos, long millis) {
        long left = TimeUnit.MILLISECONDS.toNanos(millis) - (System.nanoTime() - sinceNanos);
        if (left > 0 && !closed) {
            try {
                TimeUnit.NANOSECONDS.sleep(left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Stops renewing; the lease is no longer used. Waits (at most twice a poll's wait) for
     * the poll in flight to end, so the Raft client is not closed under it (Ratis would log the
     * request it then fails as an error).
     */
    @Override
    public void close() {
        closed = true;
        validUntilNanos = ended();
        synchronized (useSignal) {
            useSignal.notifyAll();
        }
        renewer.interrupt();
        try {
            poller.join(2L * POLL_WAIT_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        poller.interrupt();
    }
}
