package io.holdfast.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Errno;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

/** {@link Codec#decodeRequest} against the reference model of the request frames. */
class CodecRequestDecoderTest extends DecoderProperties<Request> {
    @Override
    Request decode(byte[] bytes) throws ProtocolException {
        return Codec.decodeRequest(bytes);
    }

    @Override
    byte[] encode(Request value) {
        return Codec.encode(value);
    }

    @Override
    WireWriter.Encoding reference(Request value) {
        return ReferenceCodec.encode(value);
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
        return ReferenceCodec.REQUEST_KINDS;
    }

    @Override
    Set<String> variants() {
        return permittedRecords(Request.class);
    }

    @Override
    List<Request> examples() {
        return listOf(CodecValues.exampleMutations(), CodecValues.exampleQueries());
    }

    @Override
    Arbitrary<Request> values() {
        return CodecValues.requests(Gen.VALID);
    }

    @Override
    Arbitrary<Request> stretchedValues() {
        return CodecValues.requests(Gen.STRETCHED);
    }

    @Provide
    Arbitrary<Response> responses() {
        return CodecValues.responses(Gen.VALID);
    }

    @Provide
    Arbitrary<LogEntry> logEntries() {
        return CodecValues.logEntries(Gen.VALID);
    }

    @Property(tries = 300)
    void responseFramesAreNotRequests(@ForAll("responses") Response response) {
        Outcome<Request> o = decodeChecked(Codec.encode(response));
        Statistics.label("outcome").collect(o.label());
        assertThat(o.accepted())
                .as("accepted %s as a request", Show.show(response))
                .isFalse();
    }

    @Property(tries = 300)
    void logEntryFramesAreNotRequests(@ForAll("logEntries") LogEntry entry) {
        Outcome<Request> o = decodeChecked(Codec.encode(entry));
        Statistics.label("outcome").collect(o.label());
        assertThat(o.accepted())
                .as("accepted %s as a request", Show.show(entry))
                .isFalse();
    }

    @Example
    void noFrameIsRefused() {
        assertThatThrownBy(() -> Codec.decodeRequest(null)).isInstanceOf(ProtocolException.class);
    }

    @Example
    void anotherVersionIsRefusedNamingBothVersions() {
        byte[] frame = Codec.encode(new Request.StatFs());
        frame[2] = 2;
        Outcome<Request> o = decodeChecked(WireWriter.seal(Arrays.copyOf(frame, frame.length - 4)));
        assertThat(o.error().errno()).isEqualTo(Errno.EPROTO);
        assertThat(o.error().getMessage()).contains("version 2").contains("version 1");
    }
}
