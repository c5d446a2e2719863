package io.holdfast.client.nio;

import io.holdfast.common.Caller;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.protocol.VolumeService.LeaseChannel;
import java.io.IOException;
import java.net.URI;
import java.nio.file.FileSystem;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A lease channel for a client alone on an in-process volume: every renewal is granted for a
 * minute and no poll ever reports another client's change, so the client's cache answers whatever
 * it learned (tests that count what reaches the volume).
 */
final class GrantingLeases implements LeaseChannel {
    /**
     * A file system of root over {@code service} (whose {@code leases()} should be a
     * {@code GrantingLeases}), returned once its read lease holds.
     *
     * @throws AssertionError if the lease does not hold within 30 s
     */
    static FileSystem openLeased(VolumeService service) throws IOException {
        FileSystem fs = new HoldfastFileSystemProvider()
                .newFileSystem(
                        URI.create("holdfast://leased" + UUID.randomUUID() + "/v"),
                        Map.of(
                                HoldfastFileSystemProvider.ENV_VOLUME_SERVICE,
                                service,
                                HoldfastFileSystemProvider.ENV_CALLER,
                                Caller.ROOT));
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!CacheStats.of(fs).leaseValid()) {
            if (System.nanoTime() - deadline > 0) {
                fs.close();
                throw new AssertionError("no read lease within 30 s");
            }
            Thread.onSpinWait();
        }
        return fs;
    }

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
