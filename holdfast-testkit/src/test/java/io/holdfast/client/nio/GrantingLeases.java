package io.holdfast.client.nio;

import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService.LeaseChannel;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A lease channel for a client alone on an in-process volume: every renewal is granted for a
 * minute and no poll ever reports another client's change, so the client's cache answers whatever
 * it learned (tests that count what reaches the volume).
 */
final class GrantingLeases implements LeaseChannel {
    private final UUID session = UUID.randomUUID();

    @Override
    public UUID session() {
        return session;
    }

    @Override
    public CompletableFuture<Response> renew() {
        return CompletableFuture.completedFuture(new Response.Lease(1, 0, 60_000));
    }

    @Override
    public CompletableFuture<Response> poll(long epoch, long ackedSeq, int waitMillis) {
        return CompletableFuture.supplyAsync(
                () -> new Response.Lease(1, 0, 0),
                CompletableFuture.delayedExecutor(waitMillis, TimeUnit.MILLISECONDS));
    }
}
