package io.holdfast.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.luben.zstd.Zstd;
import io.holdfast.common.Errno;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.Compression;
import io.holdfast.protocol.ProtocolException;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** The client's side of compressed replies against fake nodes: a current one, an older one, a lying one. */
class CompressingVolumeServiceTest {
    private static final byte[] TEXT = "Subject: the quarterly report\n\nplease find the figures below. "
            .repeat(200)
            .getBytes(StandardCharsets.US_ASCII);

    /** A node that answers every read with {@link #TEXT} and records what it was sent. */
    private static final class FakeNode implements VolumeService {
        final List<Request.Query> received = new ArrayList<>();
        final Function<Request.Compressed, Response> onCompressed;

        FakeNode(Function<Request.Compressed, Response> onCompressed) {
            this.onCompressed = onCompressed;
        }

        @Override
        public CompletableFuture<Response> submit(Request.Mutation mutation) {
            return CompletableFuture.completedFuture(new Response.Ok());
        }

        @Override
        public synchronized CompletableFuture<Response> query(Request.Query q) {
            received.add(q);
            Response plain = new Response.Data(TEXT, 0);
            return CompletableFuture.completedFuture(q instanceof Request.Compressed c ? onCompressed.apply(c) : plain);
        }

        @Override
        public void close() {}
    }

    private static CompressingVolumeService over(FakeNode node, CompressingVolumeService.Counters counters) {
        return new CompressingVolumeService(node, node::query, counters);
    }

    private static Response get(CompletableFuture<Response> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS);
    }

    @Test
    void repliesOfACurrentNodeAreInflatedAndCounted() throws Exception {
        FakeNode node = new FakeNode(c -> Compression.compress(new Response.Data(TEXT, 0), c.maxBytes()));
        CompressingVolumeService.Counters counters = new CompressingVolumeService.Counters();
        VolumeService v = over(node, counters);
        assertThat(get(v.query(new Request.Read(7, 0, TEXT.length)))).isEqualTo(new Response.Data(TEXT, 0));
        assertThat(node.received.getFirst()).isInstanceOf(Request.Compressed.class);
        assertThat(((Request.Compressed) node.received.getFirst()).maxBytes())
                .isEqualTo(TEXT.length + CompressingVolumeService.READ_OVERHEAD);
        assertThat(counters.replies.get()).isEqualTo(1);
        assertThat(counters.rawBytes.get()).isEqualTo(Codec.encode(new Response.Data(TEXT, 0)).length);
        assertThat(counters.wireBytes.get()).isLessThan(counters.rawBytes.get() / 4);
        // not a bulk query: sent as it is
        get(v.query(new Request.StatFs()));
        assertThat(node.received.getLast()).isInstanceOf(Request.StatFs.class);
    }

    @Test
    void aNodeThatDoesNotKnowTheKindGetsThePlainQueryFromThenOn() throws Exception {
        FakeNode old = new FakeNode(c -> new Response.Error(Errno.EBADMSG, "unknown request kind 50"));
        VolumeService v = over(old, new CompressingVolumeService.Counters());
        assertThat(get(v.query(new Request.Read(7, 0, 100)))).isEqualTo(new Response.Data(TEXT, 0));
        assertThat(get(v.changes(0, 10, 0))).isEqualTo(new Response.Data(TEXT, 0));
        assertThat(old.received)
                .extracting(q -> q.getClass().getSimpleName())
                .containsExactly("Compressed", "Read", "Changes");
    }

    @Test
    void aReplyDeclaringMoreThanTheReadAskedForFailsTheRead() {
        byte[] raw = Codec.encode(new Response.Data(TEXT, 0));
        FakeNode liar = new FakeNode(c -> new Response.Compressed(raw.length, Zstd.compress(raw, 1)));
        VolumeService v = over(liar, new CompressingVolumeService.Counters());
        assertThatThrownBy(() -> get(v.query(new Request.Read(7, 0, 100))))
                .isInstanceOf(ExecutionException.class)
                .cause()
                .isInstanceOfSatisfying(
                        ProtocolException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EBADMSG))
                .hasMessageContaining("over the " + (100 + CompressingVolumeService.READ_OVERHEAD));
    }
}
