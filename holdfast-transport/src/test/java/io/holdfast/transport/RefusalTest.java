package io.holdfast.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.util.concurrent.CompletionException;
import org.apache.ratis.thirdparty.io.grpc.Status;
import org.junit.jupiter.api.Test;

/** What a node encodes, a client decodes back, however deep Ratis wraps it. */
class RefusalTest {
    @Test
    void aRefusedRequestComesBackAsItsErrnoAndMessage() {
        IOException sent = Refusal.exception(new HoldfastException(Errno.ENOSPC, "below the disk reserve: 1 MiB free"));
        Throwable received = new CompletionException(new IOException("reply from n1: " + sent.getMessage(), sent));
        assertThat(Refusal.decode(received))
                .isEqualTo(new Response.Error(Errno.ENOSPC, "below the disk reserve: 1 MiB free"));
    }

    @Test
    void otherFailuresAreNotRefusals() {
        assertThat(Refusal.decode(new IOException("connection reset"))).isNull();
        assertThat(Refusal.decode(new IOException((String) null))).isNull();
        assertThat(Refusal.decode(new IOException(Refusal.encode(Errno.OK, "fine"))))
                .isNull();
    }

    @Test
    void anUnknownErrnoNameBecomesEio() {
        Response.Error e = Refusal.decode(new IOException(Refusal.PREFIX + "EFUTURE:something new"));
        assertThat(e.errno()).isEqualTo(Errno.EIO);
        assertThat(e.message()).isEqualTo("EFUTURE:something new");
    }

    @Test
    void aConnectionLimitIsRecognisedAsStatusOrText() {
        assertThat(Refusal.isConnectionLimit(new IOException(
                        Refusal.connectionLimit("over the limit").asRuntimeException())))
                .isTrue();
        assertThat(Refusal.isConnectionLimit(
                        new IOException("UNAVAILABLE: io exception; RESOURCE_EXHAUSTED: limit of 3")))
                .isTrue();
        assertThat(Refusal.isConnectionLimit(new IOException(Status.UNAVAILABLE.asRuntimeException())))
                .isFalse();
    }
}
