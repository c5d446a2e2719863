package io.holdfast.client.nio;

import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
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
 * <p>Thread-safe. Runs two daemon threads until {@link #close}.
 */
final class LeaseKeeper implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LeaseKeeper.class);
    static final long RENEW_EVERY_MILLIS = 250;
    static final int POLL_WAIT_MILLIS = 500;
    static final long MARGIN_MILLIS = 50;
    /** How long the keeper waits for one answer before it tries again. */
    static final long ANSWER_MILLIS = 5_000;
    /** Pause after a failed request (no leader yet, a member down). */
    static final long RETRY_MILLIS = 100;

    private final VolumeService.LeaseChannel channel;
    private final Runnable drop;
    private final String volume;
    /** Until when the lease holds, System.nanoTime() scale (already past while none is granted). */
    private volatile long validUntilNanos = System.nanoTime();
    /** The leader's lease table epoch this session's numbers count in, 0 before the first answer. */
    private long epoch;
    /** The highest invalidation number this client has applied (dropped its cache for). */
    private long acked;

    private final AtomicLong drops = new AtomicLong();
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

    /** Whether the lease holds now: cached answers may be used. */
    boolean valid() {
        return System.nanoTime() - validUntilNanos < 0;
    }

    /** Times the cache was dropped for the leader (another client's change, a new leader, a lost session). */
    long drops() {
        return drops.get();
    }

    private void renewLoop() {
        while (!closed) {
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
                validUntilNanos = System.nanoTime();
                epoch = 0;
                acked = 0;
                dropIt = true;
                unchanged = false;
            } else if (l.epoch() != epoch || l.seq() > acked) {
                if (l.epoch() != epoch) {
                    validUntilNanos = System.nanoTime(); // a lease of another epoch is no lease
                }
                dropIt = true;
                unchanged = false;
            } else {
                dropIt = false;
                unchanged = true;
            }
        }
        if (dropIt) {
            drops.incrementAndGet();
            drop.run();
            synchronized (this) {
                if (l.seq() >= 0) {
                    epoch = l.epoch();
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
        validUntilNanos = System.nanoTime();
        renewer.interrupt();
        try {
            poller.join(2L * POLL_WAIT_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        poller.interrupt();
    }
}
