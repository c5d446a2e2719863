package io.holdfast.client;

import io.holdfast.common.Errno;
import io.holdfast.protocol.Compression;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.ProtocolException;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A {@link RaftVolumeService} whose bulk queries (reads, listings, change pages:
 * {@link Request.Compressed#compressible}) ask for zstd-compressed replies, for a client that
 * reads over a slow link. Everything else passes through unchanged.
 *
 * <p>Each compressed reply is inflated against the request's limit ({@link #limit}: a read's
 * length plus the frame's overhead, else {@link Limits#MAX_FRAME_BYTES}); a reply that declares
 * more, or whose zstd frame does not hold what it declares, fails the request with
 * {@link Errno#EBADMSG} and nothing is allocated beyond the declared size. A member that does not
 * know the query kind (a node older than the handshake's node, in a cluster being upgraded)
 * refuses it with {@link Errno#EBADMSG}; the query is then sent plain and this service stops
 * asking for compression.
 *
 * <p>Thread-safe.
 */
final class CompressingVolumeService implements VolumeService {
    /** A read's reply frame beyond its data: header, length, CRC32C, trailer (16 bytes), with room. */
    static final int READ_OVERHEAD = 64;

    private final VolumeService delegate;
    /** Sends a change feed read as the delegate's {@link VolumeService#changes} does. */
    private final Function<Request.Query, CompletableFuture<Response>> feed;

    private final Counters counters;
    private volatile boolean enabled = true;

    /** Bytes received in compressed replies and what they held; shared by a client's volumes. */
    static final class Counters {
        final AtomicLong replies = new AtomicLong();
        final AtomicLong wireBytes = new AtomicLong();
        final AtomicLong rawBytes = new AtomicLong();
    }

    CompressingVolumeService(RaftVolumeService delegate, Counters counters) {
        this(delegate, delegate::feed, counters);
    }

    /** Over any volume service; {@code feed} sends a change feed read ({@link RaftVolumeService#feed}). */
    CompressingVolumeService(
            VolumeService delegate, Function<Request.Query, CompletableFuture<Response>> feed, Counters counters) {
        this.delegate = delegate;
        this.feed = feed;
        this.counters = counters;
    }

    /** The largest encoded reply to {@code q} this client accepts compressed, bytes. */
    static int limit(Request.Query q) {
        return q instanceof Request.Read r
                ? (int) Math.min(Limits.MAX_FRAME_BYTES, (long) Math.max(0, r.length()) + READ_OVERHEAD)
                : Limits.MAX_FRAME_BYTES;
    }

    @Override
    public int logFormat() {
        return delegate.logFormat();
    }

    @Override
    public CompletableFuture<Response> submit(Request.Mutation mutation) {
        return delegate.submit(mutation);
    }

    @Override
    public CompletableFuture<Response> query(Request.Query query) {
        if (!enabled || !Request.Compressed.compressible(query)) {
            return delegate.query(query);
        }
        Request.Compressed c = new Request.Compressed(query, limit(query));
        return delegate.query(c).thenCompose(r -> unwrap(r, c, () -> delegate.query(query)));
    }

    @Override
    public CompletableFuture<Response> changes(long afterIndex, int maxRecords, int waitMillis) {
        Request.Changes q =
                new Request.Changes(afterIndex, maxRecords, Math.min(waitMillis, RaftVolumeService.FEED_WAIT_MILLIS));
        if (!enabled) {
            return feed.apply(q);
        }
        Request.Compressed c = new Request.Compressed(q, limit(q));
        return feed.apply(c).thenCompose(r -> unwrap(r, c, () -> feed.apply(q)));
    }

    private CompletableFuture<Response> unwrap(
            Response r, Request.Compressed asked, Supplier<CompletableFuture<Response>> plain) {
        if (r instanceof Response.Compressed c) {
            try {
                Response inflated = Compression.inflate(c, asked.maxBytes());
                counters.replies.incrementAndGet();
                counters.wireBytes.addAndGet(c.zstd().length);
                counters.rawBytes.addAndGet(c.rawLength());
                return CompletableFuture.completedFuture(inflated);
            } catch (ProtocolException e) {
                return CompletableFuture.failedFuture(e);
            }
        }
        if (r instanceof Response.Error e
                && e.errno() == Errno.EBADMSG
                && e.message().contains("kind 50")) {
            enabled = false; // a node that predates compressed replies
            return plain.get();
        }
        return CompletableFuture.completedFuture(r);
    }

    @Override
    public LeaseChannel leases() {
        return delegate.leases();
    }

    /** Closes the shared service underneath, as closing it directly would. */
    @Override
    public void close() {
        delegate.close();
    }
}
