package io.holdfast.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.statistics.Statistics;
import org.assertj.core.api.Assertions;

/** {@link Codec#decodeLogEntry} against the reference model of the log entry frames. */
class CodecLogEntryDecoderTest extends DecoderProperties<LogEntry> {
    @Override
    LogEntry decode(byte[] bytes) throws ProtocolException {
        return Codec.decodeLogEntry(bytes);
    }

    @Override
    byte[] encode(LogEntry value) {
        return Codec.encode(value);
    }

    @Override
    WireWriter.Encoding reference(LogEntry value) {
        return ReferenceCodec.encode(value);
    }

    @Override
    int maxBytes() {
        return Limits.MAX_FRAME_BYTES;
    }

    /** Legacy frames are read as such; a stated format above the one required is kept as stated. */
    @Override
    byte[] canonicalEncoding(LogEntry value, byte[] input) {
        return input[3] == ReferenceCodec.LEGACY_LOG_ENTRY
                ? ReferenceCodec.encodeLegacy(value).bytes()
                : ReferenceCodec.encode(value, input[4] & 0xff).bytes();
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
        return List.of(ReferenceCodec.LOG_ENTRY, ReferenceCodec.LEGACY_LOG_ENTRY);
    }

    @Override
    Set<String> variants() {
        return permittedRecords(Request.Mutation.class);
    }

    @Override
    String variantOf(LogEntry value) {
        return value.mutation().getClass().getSimpleName();
    }

    @Override
    List<LogEntry> examples() {
        return CodecValues.exampleMutations().stream()
                .map(m -> new LogEntry(1_700_000_000_000_000_000L, m))
                .toList();
    }

    @Override
    Arbitrary<LogEntry> values() {
        return CodecValues.logEntries(Gen.VALID);
    }

    @Override
    Arbitrary<LogEntry> stretchedValues() {
        return CodecValues.logEntries(Gen.STRETCHED);
    }

    @Provide
    Arbitrary<Request> requests() {
        return CodecValues.requests(Gen.VALID);
    }

    @Provide
    Arbitrary<Request.Query> queries() {
        return Arbitraries.oneOf(CodecValues.queries(Gen.VALID));
    }

    @Property(tries = 300)
    void requestFramesAreNotLogEntries(@ForAll("requests") Request request) {
        Outcome<LogEntry> o = decodeChecked(Codec.encode(request));
        Statistics.label("outcome").collect(o.label());
        assertThat(o.accepted())
                .as("accepted %s as a log entry", Show.show(request))
                .isFalse();
    }

    @Property(tries = 300)
    void logEntriesHoldingAQueryAreRefused(@ForAll long timestamp, @ForAll("queries") Request.Query query) {
        byte[] q = ReferenceCodec.encode(query).bytes();
        byte[] body = new WireWriter()
                .u8(ReferenceCodec.LOG_ENTRY)
                .u8(LogFormat.MAX)
                .i64(timestamp)
                .raw(Arrays.copyOfRange(q, 3, q.length - 4))
                .finish(false)
                .bytes();
        Outcome<LogEntry> o = decodeChecked(frame(body));
        Statistics.label("outcome").collect(o.label());
        assertThat(o.accepted())
                .as("accepted a log entry holding %s", Show.show(query))
                .isFalse();
        assertThat(reason(o)).isEqualTo(LogFormatException.Reason.CORRUPT);
    }

    // ---------------------------------------------------------------- log format boundaries

    @Provide
    Arbitrary<Integer> statedFormats() {
        // every boundary (0, MIN, MAX, MAX + 1, 255) often, any byte sometimes
        return Arbitraries.oneOf(
                Arbitraries.of(0, LogFormat.MIN, LogFormat.MAX, LogFormat.MAX + 1, 255),
                Arbitraries.integers().between(0, 255));
    }

    /**
     * An entry stating log format {@code stated} is accepted exactly when MIN <= stated <= the
     * decoder's max and its kind exists in that format; otherwise the reason is the one the
     * boundary it crosses names.
     */
    @Property(tries = 2000)
    void everyStatedFormatIsAcceptedOrRefusedForItsReason(
            @ForAll("validValues") LogEntry entry,
            @ForAll("statedFormats") int stated,
            @ForAll @IntRange(min = 1, max = 2) int max) {
        byte[] frame = ReferenceCodec.encode(entry, stated).bytes();
        int needed = ReferenceCodec.formatOf(entry.mutation());
        LogFormatException.Reason expected = stated < LogFormat.MIN
                ? LogFormatException.Reason.TOO_OLD
                : stated > max
                        ? LogFormatException.Reason.TOO_NEW
                        : stated < needed ? LogFormatException.Reason.CORRUPT : null;
        Statistics.label("expected").collect(expected == null ? "accepted" : expected.name());
        try {
            LogEntry decoded = Codec.decodeLogEntry(frame, max);
            assertThat(expected)
                    .as("accepted %s stating format %d with max %d", Show.show(entry), stated, max)
                    .isNull();
            assertThat(decoded).isEqualTo(entry);
        } catch (LogFormatException e) {
            assertThat(e.reason())
                    .as("%s stating format %d with max %d: %s", Show.show(entry), stated, max, e.getMessage())
                    .isEqualTo(expected);
            if (expected != LogFormatException.Reason.CORRUPT) {
                assertThat(e.format()).isEqualTo(stated);
                assertThat(e.getMessage()).contains("log format " + stated).contains(LogFormat.MIN + ".." + max);
            }
        }
    }

    /** Entries written before formats were stated are format 1: read when their kind is of format 1, else corrupt. */
    @Property(tries = 500)
    void legacyEntriesAreFormatOne(@ForAll("validValues") LogEntry entry) {
        byte[] frame = ReferenceCodec.encodeLegacy(entry).bytes();
        if (ReferenceCodec.formatOf(entry.mutation()) == 1) {
            assertThat(decodeChecked(frame).value()).isEqualTo(entry);
        } else {
            assertThat(reason(decodeChecked(frame))).isEqualTo(LogFormatException.Reason.CORRUPT);
        }
    }

    /** A kind no format defines, in an entry of a supported format, is "unknown kind", not "corrupt". */
    @Property(tries = 500)
    void unknownKindsAreNamedAsSuch(
            @ForAll @IntRange(min = 0, max = 255) int kind,
            @ForAll @IntRange(min = LogFormat.MIN, max = LogFormat.MAX) int format,
            @ForAll long timestamp) {
        Assume.that(!ReferenceCodec.REQUEST_KINDS.contains(kind));
        byte[] body = new WireWriter()
                .u8(ReferenceCodec.LOG_ENTRY)
                .u8(format)
                .i64(timestamp)
                .u8(kind)
                .i32(0)
                .finish(false)
                .bytes();
        Outcome<LogEntry> o = decodeChecked(frame(body));
        assertThat(reason(o)).isEqualTo(LogFormatException.Reason.UNKNOWN_KIND);
        assertThat(o.error().getMessage()).contains("kind " + kind).contains("upgrade this node");
    }

    @Example
    void aMemberAtFormatOneRefusesFormatTwoEntriesAsTooNew() throws Exception {
        LogEntry mknod = new LogEntry(1, new Request.Mknod(Caller.ROOT, "/fifo", 0010644, 0));
        byte[] frame = Codec.encode(mknod);
        assertThat(Codec.decodeLogEntry(frame)).isEqualTo(mknod);
        LogFormatException e =
                Assertions.catchThrowableOfType(LogFormatException.class, () -> Codec.decodeLogEntry(frame, 1));
        assertThat(e.reason()).isEqualTo(LogFormatException.Reason.TOO_NEW);
        assertThat(e.getMessage()).endsWith("log format 2, this node supports 1..1: upgrade this node");
    }

    private static LogFormatException.Reason reason(Outcome<LogEntry> o) {
        assertThat(o.accepted()).as("accepted").isFalse();
        assertThat(o.error()).isInstanceOf(LogFormatException.class);
        return ((LogFormatException) o.error()).reason();
    }
}
