package io.holdfast.protocol;

import io.holdfast.common.Errno;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Objects;

/**
 * An entry of the cluster group's Raft log: the leader's timestamp and a {@link ClusterCommand}.
 *
 * <p>Encoded as {@code 0xFF}, the log format (u8, see {@link LogFormat}), the timestamp (i64,
 * nanoseconds since the epoch, big-endian), then the command's own encoding. Entries written
 * before log formats were stated have no marker (the timestamp comes first, and its top byte
 * is never {@code 0xFF}: that would be a negative time); they are read as log format 1.
 *
 * @param timestampNanos chosen by the leader, once, when proposing the entry
 * @param command the command to apply
 */
public record ClusterLogEntry(long timestampNanos, ClusterCommand command) {
    private static final int MARKER = 0xFF;

    public ClusterLogEntry {
        Objects.requireNonNull(command, "command");
    }

    /**
     * The log format of this entry: {@link LogFormat#GEOREP_SESSIONS} for the geo-replication
     * session commands, 1 for every other cluster command.
     */
    public int format() {
        return switch (command) {
            case ClusterCommand.PutGeorepSession g -> LogFormat.GEOREP_SESSIONS;
            case ClusterCommand.RemoveGeorepSession g -> LogFormat.GEOREP_SESSIONS;
            case ClusterCommand.GeorepProgress g -> LogFormat.GEOREP_SESSIONS;
            default -> 1;
        };
    }

    /** Encodes the entry. */
    public byte[] encode() {
        byte[] cmd = ClusterCommand.encode(command);
        ByteBuffer b = ByteBuffer.allocate(2 + 8 + cmd.length);
        b.put((byte) MARKER).put((byte) format()).putLong(timestampNanos).put(cmd);
        return b.array();
    }

    /**
     * Decodes an entry as a member supporting log formats {@link LogFormat#MIN} to {@code maxFormat}.
     *
     * @throws LogFormatException if its format is outside that range, it names an unknown kind of
     *     command, or it is corrupt
     */
    public static ClusterLogEntry decode(byte[] data, int maxFormat) throws LogFormatException {
        int format = 0;
        try {
            if (data == null || data.length < 8) {
                throw new ProtocolException(
                        Errno.EBADMSG, "cluster log entry of " + (data == null ? "no" : data.length) + " bytes");
            }
            int at = 0;
            if ((data[0] & 0xff) == MARKER) {
                if (data.length < 10) {
                    throw new ProtocolException(Errno.EBADMSG, "cluster log entry of " + data.length + " bytes");
                }
                format = data[1] & 0xff;
                at = 2;
            } else {
                format = 1;
            }
            LogFormat.check(format, maxFormat);
            long nanos = ByteBuffer.wrap(data, at, 8).getLong();
            byte[] cmd = Arrays.copyOfRange(data, at + 8, data.length);
            if (cmd.length >= 4 && (cmd[3] & 0xff) > ClusterCommand.KINDS) {
                throw new LogFormatException(
                        LogFormatException.Reason.UNKNOWN_KIND,
                        format,
                        "cluster log entry of log format " + format + " holds command kind " + (cmd[3] & 0xff)
                                + ", which this code does not know: upgrade this node");
            }
            ClusterCommand c = ClusterCommand.decode(cmd);
            if (c instanceof ClusterCommand.GetMap || c instanceof ClusterCommand.Hello) {
                throw new ProtocolException(
                        Errno.EBADMSG,
                        "cluster log entry holds a query: " + c.getClass().getSimpleName());
            }
            return new ClusterLogEntry(nanos, c);
        } catch (LogFormatException e) {
            throw e;
        } catch (ProtocolException e) {
            throw new LogFormatException(
                    LogFormatException.Reason.CORRUPT, format, "corrupt cluster log entry: " + e.getMessage());
        }
    }
}
