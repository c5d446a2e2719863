package io.holdfast.client.nio;

import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.util.concurrent.CompletableFuture;

/**
 * An in-process volume seen by one client alone: mutations and queries go to {@code delegate},
 * every lease is granted ({@link GrantingLeases}), and closing it leaves {@code delegate} open (the
 * test closes it). Tests that count or hold requests override what they change.
 */
class LeasedVolume implements VolumeService {
    final VolumeService delegate;

    LeasedVolume(VolumeService delegate) {
        this.delegate = delegate;
    }

    @Override
    public CompletableFuture<Response> submit(Request.Mutation m) {
        return delegate.submit(m);
    }

    @Override
    public CompletableFuture<Response> query(Request.Query q) {
        return delegate.query(q);
    }

    @Override
    public LeaseChannel leases() {
        return new GrantingLeases();
    }

    @Override
    public void close() {}
}
