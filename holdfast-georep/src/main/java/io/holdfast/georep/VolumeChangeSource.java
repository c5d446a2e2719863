package io.holdfast.georep;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The {@link ChangeSource} of a Holdfast volume: {@link VolumeService#changes} (a replica group
 * answers from its leader's changelog, holding an empty answer up to the wait). Thread-safe as the
 * volume service is.
 */
public final class VolumeChangeSource implements ChangeSource {
    private final VolumeService volume;
    private final Duration timeout;

    /**
     * @param volume the source volume
     * @param timeout how long one read may take beyond its wait before it counts as failed
     */
    public VolumeChangeSource(VolumeService volume, Duration timeout) {
        this.volume = Objects.requireNonNull(volume, "volume");
        this.timeout = Objects.requireNonNull(timeout, "timeout");
    }

    /**
     * @throws HoldfastException with the volume's errno if it refused the read, {@link Errno#ETIMEDOUT}
     *     if no answer came in time, or as the volume service failed
     */
    @Override
    public Response.ChangePage changes(long afterIndex, int maxRecords, int waitMillis) throws IOException {
        Response r;
        try {
            r = volume.changes(afterIndex, maxRecords, waitMillis)
                    .get(timeout.toMillis() + waitMillis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HoldfastException(Errno.EIO, "interrupted while reading the change feed");
        } catch (TimeoutException e) {
            throw new HoldfastException(Errno.ETIMEDOUT, "the change feed did not answer within " + timeout);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IOException io
                    ? io
                    : new HoldfastException(Errno.EIO, "reading the change feed failed: " + e.getCause(), e.getCause());
        }
        if (r instanceof Response.Error err) {
            throw new HoldfastException(err.errno(), "the change feed refused the read: " + err.message());
        }
        if (!(r instanceof Response.ChangePage page)) {
            throw new HoldfastException(
                    Errno.EPROTO, "the change feed answered " + r.getClass().getSimpleName());
        }
        return page;
    }
}
