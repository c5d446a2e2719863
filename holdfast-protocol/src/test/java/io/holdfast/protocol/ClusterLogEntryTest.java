package io.holdfast.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/** {@link ClusterLogEntry}: the cluster log's entries and every log format boundary. */
class ClusterLogEntryTest {
    private static final List<ClusterCommand> COMMANDS = List.of(
            new ClusterCommand.CreateVolume("mail", List.of("a:1", "b:1", "c:1")),
            new ClusterCommand.AddNode("d:1"),
            new ClusterCommand.AdvertiseNode("d:1", 1, 2, "0.1.0"));

    private static byte[] withFormat(ClusterLogEntry e, int format) {
        byte[] b = e.encode();
        b[1] = (byte) format;
        return b;
    }

    @Example
    void roundTripsAndStatesFormatOne() throws Exception {
        for (ClusterCommand c : COMMANDS) {
            ClusterLogEntry e = new ClusterLogEntry(1_700_000_000_000_000_000L, c);
            byte[] b = e.encode();
            assertThat(b[0] & 0xff).isEqualTo(0xff);
            assertThat(b[1]).isEqualTo((byte) 1);
            assertThat(ClusterLogEntry.decode(b, LogFormat.MAX)).isEqualTo(e);
            assertThat(ClusterLogEntry.decode(b, 1)).isEqualTo(e);
        }
    }

    @Example
    void entriesOfEarlierBuildsAreFormatOne() throws Exception {
        ClusterCommand c = COMMANDS.getFirst();
        byte[] cmd = ClusterCommand.encode(c);
        byte[] legacy = ByteBuffer.allocate(8 + cmd.length)
                .putLong(1_700_000_000_000_000_000L)
                .put(cmd)
                .array();
        assertThat(ClusterLogEntry.decode(legacy, 1)).isEqualTo(new ClusterLogEntry(1_700_000_000_000_000_000L, c));
    }

    @Property(tries = 300)
    void everyStatedFormatIsAcceptedOrRefusedForItsReason(
            @ForAll @IntRange(min = 0, max = 255) int stated,
            @ForAll @IntRange(min = 1, max = 2) int max,
            @ForAll @IntRange(min = 0, max = 2) int which) {
        ClusterLogEntry e = new ClusterLogEntry(42, COMMANDS.get(which));
        byte[] b = withFormat(e, stated);
        LogFormatException.Reason expected = stated < LogFormat.MIN
                ? LogFormatException.Reason.TOO_OLD
                : stated > max ? LogFormatException.Reason.TOO_NEW : null;
        try {
            assertThat(ClusterLogEntry.decode(b, max)).isEqualTo(e);
            assertThat(expected)
                    .as("accepted format %d with max %d", stated, max)
                    .isNull();
        } catch (LogFormatException x) {
            assertThat(x.reason()).isEqualTo(expected);
            assertThat(x.format()).isEqualTo(stated);
        }
    }

    @Example
    void unknownKindsQueriesAndDamageAreNamedApart() {
        ClusterLogEntry e = new ClusterLogEntry(42, COMMANDS.getFirst());
        byte[] unknown = e.encode();
        unknown[2 + 8 + 3] = (byte) (ClusterCommand.KINDS + 1);
        assertThat(catchThrowableOfType(LogFormatException.class, () -> ClusterLogEntry.decode(unknown, 2))
                        .reason())
                .isEqualTo(LogFormatException.Reason.UNKNOWN_KIND);
        byte[] query = new ClusterLogEntry(42, new ClusterCommand.GetMap()).encode();
        assertThat(catchThrowableOfType(LogFormatException.class, () -> ClusterLogEntry.decode(query, 2))
                        .reason())
                .isEqualTo(LogFormatException.Reason.CORRUPT);
        byte[] truncated = Arrays.copyOf(e.encode(), e.encode().length - 1);
        assertThat(catchThrowableOfType(LogFormatException.class, () -> ClusterLogEntry.decode(truncated, 2))
                        .reason())
                .isEqualTo(LogFormatException.Reason.CORRUPT);
        assertThat(catchThrowableOfType(LogFormatException.class, () -> ClusterLogEntry.decode(new byte[3], 2))
                        .reason())
                .isEqualTo(LogFormatException.Reason.CORRUPT);
    }
}
