package io.holdfast.protocol;

/**
 * The log format version: which entries a member's code can apply from a replicated log,
 * separate from the wire version ({@link Codec#VERSION}) that clients and nodes speak.
 *
 * <p>Every log entry states the format it is written in: the lowest format that can express
 * it ({@link #required}). A member supports a range {@code [MIN, its max]}; it advertises that
 * range in the cluster map (at start-up and when it joins), and a leader logs an entry only if
 * every member of the group supports the entry's format (otherwise the request is refused with
 * ENOTSUP/EOPNOTSUPP naming the member). An entry a member cannot decode anyway (a member
 * downgraded under a log that already holds newer entries) stops that member's applying; it
 * never skips the entry.
 *
 * <table>
 *   <caption>Log formats</caption>
 *   <tr><th>format</th><th>adds</th></tr>
 *   <tr><td>1</td><td>volume log: mkdir, create, write, truncate, unlink, rmdir, rename, symlink, link, setattr,
 *       setxattr, removexattr, drop-orphan, scrub mark; cluster log: every cluster command, node
 * advertisements</td></tr>
 *   <tr><td>2</td><td>volume log: mknod (special files), fallocate (preallocation, hole punching)</td></tr>
 *   <tr><td>3</td><td>volume log: batches of mutations (group commit), setattr naming the inode it expects
 *       </td></tr>
 *   <tr><td>4</td><td>cluster log: geo-replication sessions in the map (put, remove, progress)</td></tr>
 * </table>
 *
 * <p>Thread safety: constants and pure functions.
 */
public final class LogFormat {
    /** The oldest log format this code reads. */
    public static final int MIN = 1;
    /** The newest log format this code reads and writes. */
    public static final int MAX = 4;
    /** The log format of batches and write-back attribute changes. */
    public static final int BATCHES = 3;
    /** The log format of the geo-replication session commands of the cluster log. */
    public static final int GEOREP_SESSIONS = 4;

    private LogFormat() {}

    /** The lowest log format that can express {@code mutation}: the format that introduced its kind. */
    public static int required(Request.Mutation mutation) {
        return switch (mutation) {
            case Request.Mknod m -> 2;
            case Request.Fallocate f -> 2;
            case Request.Batch b -> BATCHES;
            case Request.SetAttr s when s.expectInode() != 0 -> BATCHES;
            default -> 1;
        };
    }

    /** A range as people read it: {@code "1..2"}. */
    public static String range(int min, int max) {
        return min + ".." + max;
    }

    /**
     * Checks the format an entry states against what this member supports.
     *
     * @param format the entry's log format
     * @param maxSupported the highest format this member supports (normally {@link #MAX})
     * @throws LogFormatException {@link LogFormatException.Reason#TOO_OLD} below {@link #MIN},
     *     {@link LogFormatException.Reason#TOO_NEW} above {@code maxSupported}
     */
    static void check(int format, int maxSupported) throws LogFormatException {
        if (format < MIN) {
            throw new LogFormatException(
                    LogFormatException.Reason.TOO_OLD,
                    format,
                    "log format " + format + " is older than this code reads (" + range(MIN, maxSupported) + ")");
        }
        if (format > maxSupported) {
            throw new LogFormatException(
                    LogFormatException.Reason.TOO_NEW,
                    format,
                    "log format " + format + ", this node supports " + range(MIN, maxSupported)
                            + ": upgrade this node");
        }
    }
}
