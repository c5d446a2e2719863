package io.holdfast.protocol;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.protocol.Request.Batch;
import io.holdfast.protocol.Request.Changes;
import io.holdfast.protocol.Request.Create;
import io.holdfast.protocol.Request.DropOrphan;
import io.holdfast.protocol.Request.Fallocate;
import io.holdfast.protocol.Request.GetAttr;
import io.holdfast.protocol.Request.GetAttrByInode;
import io.holdfast.protocol.Request.GetDigest;
import io.holdfast.protocol.Request.GetXattr;
import io.holdfast.protocol.Request.LeasePoll;
import io.holdfast.protocol.Request.LeaseRenew;
import io.holdfast.protocol.Request.Link;
import io.holdfast.protocol.Request.ListXattr;
import io.holdfast.protocol.Request.MarkDigest;
import io.holdfast.protocol.Request.MarkDirectories;
import io.holdfast.protocol.Request.Mkdir;
import io.holdfast.protocol.Request.Mknod;
import io.holdfast.protocol.Request.Mutation;
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
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * Binary encoding of {@link Request}s, {@link Response}s and {@link LogEntry}s.
 *
 * <p>Every message is one frame:
 *
 * <pre>
 *  0      2         3        4                          n-4        n
 *  +------+---------+--------+---------- body ----------+----------+
 *  | "HF" | version |  kind  |  fields, big-endian      |  CRC32C  |
 *  +------+---------+--------+--------------------------+----------+
 * </pre>
 *
 * <p>{@code kind} names the record type. Integers are big-endian; strings and byte arrays
 * are a 4-byte length followed by the bytes (strings in UTF-8). The CRC32C covers everything
 * before it. The decoder checks the magic, the version (refusing any other with a message
 * naming both versions), every length against {@link Limits} before allocating, the
 * checksum, and that no bytes are left over. Decoding never throws anything but
 * {@link ProtocolException}.
 *
 * <p>Thread safety: stateless; all methods may be called from any thread.
 */
public final class Codec {
    /** The magic bytes "HF". */
    public static final short MAGIC = 0x4846;
    /** The protocol version this code speaks. */
    public static final int VERSION = 1;

    private static final int HEADER = 4;
    private static final int TRAILER = 4;

    // Kinds. Stable on the wire and in the Raft log: never renumber.
    private static final int K_MKDIR = 1;
    private static final int K_CREATE = 2;
    private static final int K_WRITE = 3;
    private static final int K_TRUNCATE = 4;
    private static final int K_UNLINK = 5;
    private static final int K_RMDIR = 6;
    private static final int K_RENAME = 7;
    private static final int K_SYMLINK = 8;
    private static final int K_LINK = 9;
    private static final int K_SETATTR = 10;
    private static final int K_SETXATTR = 11;
    private static final int K_REMOVEXATTR = 12;
    private static final int K_DROPORPHAN = 13;
    private static final int K_SCRUB_MARK = 14;
    private static final int K_FALLOCATE = 16;
    private static final int K_MKNOD = 15;
    /** {@code u16 count}, then each mutation (kind and fields), none a batch, a data write only last. */
    private static final int K_BATCH = 17;
    /** {@link Request.SetAttr} with an {@code expectInode}: {@code K_SETATTR}'s fields, then two {@code i64}. */
    private static final int K_SETATTR_EXPECT = 18;
    /** {@link Request.Unlink} with an {@code expectInode}: {@code K_UNLINK}'s fields, then two {@code i64}. */
    private static final int K_UNLINK_EXPECT = 19;
    /** {@link Request.Rmdir} with an {@code expectInode}: {@code K_RMDIR}'s fields, then two {@code i64}. */
    private static final int K_RMDIR_EXPECT = 20;
    /** {@link Request.Rename} with an {@code expectInode}: {@code K_RENAME}'s fields, then two {@code i64}. */
    private static final int K_RENAME_EXPECT = 21;
    /** {@link Request.Create} with a client-chosen inode: {@code K_CREATE}'s fields, then two {@code i64}. */
    private static final int K_CREATE_INODE = 22;
    /** {@link Request.Write} stamped at the client's time: {@code K_WRITE}'s fields, then an {@code i64}. */
    private static final int K_WRITE_STAMPED = 23;

    private static final int K_GETATTR = 32;
    private static final int K_GETATTR_INODE = 33;
    private static final int K_READDIR = 34;
    private static final int K_READ = 35;
    private static final int K_READLINK = 36;
    private static final int K_GETXATTR = 37;
    private static final int K_LISTXATTR = 38;
    private static final int K_STATFS = 39;
    private static final int K_DIGEST = 40;
    private static final int K_SCRUB_READ = 41;
    private static final int K_MARK_DIGEST = 42;
    private static final int K_MARK_DIRECTORIES = 43;
    private static final int K_SCRUB_CONTROL = 44;
    private static final int K_SNAPSHOT_READ = 45;
    private static final int K_SEEK_DATA = 46;
    private static final int K_LEASE_RENEW = 47;
    private static final int K_LEASE_POLL = 48;
    private static final int K_CHANGES = 49;
    /** {@link Request.Compressed}: {@code i32 maxBytes}, then the inner query (kind and fields). */
    private static final int K_COMPRESSED = 50;
    /** {@link Request.ReadDirPlus} (answered by members of log format 10 and later). */
    private static final int K_READDIR_PLUS = 51;
    /** A log entry written before log formats were stated: log format 1, no format byte. Still read. */
    private static final int K_LOG_ENTRY = 64;
    /** A log entry: {@code u8 log format}, {@code i64 timestamp}, then the mutation (see {@link LogFormat}). */
    private static final int K_LOG_ENTRY_FORMATTED = 65;
    /** The request kinds a log entry may hold: the mutations. */
    private static final Set<Integer> MUTATION_KINDS = Set.of(
            K_MKDIR,
            K_CREATE,
            K_WRITE,
            K_TRUNCATE,
            K_UNLINK,
            K_RMDIR,
            K_RENAME,
            K_SYMLINK,
            K_LINK,
            K_SETATTR,
            K_SETXATTR,
            K_REMOVEXATTR,
            K_DROPORPHAN,
            K_SCRUB_MARK,
            K_MKNOD,
            K_FALLOCATE,
            K_BATCH,
            K_SETATTR_EXPECT,
            K_UNLINK_EXPECT,
            K_RMDIR_EXPECT,
            K_RENAME_EXPECT,
            K_CREATE_INODE,
            K_WRITE_STAMPED);
    /** The request kinds that are queries: never in a log entry. */
    private static final Set<Integer> QUERY_KINDS = Set.of(
            K_GETATTR,
            K_GETATTR_INODE,
            K_READDIR,
            K_READ,
            K_READLINK,
            K_GETXATTR,
            K_LISTXATTR,
            K_STATFS,
            K_DIGEST,
            K_SCRUB_READ,
            K_MARK_DIGEST,
            K_MARK_DIRECTORIES,
            K_SCRUB_CONTROL,
            K_SNAPSHOT_READ,
            K_SEEK_DATA,
            K_LEASE_RENEW,
            K_LEASE_POLL,
            K_CHANGES,
            K_COMPRESSED,
            K_READDIR_PLUS);

    private static final int K_OK = 96;
    private static final int K_ERROR = 97;
    private static final int K_ATTR = 98;
    private static final int K_DIRPAGE = 99;
    private static final int K_DATA = 100;
    private static final int K_TEXT = 101;
    private static final int K_NAMES = 102;
    private static final int K_FSSTATS = 103;
    private static final int K_DIGEST_REPLY = 104;
    /** {@link Response.FsStats} of a read-only export: kind 103's fields, then flags (bit 0: read-only). */
    private static final int K_FSSTATS_FLAGS = 105;

    private static final int K_DIR_DIGESTS = 106;
    private static final int K_SCRUB_STATUS = 107;
    private static final int K_SNAPSHOT_CHUNK = 108;
    private static final int K_OFFSET = 109;
    private static final int K_LEASE = 111;
    /** A change feed page (server -> client). */
    private static final int K_CHANGE_PAGE = 113;
    /** One change record, as a brick keeps it in its changelog (never inside another frame kind). */
    private static final int K_CHANGE_RECORD = 114;
    /** {@link Response.Compressed}: {@code i32 rawLength}, then the zstd frame as a byte array. */
    private static final int K_COMPRESSED_REPLY = 115;
    /** {@link Response.DirPlusPage}. */
    private static final int K_DIRPLUS_PAGE = 116;
    /** {@code u16 count}, then each response (kind and fields), none a batch reply. */
    private static final int K_BATCH_REPLY = 112;
    /**
     * {@link Response.AttrReply} of a device with a non-zero {@link Attr#rdev()}: kind 98's fields,
     * then rdev. Kind 98 means rdev 0, so replies to peers that predate devices are unchanged.
     */
    private static final int K_ATTR_RDEV = 110;

    /** Longest error message, in UTF-16 units: the encoder cuts longer ones, the decoder refuses them. */
    private static final int MAX_MESSAGE_CHARS = 4096;

    private Codec() {}

    // ------------------------------------------------------------------ encoding

    /** Encodes a request into one frame. */
    public static byte[] encode(Request request) {
        // a data write's frame exactly: magic, version, kind (4), caller (12 + 4 per group), inode,
        // offset (16), data with its length (4 + n), its CRC32C (4), the trailer (4)
        Writer w = new Writer(request instanceof Write x ? 44 + 4 * x.caller().groups().length + x.data().length : 64);
        writeRequest(w, request);
        return w.finish();
    }

    /**
     * Encodes a log entry into one frame, stating the lowest log format that can express it
     * ({@link LogFormat#required}).
     */
    public static byte[] encode(LogEntry entry) {
        Writer w = new Writer();
        w.kind(K_LOG_ENTRY_FORMATTED);
        w.u8(entry.format());
        w.i64(entry.timestampNanos());
        writeRequest(w, entry.mutation());
        return w.finish();
    }

    /**
     * Encodes a response into one frame. A data reply's buffer is sized exactly (header, length,
     * data, CRC32C, trailer), so its data is copied once, into the frame: a 1 MiB read reply used
     * to be grown from 64 bytes by doubling and copied once more at the end.
     */
    public static byte[] encode(Response response) {
        Writer w = new Writer(response instanceof Response.Data d ? HEADER + 4 + d.bytes().length + 4 + TRAILER : 64);
        writeResponse(w, response);
        return w.finish();
    }

    private static void writeResponse(Writer w, Response response) {
        switch (response) {
            case Response.Ok ok -> w.kind(K_OK);
            case Response.Batch b -> {
                w.kind(K_BATCH_REPLY);
                w.i16(b.responses().size());
                for (Response r : b.responses()) {
                    writeResponse(w, r);
                }
            }
            case Response.Error e -> {
                w.kind(K_ERROR);
                w.i32(e.errno().code());
                String m = e.message() == null ? "" : e.message();
                if (m.length() > MAX_MESSAGE_CHARS) {
                    // cut at the limit, or one unit earlier so as not to split a surrogate pair
                    m = m.substring(
                            0,
                            Character.isHighSurrogate(m.charAt(MAX_MESSAGE_CHARS - 1))
                                    ? MAX_MESSAGE_CHARS - 1
                                    : MAX_MESSAGE_CHARS);
                }
                w.str(m);
            }
            case Response.AttrReply a -> {
                w.kind(a.attr().rdev() != 0 ? K_ATTR_RDEV : K_ATTR);
                writeAttr(w, a.attr());
                if (a.attr().rdev() != 0) {
                    w.i64(a.attr().rdev());
                }
            }
            case Response.DirPage p -> {
                w.kind(K_DIRPAGE);
                w.i32(p.entries().size());
                for (DirEntry e : p.entries()) {
                    w.str(e.name());
                    w.i64(e.inode());
                    w.u8(e.type().code());
                }
                w.u8(p.more() ? 1 : 0);
            }
            case Response.DirPlusPage p -> {
                w.kind(K_DIRPLUS_PAGE);
                w.i32(p.entries().size());
                for (int i = 0; i < p.entries().size(); i++) {
                    Attr a = p.attrs().get(i);
                    w.str(p.entries().get(i).name());
                    writeAttr(w, a);
                    w.i64(a.rdev());
                }
                w.u8(p.more() ? 1 : 0);
            }
            case Response.Data d -> {
                w.kind(K_DATA);
                w.bytes(d.bytes());
                w.i32(d.crc32c());
            }
            case Response.Offset o -> {
                w.kind(K_OFFSET);
                w.i64(o.offset());
            }
            case Response.Lease l -> {
                w.kind(K_LEASE);
                w.i64(l.epoch());
                w.i64(l.seq());
                w.i64(l.grantedMillis());
            }
            case Response.ChangePage p -> {
                w.kind(K_CHANGE_PAGE);
                w.i64(p.appliedIndex());
                w.i64(p.trimmedThrough());
                w.i32(p.records().size());
                for (ChangeRecord c : p.records()) {
                    writeChangeRecord(w, c);
                }
                w.u8(p.more() ? 1 : 0);
            }
            case Response.Text t -> {
                w.kind(K_TEXT);
                w.str(t.text());
            }
            case Response.Names n -> {
                w.kind(K_NAMES);
                w.i32(n.names().size());
                for (String s : n.names()) {
                    w.str(s);
                }
            }
            case Response.FsStats s -> {
                w.kind(s.readOnly() ? K_FSSTATS_FLAGS : K_FSSTATS);
                w.i64(s.totalBytes());
                w.i64(s.freeBytes());
                w.i64(s.files());
                if (s.readOnly()) {
                    w.i32(1);
                }
            }
            case Response.Digest d -> {
                w.kind(K_DIGEST_REPLY);
                w.i64(d.appliedIndex());
                w.bytes(d.sha256());
            }
            case Response.DirDigests d -> {
                w.kind(K_DIR_DIGESTS);
                w.i64(d.mark());
                w.i32(d.entries().size());
                for (Response.DirDigest e : d.entries()) {
                    w.i64(e.directory());
                    w.i64(e.digest());
                }
                w.u8(d.more() ? 1 : 0);
            }
            case Response.SnapshotChunk c -> {
                w.kind(K_SNAPSHOT_CHUNK);
                w.i64(c.index());
                w.i64(c.totalBytes());
                w.bytes(c.bytes());
                w.i32(c.crc32c());
            }
            case Response.Compressed c -> {
                w.kind(K_COMPRESSED_REPLY);
                w.i32(c.rawLength());
                w.bytes(c.zstd());
            }
            case Response.ScrubStatus st -> {
                ScrubStats s = st.stats();
                w.kind(K_SCRUB_STATUS);
                w.u8(s.state().code());
                w.str(s.quarantine());
                for (long v : new long[] {
                    s.passes(),
                    s.passBytesDone(),
                    s.passBytesTotal(),
                    s.bytesVerified(),
                    s.blocksVerified(),
                    s.badBlocks(),
                    s.repairedBlocks(),
                    s.unrepairableBlocks(),
                    s.divergentDirectories(),
                    s.lastMark(),
                    s.lastPassStartMillis(),
                    s.lastPassEndMillis(),
                    s.nextPassMillis(),
                    s.rateBytesPerSecond()
                }) {
                    w.i64(v);
                }
                w.str(s.lastProblem());
            }
        }
    }

    private static void writeRequest(Writer w, Request request) {
        switch (request) {
            case Mkdir m -> {
                w.kind(K_MKDIR);
                w.caller(m.caller());
                w.str(m.path());
                w.i32(m.mode());
            }
            case Create c -> {
                w.kind(c.inode() == 0 ? K_CREATE : K_CREATE_INODE);
                w.caller(c.caller());
                w.str(c.path());
                w.i32(c.mode());
                w.u8(c.exclusive() ? 1 : 0);
                if (c.inode() != 0) {
                    w.i64(c.inode());
                    w.i64(c.clientNanos());
                }
            }
            case Write x -> {
                w.kind(x.clientNanos() == 0 ? K_WRITE : K_WRITE_STAMPED);
                w.caller(x.caller());
                w.i64(x.inode());
                w.i64(x.offset());
                w.bytes(x.data());
                w.i32(x.crc32c());
                if (x.clientNanos() != 0) {
                    w.i64(x.clientNanos());
                }
            }
            case Truncate t -> {
                w.kind(K_TRUNCATE);
                w.caller(t.caller());
                w.i64(t.inode());
                w.i64(t.size());
            }
            case Unlink u -> {
                w.kind(u.expectInode() == 0 ? K_UNLINK : K_UNLINK_EXPECT);
                w.caller(u.caller());
                w.str(u.path());
                w.u8(u.keepOrphan() ? 1 : 0);
                if (u.expectInode() != 0) {
                    w.i64(u.expectInode());
                    w.i64(u.clientNanos());
                }
            }
            case Rmdir r -> {
                w.kind(r.expectInode() == 0 ? K_RMDIR : K_RMDIR_EXPECT);
                w.caller(r.caller());
                w.str(r.path());
                if (r.expectInode() != 0) {
                    w.i64(r.expectInode());
                    w.i64(r.clientNanos());
                }
            }
            case Rename r -> {
                w.kind(r.expectInode() == 0 ? K_RENAME : K_RENAME_EXPECT);
                w.caller(r.caller());
                w.str(r.from());
                w.str(r.to());
                w.i32(r.flags());
                if (r.expectInode() != 0) {
                    w.i64(r.expectInode());
                    w.i64(r.clientNanos());
                }
            }
            case Symlink s -> {
                w.kind(K_SYMLINK);
                w.caller(s.caller());
                w.str(s.path());
                w.str(s.target());
            }
            case Link l -> {
                w.kind(K_LINK);
                w.caller(l.caller());
                w.str(l.existing());
                w.str(l.path());
            }
            case SetAttr s -> {
                w.kind(s.expectInode() == 0 ? K_SETATTR : K_SETATTR_EXPECT);
                w.caller(s.caller());
                w.str(s.path());
                w.i32(s.mask());
                w.i32(s.mode());
                w.i32(s.uid());
                w.i32(s.gid());
                w.i64(s.atimeNanos());
                w.i64(s.mtimeNanos());
                if (s.expectInode() != 0) {
                    w.i64(s.expectInode());
                    w.i64(s.clientNanos());
                }
            }
            case SetXattr s -> {
                w.kind(K_SETXATTR);
                w.caller(s.caller());
                w.str(s.path());
                w.str(s.name());
                w.bytes(s.value());
                w.i32(s.flags());
            }
            case RemoveXattr r -> {
                w.kind(K_REMOVEXATTR);
                w.caller(r.caller());
                w.str(r.path());
                w.str(r.name());
            }
            case DropOrphan d -> {
                w.kind(K_DROPORPHAN);
                w.caller(d.caller());
                w.i64(d.inode());
            }
            case ScrubMark m -> {
                w.kind(K_SCRUB_MARK);
                w.caller(m.caller());
            }
            case Batch b -> {
                w.kind(K_BATCH);
                w.i16(b.mutations().size());
                for (Mutation m : b.mutations()) {
                    writeRequest(w, m);
                }
            }
            case Fallocate f -> {
                w.kind(K_FALLOCATE);
                w.caller(f.caller());
                w.i64(f.inode());
                w.i32(f.mode());
                w.i64(f.offset());
                w.i64(f.length());
            }
            case Mknod m -> {
                w.kind(K_MKNOD);
                w.caller(m.caller());
                w.str(m.path());
                w.i32(m.mode());
                w.i64(m.rdev());
            }
            case GetAttr g -> {
                w.kind(K_GETATTR);
                w.str(g.path());
                w.u8(g.followSymlinks() ? 1 : 0);
            }
            case GetAttrByInode g -> {
                w.kind(K_GETATTR_INODE);
                w.i64(g.inode());
            }
            case ReadDir r -> {
                w.kind(K_READDIR);
                w.str(r.path());
                w.str(r.after());
                w.i32(r.maxEntries());
            }
            case ReadDirPlus r -> {
                w.kind(K_READDIR_PLUS);
                w.str(r.path());
                w.str(r.after());
                w.i32(r.maxEntries());
            }
            case Read r -> {
                w.kind(K_READ);
                w.i64(r.inode());
                w.i64(r.offset());
                w.i32(r.length());
            }
            case ReadLink r -> {
                w.kind(K_READLINK);
                w.str(r.path());
            }
            case GetXattr g -> {
                w.kind(K_GETXATTR);
                w.str(g.path());
                w.str(g.name());
            }
            case ListXattr l -> {
                w.kind(K_LISTXATTR);
                w.str(l.path());
            }
            case StatFs s -> w.kind(K_STATFS);
            case GetDigest d -> w.kind(K_DIGEST);
            case ScrubRead r -> {
                w.kind(K_SCRUB_READ);
                w.i64(r.inode());
                w.i64(r.block());
            }
            case MarkDigest m -> {
                w.kind(K_MARK_DIGEST);
                w.i64(m.mark());
            }
            case MarkDirectories m -> {
                w.kind(K_MARK_DIRECTORIES);
                w.i64(m.mark());
                w.i64(m.after());
                w.i32(m.maxEntries());
            }
            case SnapshotRead r -> {
                w.kind(K_SNAPSHOT_READ);
                w.i64(r.index());
                w.i64(r.offset());
                w.i32(r.length());
            }
            case SeekData q -> {
                w.kind(K_SEEK_DATA);
                w.i64(q.inode());
                w.i64(q.offset());
                w.u8(q.hole() ? 1 : 0);
            }
            case LeaseRenew q -> {
                w.kind(K_LEASE_RENEW);
                w.i64(q.session().getMostSignificantBits());
                w.i64(q.session().getLeastSignificantBits());
            }
            case Request.Compressed c -> {
                w.kind(K_COMPRESSED);
                w.i32(c.maxBytes());
                writeRequest(w, c.query());
            }
            case Changes q -> {
                w.kind(K_CHANGES);
                w.i64(q.afterIndex());
                w.i32(q.maxRecords());
                w.i32(q.waitMillis());
            }
            case LeasePoll q -> {
                w.kind(K_LEASE_POLL);
                w.i64(q.session().getMostSignificantBits());
                w.i64(q.session().getLeastSignificantBits());
                w.i64(q.epoch());
                w.i64(q.ackedSeq());
                w.i32(q.waitMillis());
            }
            case ScrubControl c -> {
                w.kind(K_SCRUB_CONTROL);
                w.u8(c.action().code());
                w.i64(c.rateBytesPerSecond());
            }
        }
    }

    private static void writeAttr(Writer w, Attr a) {
        w.i64(a.inode());
        w.u8(a.type().code());
        w.i32(a.mode());
        w.i32(a.nlink());
        w.i32(a.uid());
        w.i32(a.gid());
        w.i64(a.size());
        w.i64(a.atimeNanos());
        w.i64(a.mtimeNanos());
        w.i64(a.ctimeNanos());
    }

    // ------------------------------------------------------------------ decoding

    /**
     * Decodes a request frame.
     *
     * @throws ProtocolException if the frame is malformed, over a limit, of another version, or
     *     not a request
     */
    public static Request decodeRequest(byte[] frame) throws ProtocolException {
        Reader r = Reader.open(frame);
        Request req = readRequest(r, r.kind());
        r.end();
        return req;
    }

    /**
     * Decodes a log entry frame of a log format up to {@link LogFormat#MAX}.
     *
     * @throws LogFormatException if the entry's log format is outside {@link LogFormat#MIN}..{@link
     *     LogFormat#MAX}, it holds a kind this code does not know, or it is corrupt (malformed,
     *     over a limit, of another wire version, not a log entry, holding a query or a kind its
     *     stated format cannot hold)
     */
    public static LogEntry decodeLogEntry(byte[] frame) throws LogFormatException {
        return decodeLogEntry(frame, LogFormat.MAX);
    }

    /**
     * Decodes a log entry frame as a member that supports log formats {@link LogFormat#MIN} to
     * {@code maxFormat} would: a member running older code, or one told to stay at an older
     * format (tests of rolling upgrades).
     *
     * @param maxFormat the highest log format to accept, at most {@link LogFormat#MAX}
     * @throws LogFormatException as {@link #decodeLogEntry(byte[])}, with the reason
     * @throws IllegalArgumentException if {@code maxFormat} is outside {@link LogFormat#MIN}..{@link LogFormat#MAX}
     */
    public static LogEntry decodeLogEntry(byte[] frame, int maxFormat) throws LogFormatException {
        if (maxFormat < LogFormat.MIN || maxFormat > LogFormat.MAX) {
            throw new IllegalArgumentException(
                    "maxFormat " + maxFormat + " outside " + LogFormat.range(LogFormat.MIN, LogFormat.MAX));
        }
        int format = 0;
        try {
            Reader r = Reader.open(frame);
            int kind = r.kind();
            if (kind == K_LOG_ENTRY) {
                format = 1;
            } else if (kind == K_LOG_ENTRY_FORMATTED) {
                format = r.u8();
            } else {
                throw bad("expected a log entry, got kind " + kind);
            }
            LogFormat.check(format, maxFormat);
            long ts = r.i64();
            int requestKind = r.kind();
            if (QUERY_KINDS.contains(requestKind)) {
                throw bad("log entry holds a query (kind " + requestKind + ")");
            }
            if (!MUTATION_KINDS.contains(requestKind)) {
                throw new LogFormatException(
                        LogFormatException.Reason.UNKNOWN_KIND,
                        format,
                        "log entry of log format " + format + " holds request kind " + requestKind
                                + ", which this code does not know: upgrade this node");
            }
            Request.Mutation m = (Request.Mutation) readRequest(r, requestKind);
            r.end();
            int needed = LogFormat.required(m);
            if (needed > format) {
                throw bad(m.getClass().getSimpleName() + " needs log format " + needed + ", but the entry states "
                        + format);
            }
            return new LogEntry(ts, m);
        } catch (LogFormatException e) {
            throw e;
        } catch (ProtocolException e) {
            throw new LogFormatException(
                    LogFormatException.Reason.CORRUPT, format, "corrupt log entry: " + e.getMessage());
        }
    }

    /**
     * Encodes one change record into a frame of its own (kind 114), the form a brick keeps it in
     * its changelog.
     */
    public static byte[] encode(ChangeRecord record) {
        Writer w = new Writer();
        w.kind(K_CHANGE_RECORD);
        writeChangeRecord(w, record);
        return w.finish();
    }

    /**
     * Decodes a frame made by {@link #encode(ChangeRecord)}.
     *
     * @throws ProtocolException if the frame is malformed, over a limit, or not a change record
     */
    public static ChangeRecord decodeChangeRecord(byte[] frame) throws ProtocolException {
        Reader r = Reader.open(frame);
        int kind = r.kind();
        if (kind != K_CHANGE_RECORD) {
            throw bad("kind " + kind + " is not a change record");
        }
        ChangeRecord c = readChangeRecord(r);
        r.end();
        return c;
    }

    private static void writeChangeRecord(Writer w, ChangeRecord record) {
        w.i64(record.index());
        w.i64(record.timeNanos());
        w.i16(record.changes().size());
        for (Change c : record.changes()) {
            w.u8(c.kind().code());
            w.i64(c.inode());
            w.str(c.path() == null ? "" : c.path());
            w.str(c.from() == null ? "" : c.from());
            w.i64(c.offset());
            w.i64(c.length());
        }
    }

    private static ChangeRecord readChangeRecord(Reader r) throws ProtocolException {
        long index = r.i64();
        long time = r.i64();
        int n = r.u16();
        if (n < 1 || n > ChangeRecord.MAX_CHANGES || index <= 0) {
            throw bad("change record of index " + index + " with " + n + " changes");
        }
        List<Change> changes = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int code = r.u8();
            Change.Kind kind;
            try {
                kind = Change.Kind.fromCode(code);
            } catch (IllegalArgumentException e) {
                throw bad("unknown change kind " + code);
            }
            long inode = r.i64();
            String path = r.path();
            String from = r.path();
            long offset = r.i64();
            long length = r.i64();
            try {
                changes.add(new Change(
                        kind, inode, path.isEmpty() ? null : path, from.isEmpty() ? null : from, offset, length));
            } catch (IllegalArgumentException e) {
                throw bad(e.getMessage());
            }
        }
        return new ChangeRecord(index, time, changes);
    }

    /**
     * Decodes a response frame.
     *
     * @throws ProtocolException if the frame is malformed, over a limit, of another version, or
     *     not a response
     */
    public static Response decodeResponse(byte[] frame) throws ProtocolException {
        if (frame == null) {
            throw bad("no frame");
        }
        return decodeResponse(ByteBuffer.wrap(frame));
    }

    /**
     * Decodes a response frame: the bytes from {@code frame}'s position to its limit (a read-only
     * view of a reply's bytes will do, so they need not be copied out first; the data of a
     * {@link Response.Data} is copied once, into its own array). {@code frame}'s position is not
     * changed. Not thread-safe for one buffer (its view is read while decoding).
     *
     * @throws ProtocolException if the frame is malformed, over a limit, of another version, or
     *     not a response
     */
    public static Response decodeResponse(ByteBuffer frame) throws ProtocolException {
        Reader r = Reader.open(frame);
        Response resp = readResponse(r, r.kind(), true);
        r.end();
        return resp;
    }

    private static Response readResponse(Reader r, int kind, boolean top) throws ProtocolException {
        return switch (kind) {
            case K_OK -> new Response.Ok();
            case K_BATCH_REPLY -> {
                if (!top) {
                    throw bad("a batch reply inside a batch reply");
                }
                int n = r.u16();
                if (n < 1 || n > Request.Batch.MAX_MUTATIONS) {
                    throw bad("batch reply of " + n + " responses, outside 1.." + Request.Batch.MAX_MUTATIONS);
                }
                List<Response> responses = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    responses.add(readResponse(r, r.kind(), false));
                }
                yield new Response.Batch(responses);
            }
            case K_ERROR -> {
                int code = r.i32();
                Errno errno;
                try {
                    errno = Errno.fromCode(code);
                } catch (IllegalArgumentException e) {
                    throw bad("unknown errno " + code);
                }
                if (errno == Errno.OK) {
                    throw bad("error response carries OK");
                }
                String message = r.str(MAX_MESSAGE_CHARS * 4);
                if (message.length() > MAX_MESSAGE_CHARS) {
                    throw bad("error message of " + message.length() + " characters, more than the encoder writes");
                }
                yield new Response.Error(errno, message);
            }
            case K_ATTR -> new Response.AttrReply(readAttr(r));
            case K_ATTR_RDEV -> {
                Attr a = readAttr(r);
                long rdev = r.i64();
                if (rdev == 0) {
                    throw bad("attribute reply of kind " + K_ATTR_RDEV + " carries rdev 0");
                }
                yield new Response.AttrReply(a.withRdev(rdev));
            }
            case K_DIRPAGE -> {
                int n = r.count(Limits.MAX_DIR_PAGE_ENTRIES, "directory entries");
                List<DirEntry> entries = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    entries.add(new DirEntry(r.name(), r.i64(), r.type()));
                }
                yield new Response.DirPage(entries, r.bool());
            }
            case K_DIRPLUS_PAGE -> {
                int n = r.count(Limits.MAX_DIR_PAGE_ENTRIES, "directory entries");
                List<DirEntry> entries = new ArrayList<>(n);
                List<Attr> attrs = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    String name = r.name();
                    Attr a = readAttr(r);
                    long rdev = r.i64();
                    if (rdev != 0) {
                        a = a.withRdev(rdev);
                    }
                    entries.add(new DirEntry(name, a.inode(), a.type()));
                    attrs.add(a);
                }
                yield new Response.DirPlusPage(entries, attrs, r.bool());
            }
            case K_DATA -> new Response.Data(r.bytes(Limits.MAX_DATA_BYTES), r.i32());
            case K_TEXT -> new Response.Text(r.str(Limits.PATH_MAX));
            case K_OFFSET -> new Response.Offset(r.i64());
            case K_LEASE -> new Response.Lease(r.i64(), r.i64(), r.i64());
            case K_COMPRESSED_REPLY -> {
                if (!top) {
                    throw bad("a compressed reply inside a batch reply");
                }
                int raw = r.i32();
                if (raw < 1 || raw > Limits.MAX_FRAME_BYTES) {
                    throw bad("compressed reply of " + raw + " bytes outside 1.." + Limits.MAX_FRAME_BYTES);
                }
                yield new Response.Compressed(raw, r.bytes(Limits.MAX_FRAME_BYTES));
            }
            case K_CHANGE_PAGE -> {
                long applied = r.i64();
                long trimmed = r.i64();
                int n = r.count(Changes.MAX_RECORDS, "change records");
                List<ChangeRecord> records = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    records.add(readChangeRecord(r));
                }
                yield new Response.ChangePage(applied, trimmed, records, r.bool());
            }
            case K_NAMES -> {
                int n = r.count(Limits.MAX_XATTR_NAMES, "names");
                List<String> names = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    names.add(r.str(Limits.MAX_XATTR_NAME_BYTES));
                }
                yield new Response.Names(names);
            }
            case K_FSSTATS -> new Response.FsStats(r.i64(), r.i64(), r.i64());
            case K_FSSTATS_FLAGS -> {
                Response.FsStats s = new Response.FsStats(r.i64(), r.i64(), r.i64());
                if (r.i32() != 1) {
                    throw bad("unknown file system flags");
                }
                yield s.asReadOnly();
            }
            case K_DIGEST_REPLY -> new Response.Digest(r.i64(), r.bytes(64));
            case K_DIR_DIGESTS -> {
                long mark = r.i64();
                int n = r.count(Limits.MAX_DIGEST_PAGE_ENTRIES, "directory digests");
                List<Response.DirDigest> entries = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    entries.add(new Response.DirDigest(r.i64(), r.i64()));
                }
                yield new Response.DirDigests(mark, entries, r.bool());
            }
            case K_SNAPSHOT_CHUNK ->
                new Response.SnapshotChunk(r.i64(), r.i64(), r.bytes(Limits.MAX_DATA_BYTES), r.i32());
            case K_SCRUB_STATUS -> {
                ScrubStats.State state = r.scrubState();
                String quarantine = r.str(Limits.MAX_SCRUB_TEXT_BYTES);
                long[] v = new long[14];
                for (int i = 0; i < v.length; i++) {
                    v[i] = r.i64();
                }
                String problem = r.str(Limits.MAX_SCRUB_TEXT_BYTES);
                yield new Response.ScrubStatus(new ScrubStats(
                        state,
                        quarantine,
                        v[0],
                        v[1],
                        v[2],
                        v[3],
                        v[4],
                        v[5],
                        v[6],
                        v[7],
                        v[8],
                        v[9],
                        v[10],
                        v[11],
                        v[12],
                        v[13],
                        problem));
            }
            default -> throw bad("unknown response kind " + kind);
        };
    }

    /**
     * The two {@code i64} a written-back removal ends with: the inode it expects (never 0) and the
     * client's time.
     */
    private static long[] expectation(Reader r, String what) throws ProtocolException {
        long expectInode = r.i64();
        long clientNanos = r.i64();
        if (expectInode == 0) {
            throw bad(what + " expecting inode 0");
        }
        return new long[] {expectInode, clientNanos};
    }

    private static Request readRequest(Reader r, int kind) throws ProtocolException {
        return switch (kind) {
            case K_MKDIR -> new Mkdir(r.caller(), r.path(), r.i32());
            case K_CREATE -> new Create(r.caller(), r.path(), r.i32(), r.bool());
            case K_CREATE_INODE -> {
                Caller caller = r.caller();
                String path = r.path();
                int mode = r.i32();
                boolean exclusive = r.bool();
                long inode = r.i64();
                long clientNanos = r.i64();
                if (!exclusive || !Create.clientInode(inode)) {
                    throw bad("create with inode " + Long.toHexString(inode) + " outside the client range, or not"
                            + " exclusive");
                }
                yield new Create(caller, path, mode, exclusive, inode, clientNanos);
            }
            case K_WRITE -> new Write(r.caller(), r.i64(), r.i64(), r.bytes(Limits.MAX_DATA_BYTES), r.i32());
            case K_WRITE_STAMPED -> {
                Write x = new Write(r.caller(), r.i64(), r.i64(), r.bytes(Limits.MAX_DATA_BYTES), r.i32(), r.i64());
                if (x.clientNanos() == 0) {
                    throw bad("write stamped at client time 0");
                }
                yield x;
            }
            case K_TRUNCATE -> new Truncate(r.caller(), r.i64(), r.i64());
            case K_UNLINK -> new Unlink(r.caller(), r.path(), r.bool());
            case K_UNLINK_EXPECT -> {
                Caller caller = r.caller();
                String path = r.path();
                boolean keepOrphan = r.bool();
                long[] expected = expectation(r, "unlink");
                yield new Unlink(caller, path, keepOrphan, expected[0], expected[1]);
            }
            case K_RMDIR -> new Rmdir(r.caller(), r.path());
            case K_RMDIR_EXPECT -> {
                Caller caller = r.caller();
                String path = r.path();
                long[] expected = expectation(r, "rmdir");
                yield new Rmdir(caller, path, expected[0], expected[1]);
            }
            case K_RENAME -> new Rename(r.caller(), r.path(), r.path(), r.i32());
            case K_RENAME_EXPECT -> {
                Caller caller = r.caller();
                String from = r.path();
                String to = r.path();
                int flags = r.i32();
                long[] expected = expectation(r, "rename");
                yield new Rename(caller, from, to, flags, expected[0], expected[1]);
            }
            case K_SYMLINK -> new Symlink(r.caller(), r.path(), r.str(Limits.PATH_MAX));
            case K_LINK -> new Link(r.caller(), r.path(), r.path());
            case K_SETATTR -> new SetAttr(r.caller(), r.path(), r.i32(), r.i32(), r.i32(), r.i32(), r.i64(), r.i64());
            case K_SETATTR_EXPECT -> {
                Caller caller = r.caller();
                String path = r.path();
                int[] v = {r.i32(), r.i32(), r.i32(), r.i32()};
                long[] t = {r.i64(), r.i64(), r.i64(), r.i64()};
                if (t[2] == 0) {
                    throw bad("setattr expecting inode 0");
                }
                yield new SetAttr(caller, path, v[0], v[1], v[2], v[3], t[0], t[1], t[2], t[3]);
            }
            case K_BATCH -> {
                int n = r.u16();
                if (n < 1 || n > Batch.MAX_MUTATIONS) {
                    throw bad("batch of " + n + " mutations, outside 1.." + Batch.MAX_MUTATIONS);
                }
                List<Mutation> mutations = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    int inner = r.kind();
                    if (!MUTATION_KINDS.contains(inner) || inner == K_BATCH) {
                        throw bad("a batch holds request kind " + inner);
                    }
                    Mutation m = (Mutation) readRequest(r, inner);
                    if (i == n - 1 ? !Batch.mayEnd(m) : !Batch.batchable(m)) {
                        throw bad("a batch may not hold " + m.getClass().getSimpleName()
                                + (m instanceof Write ? " of " + ((Write) m).data().length + " bytes there" : ""));
                    }
                    mutations.add(m);
                }
                yield new Batch(mutations);
            }
            case K_SETXATTR ->
                new SetXattr(
                        r.caller(),
                        r.path(),
                        r.str(Limits.MAX_XATTR_NAME_BYTES),
                        r.bytes(Limits.MAX_XATTR_VALUE_BYTES),
                        r.i32());
            case K_REMOVEXATTR -> new RemoveXattr(r.caller(), r.path(), r.str(Limits.MAX_XATTR_NAME_BYTES));
            case K_DROPORPHAN -> new DropOrphan(r.caller(), r.i64());
            case K_SCRUB_MARK -> new ScrubMark(r.caller());
            case K_FALLOCATE -> new Fallocate(r.caller(), r.i64(), r.i32(), r.i64(), r.i64());
            case K_MKNOD -> new Mknod(r.caller(), r.path(), r.i32(), r.i64());
            case K_GETATTR -> new GetAttr(r.path(), r.bool());
            case K_GETATTR_INODE -> new GetAttrByInode(r.i64());
            case K_READDIR -> new ReadDir(r.path(), r.str(Limits.NAME_MAX), r.i32());
            case K_READDIR_PLUS -> new ReadDirPlus(r.path(), r.str(Limits.NAME_MAX), r.i32());
            case K_READ -> new Read(r.i64(), r.i64(), r.i32());
            case K_READLINK -> new ReadLink(r.path());
            case K_GETXATTR -> new GetXattr(r.path(), r.str(Limits.MAX_XATTR_NAME_BYTES));
            case K_LISTXATTR -> new ListXattr(r.path());
            case K_STATFS -> new StatFs();
            case K_DIGEST -> new GetDigest();
            case K_SCRUB_READ -> new ScrubRead(r.i64(), r.i64());
            case K_MARK_DIGEST -> new MarkDigest(r.i64());
            case K_MARK_DIRECTORIES -> new MarkDirectories(r.i64(), r.i64(), r.i32());
            case K_SCRUB_CONTROL -> new ScrubControl(r.scrubAction(), r.i64());
            case K_SNAPSHOT_READ -> new SnapshotRead(r.i64(), r.i64(), r.i32());
            case K_SEEK_DATA -> new SeekData(r.i64(), r.i64(), r.bool());
            case K_LEASE_RENEW -> new LeaseRenew(new UUID(r.i64(), r.i64()));
            case K_CHANGES -> {
                long after = r.i64();
                int max = r.i32();
                int wait = r.i32();
                if (after < 0 || max < 1 || max > Changes.MAX_RECORDS || wait < 0 || wait > Changes.MAX_WAIT_MILLIS) {
                    throw bad("changes after " + after + ", " + max + " records, wait " + wait
                            + " ms: outside the limits");
                }
                yield new Changes(after, max, wait);
            }
            case K_COMPRESSED -> {
                int max = r.i32();
                if (max < 1 || max > Limits.MAX_FRAME_BYTES) {
                    throw bad("compressed reply limit " + max + " outside 1.." + Limits.MAX_FRAME_BYTES);
                }
                int inner = r.kind();
                if (inner != K_READ && inner != K_READDIR && inner != K_READDIR_PLUS && inner != K_CHANGES) {
                    throw bad("a compressed query holds request kind " + inner);
                }
                yield new Request.Compressed((Request.Query) readRequest(r, inner), max);
            }
            case K_LEASE_POLL -> {
                UUID session = new UUID(r.i64(), r.i64());
                long epoch = r.i64();
                long acked = r.i64();
                int wait = r.i32();
                if (wait < 0 || wait > LeasePoll.MAX_WAIT_MILLIS) {
                    throw bad("lease poll wait " + wait + " ms outside 0.." + LeasePoll.MAX_WAIT_MILLIS);
                }
                yield new LeasePoll(session, epoch, acked, wait);
            }
            default -> throw bad("unknown request kind " + kind);
        };
    }

    private static Attr readAttr(Reader r) throws ProtocolException {
        return new Attr(r.i64(), r.type(), r.i32(), r.i32(), r.i32(), r.i32(), r.i64(), r.i64(), r.i64(), r.i64());
    }

    private static ProtocolException bad(String message) {
        return new ProtocolException(Errno.EBADMSG, message);
    }

    // ------------------------------------------------------------------ primitives

    /**
     * Builds one frame in a byte array of its own, sized up front when the caller knows about how
     * big the frame is (a write's data), so a payload is copied once into the frame and the frame
     * is not copied again unless the estimate was short.
     */
    private static final class Writer {
        private byte[] buf;
        private int len;

        Writer() {
            this(64);
        }

        /** A writer whose buffer first holds {@code capacity} bytes (header and trailer included). */
        Writer(int capacity) {
            buf = new byte[Math.max(capacity, HEADER + TRAILER)];
            i16(MAGIC);
            u8(VERSION);
        }

        private void ensure(int more) {
            if (len + more > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(len + more, buf.length * 2));
            }
        }

        void kind(int kind) {
            u8(kind);
        }

        void u8(int v) {
            ensure(1);
            buf[len++] = (byte) v;
        }

        void i16(int v) {
            ensure(2);
            buf[len++] = (byte) (v >>> 8);
            buf[len++] = (byte) v;
        }

        void i32(int v) {
            ensure(4);
            ByteBuffer.wrap(buf, len, 4).putInt(v);
            len += 4;
        }

        void i64(long v) {
            ensure(8);
            ByteBuffer.wrap(buf, len, 8).putLong(v);
            len += 8;
        }

        void bytes(byte[] b) {
            i32(b.length);
            ensure(b.length);
            System.arraycopy(b, 0, buf, len, b.length);
            len += b.length;
        }

        void str(String s) {
            bytes(s.getBytes(StandardCharsets.UTF_8));
        }

        void caller(Caller c) {
            i32(c.uid());
            i32(c.gid());
            int[] groups = c.groups();
            i32(groups.length);
            for (int g : groups) {
                i32(g);
            }
        }

        byte[] finish() {
            int crc = Checksums.crc32c(buf, 0, len);
            i32(crc);
            return len == buf.length ? buf : Arrays.copyOf(buf, len);
        }
    }

    private static final class Reader {
        private final ByteBuffer buf;

        private Reader(ByteBuffer buf) {
            this.buf = buf;
        }

        static Reader open(byte[] frame) throws ProtocolException {
            if (frame == null) {
                throw bad("no frame");
            }
            return open(ByteBuffer.wrap(frame));
        }

        /** A reader of the bytes from {@code buffer}'s position to its limit (a view: the buffer is not changed). */
        static Reader open(ByteBuffer buffer) throws ProtocolException {
            ByteBuffer b = buffer.slice(); // big-endian, from 0
            int length = b.remaining();
            if (length > Limits.MAX_FRAME_BYTES) {
                throw new ProtocolException(
                        Errno.EPROTO, "frame of " + length + " bytes exceeds the limit of " + Limits.MAX_FRAME_BYTES);
            }
            if (length < HEADER + TRAILER) {
                throw bad("frame of " + length + " bytes is too short");
            }
            short magic = b.getShort();
            if (magic != MAGIC) {
                throw new ProtocolException(
                        Errno.EPROTO, String.format("bad magic 0x%04x, expected 0x%04x", magic, MAGIC));
            }
            int version = b.get() & 0xff;
            if (version != VERSION) {
                throw new ProtocolException(
                        Errno.EPROTO,
                        "unsupported protocol version " + version + " (this side speaks version " + VERSION + ")");
            }
            int expected = b.getInt(length - TRAILER);
            int actual = Checksums.crc32c(b.duplicate().position(0).limit(length - TRAILER));
            if (expected != actual) {
                throw bad(String.format("frame checksum mismatch: stored %08x, computed %08x", expected, actual));
            }
            b.limit(length - TRAILER);
            return new Reader(b);
        }

        private void need(int n) throws ProtocolException {
            if (buf.remaining() < n) {
                throw bad("truncated frame: need " + n + " bytes at offset " + buf.position() + ", have "
                        + buf.remaining());
            }
        }

        int kind() throws ProtocolException {
            need(1);
            return buf.get() & 0xff;
        }

        int u8() throws ProtocolException {
            need(1);
            return buf.get() & 0xff;
        }

        int u16() throws ProtocolException {
            need(2);
            return buf.getShort() & 0xffff;
        }

        boolean bool() throws ProtocolException {
            need(1);
            int v = buf.get();
            if (v != 0 && v != 1) {
                throw bad("boolean field holds " + v);
            }
            return v == 1;
        }

        int i32() throws ProtocolException {
            need(4);
            return buf.getInt();
        }

        long i64() throws ProtocolException {
            need(8);
            return buf.getLong();
        }

        int count(int max, String what) throws ProtocolException {
            int n = i32();
            if (n < 0 || n > max) {
                throw bad("count of " + what + " " + n + " outside 0.." + max);
            }
            return n;
        }

        byte[] bytes(int max) throws ProtocolException {
            int n = i32();
            if (n < 0 || n > max) {
                throw new ProtocolException(Errno.EPROTO, "length " + n + " outside 0.." + max);
            }
            need(n);
            byte[] b = new byte[n];
            buf.get(b);
            return b;
        }

        String str(int maxBytes) throws ProtocolException {
            byte[] b = bytes(maxBytes);
            try {
                return StandardCharsets.UTF_8
                        .newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(b))
                        .toString();
            } catch (CharacterCodingException e) {
                throw bad("string is not valid UTF-8");
            }
        }

        String path() throws ProtocolException {
            return str(Limits.VOLUME_PATH_MAX);
        }

        String name() throws ProtocolException {
            return str(Limits.NAME_MAX);
        }

        FileType type() throws ProtocolException {
            need(1);
            int code = buf.get() & 0xff;
            try {
                return FileType.fromCode(code);
            } catch (IllegalArgumentException e) {
                throw bad("unknown file type " + code);
            }
        }

        ScrubStats.State scrubState() throws ProtocolException {
            need(1);
            int code = buf.get() & 0xff;
            try {
                return ScrubStats.State.fromCode(code);
            } catch (IllegalArgumentException e) {
                throw bad("unknown scrub state " + code);
            }
        }

        ScrubControl.Action scrubAction() throws ProtocolException {
            need(1);
            int code = buf.get() & 0xff;
            try {
                return ScrubControl.Action.fromCode(code);
            } catch (IllegalArgumentException e) {
                throw bad("unknown scrub action " + code);
            }
        }

        Caller caller() throws ProtocolException {
            int uid = i32();
            int gid = i32();
            int n = count(Limits.MAX_GROUPS, "groups");
            int[] groups = new int[n];
            for (int i = 0; i < n; i++) {
                groups[i] = i32();
            }
            return new Caller(uid, gid, groups);
        }

        void end() throws ProtocolException {
            if (buf.hasRemaining()) {
                throw bad(buf.remaining() + " unexpected bytes after the message");
            }
        }
    }
}
