package io.holdfast.protocol;

import io.holdfast.common.Caller;
import io.holdfast.protocol.Request.Create;
import io.holdfast.protocol.Request.DropOrphan;
import io.holdfast.protocol.Request.Fallocate;
import io.holdfast.protocol.Request.GetAttr;
import io.holdfast.protocol.Request.GetAttrByInode;
import io.holdfast.protocol.Request.GetDigest;
import io.holdfast.protocol.Request.GetXattr;
import io.holdfast.protocol.Request.Link;
import io.holdfast.protocol.Request.ListXattr;
import io.holdfast.protocol.Request.MarkDigest;
import io.holdfast.protocol.Request.MarkDirectories;
import io.holdfast.protocol.Request.Mkdir;
import io.holdfast.protocol.Request.Mknod;
import io.holdfast.protocol.Request.Read;
import io.holdfast.protocol.Request.ReadDir;
import io.holdfast.protocol.Request.ReadDirPlus;
import io.holdfast.protocol.Request.ReadLink;
import io.holdfast.protocol.Request.RemoveXattr;
import io.holdfast.protocol.Request.Rename;
import io.holdfast.protocol.Request.Rmdir;
import io.holdfast.protocol.Request.ScrubControl;
import io.holdfast.protocol.Request.ScrubMark;
import io.holdfast.protocol.Request.ScrubRead;
import io.holdfast.protocol.Request.SeekData;
import io.holdfast.protocol.Request.SetAttr;
import io.holdfast.protocol.Request.SetXattr;
import io.holdfast.protocol.Request.SnapshotRead;
import io.holdfast.protocol.Request.StatFs;
import io.holdfast.protocol.Request.Symlink;
import io.holdfast.protocol.Request.Truncate;
import io.holdfast.protocol.Request.Unlink;
import io.holdfast.protocol.Request.Write;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Reference model of the {@link Codec} wire format, written from its documentation: the
 * header {@code "HF"} and version 1, the stable kind numbers, big-endian fields in record
 * order, strings and byte arrays as a 4-byte length and the bytes, and a CRC32C trailer. Each
 * length and count field carries the limit the decoder enforces.
 */
final class ReferenceCodec {
    /** The header every frame starts with: magic {@code "HF"}, version 1. */
    static final byte[] HEADER = {'H', 'F', 1};
    /** Longest error message the encoder sends, in UTF-16 units. */
    static final int MAX_MESSAGE_CHARS = 4096;
    /** Longest error message the decoder reads, in bytes. */
    static final int MAX_MESSAGE_BYTES = 4 * MAX_MESSAGE_CHARS;
    /** Request kinds; the stable wire numbers. */
    static final List<Integer> REQUEST_KINDS = List.of(
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 32, 33, 34, 35, 36, 37,
            38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51);
    /** The log entry kind written before log formats were stated (read as log format 1). */
    static final int LEGACY_LOG_ENTRY = 64;
    /** The log entry kind: log format byte, timestamp, mutation. */
    static final int LOG_ENTRY = 65;
    /** Response kinds; the stable wire numbers. */
    static final List<Integer> RESPONSE_KINDS =
            List.of(96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 115, 116);

    private ReferenceCodec() {}

    static WireWriter.Encoding encode(Request request) {
        WireWriter w = new WireWriter().raw(HEADER);
        request(w, request);
        return w.finish(true);
    }

    static WireWriter.Encoding encode(LogEntry entry) {
        return encode(entry, formatOf(entry.mutation()));
    }

    /** A log entry stating log format {@code format}, whether or not that is the right one. */
    static WireWriter.Encoding encode(LogEntry entry, int format) {
        WireWriter w = new WireWriter().raw(HEADER).u8(LOG_ENTRY).u8(format).i64(entry.timestampNanos());
        request(w, entry.mutation());
        return w.finish(true);
    }

    /** A log entry as written before log formats were stated. */
    static WireWriter.Encoding encodeLegacy(LogEntry entry) {
        WireWriter w = new WireWriter().raw(HEADER).u8(LEGACY_LOG_ENTRY).i64(entry.timestampNanos());
        request(w, entry.mutation());
        return w.finish(true);
    }

    /**
     * The log format an entry holding {@code m} needs, per the table in LogFormat's documentation:
     * the format that introduced its kind (11 for a batch ending with a write), or 5 if it names a
     * path longer than PATH_MAX bytes.
     */
    static int formatOf(Request.Mutation m) {
        int kind;
        if (m instanceof Request.Write x && x.clientNanos() != 0) {
            kind = 11;
        } else if (m instanceof Request.Create c && c.inode() != 0) {
            kind = 9;
        } else if (m instanceof Request.Rename r && r.expectInode() != 0) {
            kind = 8;
        } else if (m instanceof Request.Unlink u && u.expectInode() != 0
                || m instanceof Request.Rmdir r && r.expectInode() != 0) {
            kind = 6;
        } else if (m instanceof Request.Batch b) {
            int base = b.mutations().getLast() instanceof Request.Write ? 11 : 3;
            kind = b.mutations().stream().mapToInt(ReferenceCodec::formatOf).reduce(base, Math::max);
        } else if (m instanceof Request.SetAttr s && s.expectInode() != 0) {
            kind = 3;
        } else {
            kind = m instanceof Request.Mknod || m instanceof Request.Fallocate ? 2 : 1;
        }
        boolean deep = pathsOf(m).stream().anyMatch(p -> p.getBytes(StandardCharsets.UTF_8).length > Limits.PATH_MAX);
        return deep ? Math.max(kind, 5) : kind;
    }

    /** The volume paths {@code m} names (a symbolic link's target is not one). */
    private static List<String> pathsOf(Request.Mutation m) {
        return switch (m) {
            case Request.Batch b ->
                b.mutations().stream().flatMap(x -> pathsOf(x).stream()).toList();
            case Request.Rename r -> List.of(r.from(), r.to());
            case Request.Link l -> List.of(l.existing(), l.path());
            case Request.Mkdir x -> List.of(x.path());
            case Request.Create x -> List.of(x.path());
            case Request.Unlink x -> List.of(x.path());
            case Request.Rmdir x -> List.of(x.path());
            case Request.Symlink x -> List.of(x.path());
            case Request.Mknod x -> List.of(x.path());
            case Request.SetAttr x -> List.of(x.path());
            case Request.SetXattr x -> List.of(x.path());
            case Request.RemoveXattr x -> List.of(x.path());
            default -> List.of();
        };
    }

    static WireWriter.Encoding encode(Response response) {
        WireWriter w = new WireWriter().raw(HEADER);
        response(w, response);
        return w.finish(true);
    }

    private static void response(WireWriter w, Response response) {
        switch (response) {
            case Response.Ok o -> w.u8(96);
            case Response.Batch b -> {
                w.u8(112).u16(b.responses().size());
                for (Response r : b.responses()) {
                    response(w, r);
                }
            }
            case Response.Error e -> {
                w.u8(97).i32(e.errno().code());
                str(w, truncatedMessage(e.message()), MAX_MESSAGE_BYTES, "error message");
            }
            case Response.AttrReply a -> {
                Attr t = a.attr();
                // kind 110 when there is a device number: kind 98's fields, then rdev
                attr(w.u8(t.rdev() != 0 ? 110 : 98), t);
                if (t.rdev() != 0) {
                    w.i64(t.rdev());
                }
            }
            case Response.DirPlusPage p -> {
                // per entry: its name, kind 98's fields, rdev (0 for most)
                w.u8(116).count(p.entries().size(), 4, Limits.MAX_DIR_PAGE_ENTRIES, "directory entries");
                for (int i = 0; i < p.entries().size(); i++) {
                    str(w, p.entries().get(i).name(), Limits.NAME_MAX, "entry name");
                    attr(w, p.attrs().get(i)).i64(p.attrs().get(i).rdev());
                }
                w.u8(p.more() ? 1 : 0);
            }
            case Response.DirPage p -> {
                w.u8(99).count(p.entries().size(), 4, Limits.MAX_DIR_PAGE_ENTRIES, "directory entries");
                for (DirEntry e : p.entries()) {
                    str(w, e.name(), Limits.NAME_MAX, "entry name");
                    w.i64(e.inode()).u8(e.type().code());
                }
                w.u8(p.more() ? 1 : 0);
            }
            case Response.Data d -> {
                w.u8(100);
                bytes(w, d.bytes(), Limits.MAX_DATA_BYTES, "data");
                w.i32(d.crc32c());
            }
            case Response.Text t -> str(w.u8(101), t.text(), Limits.PATH_MAX, "text");
            case Response.Offset o -> w.u8(109).i64(o.offset());
            case Response.Compressed c -> bytes(w.u8(115).i32(c.rawLength()), c.zstd(), Limits.MAX_FRAME_BYTES, "zstd");
            case Response.Lease l -> w.u8(111).i64(l.epoch()).i64(l.seq()).i64(l.grantedMillis());
            case Response.ChangePage p -> {
                w.u8(113).i64(p.appliedIndex()).i64(p.trimmedThrough());
                w.count(p.records().size(), 4, Request.Changes.MAX_RECORDS, "change records");
                for (ChangeRecord r : p.records()) {
                    w.i64(r.index()).i64(r.timeNanos());
                    w.count(r.changes().size(), 2, ChangeRecord.MAX_CHANGES, "changes");
                    for (Change c : r.changes()) {
                        w.u8(c.kind().code()).i64(c.inode());
                        str(w, c.path() == null ? "" : c.path(), Limits.VOLUME_PATH_MAX, "change path");
                        str(w, c.from() == null ? "" : c.from(), Limits.VOLUME_PATH_MAX, "change from");
                        w.i64(c.offset()).i64(c.length());
                    }
                }
                w.u8(p.more() ? 1 : 0);
            }
            case Response.Names n -> {
                w.u8(102).count(n.names().size(), 4, Limits.MAX_XATTR_NAMES, "names");
                for (String s : n.names()) {
                    str(w, s, Limits.MAX_XATTR_NAME_BYTES, "name");
                }
            }
            case Response.FsStats s -> {
                w.u8(s.readOnly() ? 105 : 103)
                        .i64(s.totalBytes())
                        .i64(s.freeBytes())
                        .i64(s.files());
                if (s.readOnly()) {
                    w.i32(1);
                }
            }
            case Response.Digest d -> bytes(w.u8(104).i64(d.appliedIndex()), d.sha256(), 64, "digest");
            case Response.DirDigests d -> {
                w.u8(106)
                        .i64(d.mark())
                        .count(d.entries().size(), 4, Limits.MAX_DIGEST_PAGE_ENTRIES, "directory digests");
                for (Response.DirDigest e : d.entries()) {
                    w.i64(e.directory()).i64(e.digest());
                }
                w.u8(d.more() ? 1 : 0);
            }
            case Response.SnapshotChunk c -> {
                bytes(w.u8(108).i64(c.index()).i64(c.totalBytes()), c.bytes(), Limits.MAX_DATA_BYTES, "snapshot chunk");
                w.i32(c.crc32c());
            }
            case Response.ScrubStatus st -> {
                ScrubStats s = st.stats();
                str(w.u8(107).u8(s.state().code()), s.quarantine(), Limits.MAX_SCRUB_TEXT_BYTES, "quarantine reason");
                w.i64(s.passes())
                        .i64(s.passBytesDone())
                        .i64(s.passBytesTotal())
                        .i64(s.bytesVerified())
                        .i64(s.blocksVerified());
                w.i64(s.badBlocks())
                        .i64(s.repairedBlocks())
                        .i64(s.unrepairableBlocks())
                        .i64(s.divergentDirectories());
                w.i64(s.lastMark())
                        .i64(s.lastPassStartMillis())
                        .i64(s.lastPassEndMillis())
                        .i64(s.nextPassMillis());
                w.i64(s.rateBytesPerSecond());
                str(w, s.lastProblem(), Limits.MAX_SCRUB_TEXT_BYTES, "last problem");
            }
        }
    }

    /**
     * The message an error response carries after encoding: none becomes empty, and a message
     * over {@link #MAX_MESSAGE_CHARS} is cut there, or one unit earlier so that no surrogate pair
     * is split.
     */
    static String truncatedMessage(String m) {
        if (m == null) {
            return "";
        }
        if (m.length() <= MAX_MESSAGE_CHARS) {
            return m;
        }
        int end =
                Character.isHighSurrogate(m.charAt(MAX_MESSAGE_CHARS - 1)) ? MAX_MESSAGE_CHARS - 1 : MAX_MESSAGE_CHARS;
        return m.substring(0, end);
    }

    private static WireWriter attr(WireWriter w, Attr t) {
        w.i64(t.inode())
                .u8(t.type().code())
                .i32(t.mode())
                .i32(t.nlink())
                .i32(t.uid())
                .i32(t.gid());
        return w.i64(t.size()).i64(t.atimeNanos()).i64(t.mtimeNanos()).i64(t.ctimeNanos());
    }

    private static void request(WireWriter w, Request request) {
        switch (request) {
            case Mkdir m -> path(caller(w.u8(1), m.caller()), m.path()).i32(m.mode());
            case Create c -> {
                // kind 22 with a client-chosen inode: kind 2's fields, then the inode and the client's time
                path(caller(w.u8(c.inode() != 0 ? 22 : 2), c.caller()), c.path())
                        .i32(c.mode())
                        .u8(c.exclusive() ? 1 : 0);
                if (c.inode() != 0) {
                    w.i64(c.inode()).i64(c.clientNanos());
                }
            }
            case Write x -> {
                // kind 23 when stamped at the client's time: kind 3's fields, then that time
                caller(w.u8(x.clientNanos() != 0 ? 23 : 3), x.caller())
                        .i64(x.inode())
                        .i64(x.offset());
                bytes(w, x.data(), Limits.MAX_DATA_BYTES, "data");
                w.i32(x.crc32c());
                if (x.clientNanos() != 0) {
                    w.i64(x.clientNanos());
                }
            }
            case Truncate t -> caller(w.u8(4), t.caller()).i64(t.inode()).i64(t.size());
            case Unlink u -> {
                // kind 19 when an inode is expected: kind 5's fields, then the inode and the client's time
                path(caller(w.u8(u.expectInode() != 0 ? 19 : 5), u.caller()), u.path())
                        .u8(u.keepOrphan() ? 1 : 0);
                if (u.expectInode() != 0) {
                    w.i64(u.expectInode()).i64(u.clientNanos());
                }
            }
            case Rmdir r -> {
                // kind 20 when an inode is expected: kind 6's fields, then the inode and the client's time
                path(caller(w.u8(r.expectInode() != 0 ? 20 : 6), r.caller()), r.path());
                if (r.expectInode() != 0) {
                    w.i64(r.expectInode()).i64(r.clientNanos());
                }
            }
            case Rename r -> {
                // kind 21 when an inode is expected: kind 7's fields, then the inode and the client's time
                path(path(caller(w.u8(r.expectInode() != 0 ? 21 : 7), r.caller()), r.from()), r.to())
                        .i32(r.flags());
                if (r.expectInode() != 0) {
                    w.i64(r.expectInode()).i64(r.clientNanos());
                }
            }
            case Symlink s -> str(path(caller(w.u8(8), s.caller()), s.path()), s.target(), Limits.PATH_MAX, "target");
            case Link l -> path(path(caller(w.u8(9), l.caller()), l.existing()), l.path());
            case SetAttr s -> {
                // kind 18 when an inode is expected: kind 10's fields, then the inode and the client's time
                path(caller(w.u8(s.expectInode() != 0 ? 18 : 10), s.caller()), s.path())
                        .i32(s.mask())
                        .i32(s.mode())
                        .i32(s.uid())
                        .i32(s.gid());
                w.i64(s.atimeNanos()).i64(s.mtimeNanos());
                if (s.expectInode() != 0) {
                    w.i64(s.expectInode()).i64(s.clientNanos());
                }
            }
            case Request.Batch b -> {
                w.u8(17).u16(b.mutations().size());
                for (Request.Mutation m : b.mutations()) {
                    request(w, m);
                }
            }
            case SetXattr s -> {
                xattrName(path(caller(w.u8(11), s.caller()), s.path()), s.name());
                bytes(w, s.value(), Limits.MAX_XATTR_VALUE_BYTES, "xattr value");
                w.i32(s.flags());
            }
            case RemoveXattr r -> xattrName(path(caller(w.u8(12), r.caller()), r.path()), r.name());
            case DropOrphan d -> caller(w.u8(13), d.caller()).i64(d.inode());
            case ScrubMark m -> caller(w.u8(14), m.caller());
            case Fallocate f ->
                caller(w.u8(16), f.caller())
                        .i64(f.inode())
                        .i32(f.mode())
                        .i64(f.offset())
                        .i64(f.length());
            case Mknod m ->
                path(caller(w.u8(15), m.caller()), m.path()).i32(m.mode()).i64(m.rdev());
            case GetAttr g -> path(w.u8(32), g.path()).u8(g.followSymlinks() ? 1 : 0);
            case GetAttrByInode g -> w.u8(33).i64(g.inode());
            case ReadDir r ->
                str(path(w.u8(34), r.path()), r.after(), Limits.NAME_MAX, "after")
                        .i32(r.maxEntries());
            case ReadDirPlus r ->
                str(path(w.u8(51), r.path()), r.after(), Limits.NAME_MAX, "after")
                        .i32(r.maxEntries());
            case Read r -> w.u8(35).i64(r.inode()).i64(r.offset()).i32(r.length());
            case ReadLink r -> path(w.u8(36), r.path());
            case GetXattr g -> xattrName(path(w.u8(37), g.path()), g.name());
            case ListXattr l -> path(w.u8(38), l.path());
            case StatFs s -> w.u8(39);
            case GetDigest d -> w.u8(40);
            case ScrubRead r -> w.u8(41).i64(r.inode()).i64(r.block());
            case MarkDigest m -> w.u8(42).i64(m.mark());
            case MarkDirectories m -> w.u8(43).i64(m.mark()).i64(m.after()).i32(m.maxEntries());
            case SnapshotRead r -> w.u8(45).i64(r.index()).i64(r.offset()).i32(r.length());
            case SeekData q -> w.u8(46).i64(q.inode()).i64(q.offset()).u8(q.hole() ? 1 : 0);
            case Request.LeaseRenew q ->
                w.u8(47)
                        .i64(q.session().getMostSignificantBits())
                        .i64(q.session().getLeastSignificantBits());
            case Request.Compressed c -> {
                w.u8(50).i32(c.maxBytes());
                request(w, c.query());
            }
            case Request.Changes q ->
                w.u8(49).i64(q.afterIndex()).i32(q.maxRecords()).i32(q.waitMillis());
            case Request.LeasePoll q ->
                w.u8(48)
                        .i64(q.session().getMostSignificantBits())
                        .i64(q.session().getLeastSignificantBits())
                        .i64(q.epoch())
                        .i64(q.ackedSeq())
                        .i32(q.waitMillis());
            case ScrubControl c -> w.u8(44).u8(c.action().code()).i64(c.rateBytesPerSecond());
        }
    }

    private static WireWriter caller(WireWriter w, Caller c) {
        int[] groups = c.groups();
        w.i32(c.uid()).i32(c.gid()).count(groups.length, 4, Limits.MAX_GROUPS, "groups");
        for (int g : groups) {
            w.i32(g);
        }
        return w;
    }

    private static WireWriter path(WireWriter w, String path) {
        return str(w, path, Limits.VOLUME_PATH_MAX, "path");
    }

    private static WireWriter xattrName(WireWriter w, String name) {
        return str(w, name, Limits.MAX_XATTR_NAME_BYTES, "xattr name");
    }

    private static WireWriter str(WireWriter w, String s, int limit, String what) {
        return bytes(w, s.getBytes(StandardCharsets.UTF_8), limit, what);
    }

    private static WireWriter bytes(WireWriter w, byte[] b, int limit, String what) {
        return w.count(b.length, 4, limit, what).raw(b);
    }
}
