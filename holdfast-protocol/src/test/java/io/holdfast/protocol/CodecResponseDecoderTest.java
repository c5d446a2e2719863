package io.holdfast.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Errno;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Reporter;
import net.jqwik.api.statistics.Statistics;

/** {@link Codec#decodeResponse} against the reference model of the response frames. */
class CodecResponseDecoderTest extends DecoderProperties<Response> {
    @Override
    Response decode(byte[] bytes) throws ProtocolException {
        return Codec.decodeResponse(bytes);
    }

    /**
     * {@link Codec#decodeResponse(ByteBuffer)} on a read-only view of a frame between other bytes
     * (as a Raft reply's bytes arrive) decodes what the array does, leaves the view's position
     * where it was, and refuses a view with one byte changed.
     */
    @Example
    void readOnlyViewDecodesAsTheArray() throws ProtocolException {
        for (Response value : examples()) {
            byte[] frame = Codec.encode(value);
            byte[] padded = new byte[frame.length + 10];
            Arrays.fill(padded, (byte) 0x5a);
            System.arraycopy(frame, 0, padded, 7, frame.length);
            ByteBuffer view = ByteBuffer.wrap(padded, 7, frame.length).asReadOnlyBuffer();
            assertThat(Codec.decodeResponse(view)).isEqualTo(Codec.decodeResponse(frame));
            assertThat(view.position()).isEqualTo(7);
            padded[7 + frame.length / 2] ^= 1;
            ByteBuffer damaged = ByteBuffer.wrap(padded, 7, frame.length).asReadOnlyBuffer();
            assertThatThrownBy(() -> Codec.decodeResponse(damaged)).isInstanceOf(ProtocolException.class);
        }
    }

    @Example
    void dataReplyFrameIsSizedExactly() throws ProtocolException {
        byte[] data = new byte[1 << 20];
        Arrays.fill(data, (byte) 7);
        byte[] frame = Codec.encode(new Response.Data(data, Checksums.crc32c(data)));
        // header 4, length 4, data, CRC32C 4, trailer 4
        assertThat(frame).hasSize(data.length + 16);
        assertThat(Codec.decodeResponse(frame)).isEqualTo(new Response.Data(data, Checksums.crc32c(data)));
    }

    @Override
    byte[] encode(Response value) {
        return Codec.encode(value);
    }

    @Override
    WireWriter.Encoding reference(Response value) {
        return ReferenceCodec.encode(value);
    }

    /** An error's message arrives cut to the encoder's limit, and a missing one as empty. */
    @Override
    Response expected(Response value) {
        return value instanceof Response.Error e
                ? new Response.Error(e.errno(), ReferenceCodec.truncatedMessage(e.message()))
                : value;
    }

    @Override
    int maxBytes() {
        return Limits.MAX_FRAME_BYTES;
    }

    @Override
    byte[] header() {
        return ReferenceCodec.HEADER;
    }

    @Override
    boolean sealed() {
        return true;
    }

    @Override
    List<Integer> kinds() {
        return ReferenceCodec.RESPONSE_KINDS;
    }

    @Override
    Set<String> variants() {
        return permittedRecords(Response.class);
    }

    @Override
    List<Response> examples() {
        return CodecValues.exampleResponses();
    }

    @Override
    Arbitrary<Response> values() {
        return CodecValues.responses(Gen.VALID);
    }

    @Override
    Arbitrary<Response> stretchedValues() {
        return CodecValues.responses(Gen.STRETCHED);
    }

    @Provide
    Arbitrary<Request> requests() {
        return CodecValues.requests(Gen.VALID);
    }

    @Provide
    Arbitrary<String> anyMessage() {
        return Gen.textOfBytes(0, ReferenceCodec.MAX_MESSAGE_BYTES);
    }

    @Property(tries = 300)
    void requestFramesAreNotResponses(@ForAll("requests") Request request) {
        Outcome<Response> o = decodeChecked(Codec.encode(request));
        Statistics.label("outcome").collect(o.label());
        assertThat(o.accepted())
                .as("accepted %s as a response", Show.show(request))
                .isFalse();
    }

    /**
     * Error frames carrying any message the decoder's byte limit admits, not just the ones the
     * encoder writes: each is refused or re-encodes to itself.
     */
    @Property(tries = 300)
    void errorFramesWithAnyMessageAreRefusedOrCanonical(@ForAll Errno errno, @ForAll("anyMessage") String message) {
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        byte[] body = new WireWriter()
                .u8(97)
                .i32(errno.code())
                .count(m.length, 4, 0, "message")
                .raw(m)
                .finish(false)
                .bytes();
        Outcome<Response> o = decodeChecked(frame(body));
        Statistics.label("outcome").collect(o.label());
        Statistics.label("message")
                .collect(
                        message.length() <= ReferenceCodec.MAX_MESSAGE_CHARS
                                ? "fits the encoder"
                                : "longer than the encoder writes");
    }

    /**
     * Refusing a frame allocates in proportion to the content actually read, not to any claim: a
     * frame of 4096 directory entries with 255-byte names, refused only at its last byte.
     */
    @Example
    void refusingAContentHeavyFrameAllocatesInProportionToItsContent(Reporter reporter) {
        List<DirEntry> entries = new ArrayList<>();
        for (int i = 0; i < Limits.MAX_DIR_PAGE_ENTRIES; i++) {
            entries.add(new DirEntry(
                    (i + "-" + "n".repeat(Limits.NAME_MAX)).substring(0, Limits.NAME_MAX), i, FileType.FILE));
        }
        byte[] frame = Codec.encode(new Response.DirPage(entries, false));
        byte[] input = WireWriter.seal(Arrays.copyOf(frame, frame.length - 3));
        Outcome<Response> o = decodeChecked(input);
        assertThat(o.accepted()).isFalse();
        reporter.publishValue(
                "content-heavy refusal", input.length + " bytes refused after allocating " + o.allocated());
        assertThat(o.allocated()).isLessThan(8L * input.length + SLACK);
    }

    /**
     * Kind 110 exists only to carry a non-zero device number; one with rdev 0 would re-encode as
     * kind 98, so it is refused, and a device's attributes come back with their rdev.
     */
    @Example
    void attributesCarryANonZeroDeviceNumberOnlyInKind110() throws ProtocolException {
        byte[] body = new WireWriter()
                .u8(110)
                .i64(7)
                .u8(FileType.CHARACTER_DEVICE.code())
                .i32(0620)
                .i32(1)
                .i32(0)
                .i32(5)
                .i64(0)
                .i64(1)
                .i64(2)
                .i64(3)
                .i64(0)
                .finish(false)
                .bytes();
        Outcome<Response> o = decodeChecked(frame(body));
        assertThat(o.accepted()).isFalse();
        assertThat(o.error().errno()).isEqualTo(Errno.EBADMSG);
        Attr dev = new Attr(7, FileType.CHARACTER_DEVICE, 0620, 1, 0, 5, 0, 1, 2, 3, 0x103);
        byte[] frame = Codec.encode(new Response.AttrReply(dev));
        assertThat(frame[3]).isEqualTo((byte) 110);
        assertThat(Codec.decodeResponse(frame)).isEqualTo(new Response.AttrReply(dev));
        assertThat(Codec.encode(new Response.AttrReply(new Attr(7, FileType.FIFO, 0644, 1, 0, 5, 0, 1, 2, 3)))[3])
                .isEqualTo((byte) 98);
    }

    @Example
    void longErrorMessagesAreCutWithoutSplittingASurrogatePair() throws ProtocolException {
        String message = "x".repeat(4095) + "\ud83d\ude00" + "tail";
        Response.Error decoded =
                (Response.Error) Codec.decodeResponse(Codec.encode(new Response.Error(Errno.EIO, message)));
        Show.assertEqual(decoded.message(), "x".repeat(4095), "message cut before the pair");
        assertThat(Codec.decodeResponse(Codec.encode(new Response.Error(Errno.EIO, null))))
                .isEqualTo(new Response.Error(Errno.EIO, ""));
    }
}
