package io.holdfast.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import io.holdfast.common.Errno;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link Compression}: replies compressed and inflated, and frames that lie about their size refused. */
class CompressionTest {
    private static final byte[] TEXT =
            ("From: alice@example.org\nTo: bob@example.org\nSubject: the quarterly report\n\n"
                            + "Dear Bob, please find the figures for the quarter below. ")
                    .repeat(60)
                    .getBytes(StandardCharsets.UTF_8);

    @Test
    void textReplyTravelsCompressedAndInflatesToItself() throws ProtocolException {
        Response.Data data = new Response.Data(TEXT, 42);
        Response sent = Compression.compress(data, Limits.MAX_FRAME_BYTES);
        assertThat(sent).isInstanceOf(Response.Compressed.class);
        Response.Compressed c = (Response.Compressed) sent;
        assertThat(c.rawLength()).isEqualTo(Codec.encode(data).length);
        assertThat(c.zstd().length).isLessThan(c.rawLength() / 4);
        // through the wire codec and back
        Response received = Codec.decodeResponse(Codec.encode(c));
        assertThat(Compression.inflate((Response.Compressed) received, Limits.MAX_FRAME_BYTES))
                .isEqualTo(data);
    }

    @Test
    void incompressibleSmallAndOversizedRepliesTravelAsTheyAre() {
        byte[] random = new byte[8192];
        new Random(7).nextBytes(random);
        Response.Data noise = new Response.Data(random, 1);
        assertThat(Compression.compress(noise, Limits.MAX_FRAME_BYTES)).isSameAs(noise);
        Response.Data small = new Response.Data(new byte[100], 1);
        assertThat(Compression.compress(small, Limits.MAX_FRAME_BYTES)).isSameAs(small);
        Response.Data text = new Response.Data(TEXT, 1);
        assertThat(Compression.compress(text, 1000)).isSameAs(text);
        Response.DirPage page = new Response.DirPage(
                List.of(new DirEntry("cur", 5, FileType.DIRECTORY), new DirEntry("new", 6, FileType.DIRECTORY)), false);
        assertThat(Compression.compress(page, Limits.MAX_FRAME_BYTES)).isSameAs(page);
    }

    @Test
    void declaredSizeOverTheRequestsLimitIsRefusedBeforeDecompressing() {
        Response.Compressed c = (Response.Compressed) Compression.compress(new Response.Data(TEXT, 1), 1 << 20);
        assertThatThrownBy(() -> Compression.inflate(c, c.rawLength() - 1))
                .isInstanceOf(ProtocolException.class)
                .hasMessageContaining("over the");
    }

    @Test
    void frameHoldingMoreThanDeclaredIsRefused() throws ProtocolException {
        // a zstd frame whose header states 1 MiB, declared as 4 KiB: never decompressed
        byte[] big = Zstd.compress(new byte[1 << 20], 1);
        assertThatThrownBy(() -> Compression.inflate(new Response.Compressed(4096, big), Limits.MAX_FRAME_BYTES))
                .isInstanceOf(ProtocolException.class)
                .hasMessageContaining("states " + (1 << 20));
        // a frame without a stated size (streamed)
        byte[] raw = Codec.encode(new Response.Data(TEXT, 1));
        byte[] unsized = streamed(raw);
        assertThatThrownBy(
                        () -> Compression.inflate(new Response.Compressed(raw.length, unsized), Limits.MAX_FRAME_BYTES))
                .isInstanceOf(ProtocolException.class)
                .hasMessageContaining("states no size");
    }

    @Test
    void corruptFramesAndFramesThatAreNotRepliesAreRefused() {
        Response.Compressed c = (Response.Compressed) Compression.compress(new Response.Data(TEXT, 1), 1 << 20);
        byte[] corrupt = c.zstd().clone();
        for (int i = 8; i < corrupt.length; i++) {
            corrupt[i] ^= 0x5a;
        }
        assertThatThrownBy(() ->
                        Compression.inflate(new Response.Compressed(c.rawLength(), corrupt), Limits.MAX_FRAME_BYTES))
                .isInstanceOf(ProtocolException.class)
                .satisfies(e -> assertThat(((ProtocolException) e).errno()).isEqualTo(Errno.EBADMSG));
        assertThatThrownBy(() -> Compression.inflate(
                        new Response.Compressed(c.rawLength(), Arrays.copyOf(c.zstd(), 3)), Limits.MAX_FRAME_BYTES))
                .isInstanceOf(ProtocolException.class);
        byte[] notReply = Zstd.compress(TEXT, 1);
        assertThatThrownBy(() ->
                        Compression.inflate(new Response.Compressed(TEXT.length, notReply), Limits.MAX_FRAME_BYTES))
                .isInstanceOf(ProtocolException.class);
        // a compressed reply inside a compressed reply
        byte[] inner = Codec.encode(c);
        byte[] nested = Zstd.compress(inner, 1);
        assertThatThrownBy(() ->
                        Compression.inflate(new Response.Compressed(inner.length, nested), Limits.MAX_FRAME_BYTES))
                .isInstanceOf(ProtocolException.class)
                .hasMessageContaining("inside a compressed reply");
    }

    @Test
    void onlyBulkQueriesMayBeCompressedAndTheDecoderSaysSo() {
        assertThatThrownBy(() -> new Request.Compressed(new Request.StatFs(), 100))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Request.Compressed(new Request.Read(1, 0, 10), 0))
                .isInstanceOf(IllegalArgumentException.class);
        // kind 50 holding a StatFs (kind 39), written by hand
        byte[] body = new WireWriter().u8(50).i32(100).u8(39).finish(false).bytes();
        byte[] frame = new byte[ReferenceCodec.HEADER.length + body.length];
        System.arraycopy(ReferenceCodec.HEADER, 0, frame, 0, ReferenceCodec.HEADER.length);
        System.arraycopy(body, 0, frame, ReferenceCodec.HEADER.length, body.length);
        assertThatThrownBy(() -> Codec.decodeRequest(WireWriter.seal(frame)))
                .isInstanceOf(ProtocolException.class)
                .hasMessageContaining("holds request kind 39");
    }

    /** {@code raw} as a zstd frame without a content size in its header (as a stream writes it). */
    private static byte[] streamed(byte[] raw) {
        try (var ctx = new ZstdCompressCtx()) {
            ctx.setContentSize(false);
            return ctx.compress(raw);
        }
    }
}
