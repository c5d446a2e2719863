package io.holdfast.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

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
    return List.of(ReferenceCodec.LOG_ENTRY);
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
    return CodecValues.exampleMutations().stream().map(m -> new LogEntry(1_700_000_000_000_000_000L, m)).toList();
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
    assertThat(o.accepted()).as("accepted %s as a log entry", Show.show(request)).isFalse();
  }

  @Property(tries = 300)
  void logEntriesHoldingAQueryAreRefused(@ForAll long timestamp, @ForAll("queries") Request.Query query) {
    byte[] q = ReferenceCodec.encode(query).bytes();
    byte[] body = new WireWriter().u8(ReferenceCodec.LOG_ENTRY).i64(timestamp)
        .raw(Arrays.copyOfRange(q, 3, q.length - 4)).finish(false).bytes();
    Outcome<LogEntry> o = decodeChecked(frame(body));
    Statistics.label("outcome").collect(o.label());
    assertThat(o.accepted()).as("accepted a log entry holding %s", Show.show(query)).isFalse();
  }
}
