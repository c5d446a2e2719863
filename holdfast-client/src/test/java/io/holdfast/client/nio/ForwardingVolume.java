package io.holdfast.client.nio;

import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.util.concurrent.CompletableFuture;

/**
 * A volume service that passes mutations, queries and close on to {@code delegate}: the base of
 * the client tests' volumes that count, hold or corrupt some of them (they override what they
 * change). The interface's defaults (leases, lease reads, log format) are not forwarded.
 */
abstract class ForwardingVolume implements VolumeService {
    final VolumeService delegate;

    ForwardingVolume(VolumeService delegate) {
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
    public void close() {
        delegate.close();
    }
}
