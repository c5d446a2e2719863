package io.holdfast.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Caller;
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
    void aBatchMayEndWithOneSmallWriteOnly() throws ProtocolException {
        Caller c = new Caller(1, 1, new int[0]);
        byte[] small = new byte[Request.Batch.MAX_WRITE_BYTES];
        Request.Write write = new Request.Write(c, 7, 0, small, Checksums.crc32c(small));
        Request.Create create = new Request.Create(c, "/f", 0600, true);
        Request.Batch ok = new Request.Batch(List.of(create, write));
        assertThat(Codec.decodeRequest(Codec.encode(ok))).isEqualTo(ok);
        assertThat(LogFormat.required(ok)).isEqualTo(LogFormat.WRITES_IN_BATCHES);
        assertThat(LogFormat.required(new Request.Batch(List.of(create)))).isEqualTo(LogFormat.BATCHES);

        assertThatThrownBy(() -> new Request.Batch(List.of(write, create)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Write here");
        byte[] big = new byte[Request.Batch.MAX_WRITE_BYTES + 1];
        Request.Write bigWrite = new Request.Write(c, 7, 0, big, Checksums.crc32c(big));
        assertThatThrownBy(() -> new Request.Batch(List.of(create, bigWrite)))
                .isInstanceOf(IllegalArgumentException.class);

        // the same refusals from the wire: frames a valid encoder never writes
        List<List<Request.Mutation>> frames =
                List.of(List.of(write, create), List.of(create, bigWrite), List.of(write, write));
        for (List<Request.Mutation> bad : frames) {
            WireWriter w = new WireWriter().raw(ReferenceCodec.HEADER).u8(17).u16(bad.size());
            for (Request.Mutation m : bad) {
                byte[] one = Codec.encode(m);
                w.raw(Arrays.copyOfRange(one, ReferenceCodec.HEADER.length, one.length - 4));
            }
            Outcome<Request> o = decodeChecked(w.finish(true).bytes());
            assertThat(o.accepted()).as("accepted a batch of %s", bad).isFalse();
            assertThat(o.error().getMessage()).contains("a batch may not hold Write");
        }
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
