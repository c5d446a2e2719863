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
 *   <tr><td>5</td><td>volume log: paths longer than {@link Limits#PATH_MAX} bytes, up to
 *       {@link Limits#VOLUME_PATH_MAX} (deep trees)</td></tr>
 *   <tr><td>6</td><td>volume log: unlink and rmdir naming the inode they expect, stamped at the client's
 *       time (write-back of removals)</td></tr>
 *   <tr><td>7</td><td>no new entries: members take snapshot manifests (incremental catch-up)</td></tr>
 *   <tr><td>8</td><td>volume log: rename naming the inode it expects to move, stamped at the client's time
 *       (write-back of renames)</td></tr>
 *   <tr><td>9</td><td>volume log: create with an inode number the client chose, stamped at the client's
 *       time (write-back of creates)</td></tr>
 *   <tr><td>10</td><td>no new entries: members answer listings with attributes
 *       ({@link Request.ReadDirPlus})</td></tr>
 *   <tr><td>11</td><td>volume log: a batch ending with a small data write (a written-back create and
 *       its first bytes in one entry); a write stamped at the client's time</td></tr>
 * </table>
 *
 * <p>Thread safety: constants and pure functions.
 */
public final class LogFormat {
    /** The oldest log format this code reads. */
    public static final int MIN = 1;
    /**
     * The newest log format this code reads and writes. A compile-time constant: code in other
     * modules asks {@link #newest()} instead, since javac copies a constant into the classes that
     * use it and an incremental build (the launcher's) need not recompile them when it changes.
     */
    public static final int MAX = 11;
    /** The log format of batches and write-back attribute changes. */
    public static final int BATCHES = 3;
    /** The log format of the geo-replication session commands of the cluster log. */
    public static final int GEOREP_SESSIONS = 4;
    /** The log format of mutations naming a path longer than {@link Limits#PATH_MAX} bytes. */
    public static final int DEEP_PATHS = 5;
    /** The log format of unlinks and rmdirs naming the inode they expect (written back by clients). */
    public static final int WRITE_BACK_REMOVALS = 6;
    /**
     * No new entries: a member of this format takes a snapshot manifest from its leader and
     * fetches only the data files it lacks; a leader sends manifests once every node of the
     * cluster map reads this format.
     */
    public static final int SNAPSHOT_MANIFESTS = 7;
    /** The log format of renames naming the inode they expect to move (written back by clients). */
    public static final int WRITE_BACK_RENAMES = 8;
    /** The log format of creates with a client-chosen inode number (written back by clients). */
    public static final int WRITE_BACK_CREATES = 9;
    /**
     * No new entries: a member of this format answers {@link Request.ReadDirPlus}; a client asks
     * it once every member of the group reads this format.
     */
    public static final int LISTINGS_WITH_ATTRIBUTES = 10;
    /**
     * The log format of a batch that ends with a data write ({@link Request.Batch#mayEnd}), and of a
     * write stamped at the client's time ({@link Request.Write#clientNanos}).
     */
    public static final int WRITES_IN_BATCHES = 11;

    private LogFormat() {}

    /**
     * {@link #MAX}, read at run time: what a node advertises and accepts, as this protocol jar
     * says, whenever the code asking was compiled (a node built incrementally with a constant from
     * an older compile advertised an older format, and clients then wrote nothing newer back).
     */
    public static int newest() {
        return MAX;
    }

    /**
     * The lowest log format that can express {@code mutation}: the format that introduced its kind,
     * or {@link #DEEP_PATHS} if it names a path longer than {@link Limits#PATH_MAX} bytes (a
     * member of an older format would refuse to decode it).
     */
    public static int required(Request.Mutation mutation) {
        int kind = switch (mutation) {
            case Request.Mknod m -> 2;
            case Request.Fallocate f -> 2;
            case Request.Batch b ->
                b.mutations().stream()
                        .mapToInt(LogFormat::required)
                        .reduce(b.endingWrite() != null ? WRITES_IN_BATCHES : BATCHES, Math::max);
            case Request.SetAttr s when s.expectInode() != 0 -> BATCHES;
            case Request.Unlink u when u.expectInode() != 0 -> WRITE_BACK_REMOVALS;
            case Request.Rmdir r when r.expectInode() != 0 -> WRITE_BACK_REMOVALS;
            case Request.Rename r when r.expectInode() != 0 -> WRITE_BACK_RENAMES;
            case Request.Create c when c.inode() != 0 -> WRITE_BACK_CREATES;
            case Request.Write w when w.clientNanos() != 0 -> WRITES_IN_BATCHES;
            default -> 1;
        };
        return longestPath(mutation) > Limits.PATH_MAX ? Math.max(kind, DEEP_PATHS) : kind;
    }

    /** The length in UTF-8 bytes of the longest volume path {@code mutation} names (0 if none). */
    static int longestPath(Request.Mutation mutation) {
        return switch (mutation) {
            case Request.Mkdir m -> PathNames.utf8Length(m.path());
            case Request.Create c -> PathNames.utf8Length(c.path());
            case Request.Unlink u -> PathNames.utf8Length(u.path());
            case Request.Rmdir r -> PathNames.utf8Length(r.path());
            case Request.Rename r -> Math.max(PathNames.utf8Length(r.from()), PathNames.utf8Length(r.to()));
            case Request.Symlink s -> PathNames.utf8Length(s.path());
            case Request.Mknod m -> PathNames.utf8Length(m.path());
            case Request.Link l -> Math.max(PathNames.utf8Length(l.existing()), PathNames.utf8Length(l.path()));
            case Request.SetAttr s -> PathNames.utf8Length(s.path());
            case Request.SetXattr s -> PathNames.utf8Length(s.path());
            case Request.RemoveXattr r -> PathNames.utf8Length(r.path());
            case Request.Batch b ->
                b.mutations().stream().mapToInt(LogFormat::longestPath).max().orElse(0);
            case Request.Write w -> 0;
            case Request.Truncate t -> 0;
            case Request.DropOrphan d -> 0;
            case Request.ScrubMark m -> 0;
            case Request.Fallocate f -> 0;
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
