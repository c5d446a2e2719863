package io.holdfast.protocol;

import static io.holdfast.protocol.Gen.w;
import static io.holdfast.protocol.Gen.weighted;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Tuple;

/** Arbitraries and examples of every {@link Request}, {@link LogEntry} and {@link Response}. */
final class CodecValues {
    private static final FileType[] TYPES = FileType.values();

    private CodecValues() {}

    private static Arbitrary<Integer> ints() {
        return Arbitraries.integers();
    }

    private static Arbitrary<Long> longs() {
        return Arbitraries.longs();
    }

    private static Arbitrary<Boolean> bools() {
        return Arbitraries.of(true, false);
    }

    /** Every mutation variant, equally likely. */
    static List<Arbitrary<? extends Request.Mutation>> mutations(Gen g) {
        Arbitrary<Caller> c = g.callers();
        Arbitrary<String> path = g.text(Limits.VOLUME_PATH_MAX);
        Arbitrary<String> xattrName = g.text(Limits.MAX_XATTR_NAME_BYTES);
        return List.of(
                Combinators.combine(c, path, ints()).as(Mkdir::new),
                Combinators.combine(c, path, ints(), bools()).as(Create::new),
                Combinators.combine(c, longs(), longs(), g.bytes(Limits.MAX_DATA_BYTES), ints())
                        .as(Write::new),
                Combinators.combine(
                                c,
                                longs(),
                                longs(),
                                g.bytes(Limits.MAX_DATA_BYTES),
                                ints(),
                                longs().filter(x -> x != 0))
                        .as(Write::new),
                Combinators.combine(c, longs(), longs()).as(Truncate::new),
                Combinators.combine(c, path, bools()).as(Unlink::new),
                Combinators.combine(c, path).as(Rmdir::new),
                Combinators.combine(c, path, path, ints()).as(Rename::new),
                Combinators.combine(c, path, g.text(Limits.PATH_MAX)).as(Symlink::new),
                Combinators.combine(c, path, path).as(Link::new),
                Combinators.combine(c, path, ints(), ints(), ints(), ints(), longs(), longs())
                        .as(SetAttr::new),
                Combinators.combine(c, path, xattrName, g.bytes(Limits.MAX_XATTR_VALUE_BYTES), ints())
                        .as(SetXattr::new),
                Combinators.combine(c, path, xattrName).as(RemoveXattr::new),
                Combinators.combine(c, longs()).as(DropOrphan::new),
                c.map(ScrubMark::new),
                Combinators.combine(c, longs(), ints(), longs(), longs()).as(Fallocate::new),
                Combinators.combine(c, path, ints(), longs()).as(Mknod::new),
                Combinators.combine(
                                c,
                                path,
                                ints(),
                                ints().array(int[].class).ofSize(3),
                                longs().array(long[].class).ofSize(3),
                                longs().filter(x -> x != 0))
                        .as((cl, p, mask, v, t, ino) ->
                                new SetAttr(cl, p, mask, v[0], v[1], v[2], t[0], t[1], ino, t[2])),
                Combinators.combine(c, path, bools(), longs().filter(x -> x != 0), longs())
                        .as(Unlink::new),
                Combinators.combine(c, path, longs().filter(x -> x != 0), longs())
                        .as(Rmdir::new),
                Combinators.combine(c, path, path, ints(), longs().filter(x -> x != 0), longs())
                        .as(Rename::new),
                Combinators.combine(
                                c, path, ints(), Arbitraries.longs().between(1, Create.CLIENT_INODE_BIT - 1), longs())
                        .as((cl, p, mode, low, t) -> new Create(cl, p, mode, true, Create.CLIENT_INODE_BIT | low, t)),
                batches(g));
    }

    /** Batches of one to three batchable mutations (small: the mutations inside are already stretched). */
    static Arbitrary<Request.Batch> batches(Gen g) {
        Arbitrary<Caller> c = g.callers();
        Arbitrary<String> path = g.text(Limits.PATH_MAX);
        Arbitrary<Request.Mutation> one = Arbitraries.oneOf(List.<Arbitrary<? extends Request.Mutation>>of(
                Combinators.combine(c, path, ints(), bools()).as(Create::new),
                Combinators.combine(
                                c, path, ints(), Arbitraries.longs().between(1, Create.CLIENT_INODE_BIT - 1), longs())
                        .as((cl, p, mode, low, t) -> new Create(cl, p, mode, true, Create.CLIENT_INODE_BIT | low, t)),
                Combinators.combine(c, path, path, ints()).as(Rename::new),
                Combinators.combine(c, path, path, ints(), longs().filter(x -> x != 0), longs())
                        .as(Rename::new),
                Combinators.combine(c, path, bools()).as(Unlink::new),
                Combinators.combine(c, path, bools(), longs().filter(x -> x != 0), longs())
                        .as(Unlink::new),
                Combinators.combine(c, path, ints(), ints(), ints(), ints(), longs(), longs())
                        .as(SetAttr::new),
                Combinators.combine(c, longs(), longs()).as(Truncate::new)));
        Arbitrary<Request.Write> write = Combinators.combine(
                        c,
                        longs(),
                        longs(),
                        Arbitraries.bytes().array(byte[].class).ofMaxSize(64),
                        ints(),
                        longs())
                .as(Request.Write::new);
        Arbitrary<Request.Batch> plain = one.list().ofMinSize(1).ofMaxSize(3).map(Request.Batch::new);
        Arbitrary<Request.Batch> endingWithAWrite = Combinators.combine(
                        one.list().ofMaxSize(2), write)
                .as((ms, w) -> {
                    List<Request.Mutation> all = new ArrayList<>(ms);
                    all.add(w);
                    return new Request.Batch(all);
                });
        return Arbitraries.frequencyOf(Tuple.of(3, plain), Tuple.of(1, endingWithAWrite));
    }

    /** Every query variant, equally likely. */
    static List<Arbitrary<? extends Request.Query>> queries(Gen g) {
        Arbitrary<String> path = g.text(Limits.VOLUME_PATH_MAX);
        Arbitrary<Request.Query> bulk = Arbitraries.oneOf(List.<Arbitrary<? extends Request.Query>>of(
                Combinators.combine(path, g.text(Limits.NAME_MAX), ints()).as(ReadDir::new),
                Combinators.combine(path, g.text(Limits.NAME_MAX), ints()).as(ReadDirPlus::new),
                Combinators.combine(longs(), longs(), ints()).as(Read::new),
                Combinators.combine(
                                Arbitraries.longs().greaterOrEqual(0),
                                Arbitraries.integers().between(1, Request.Changes.MAX_RECORDS),
                                Arbitraries.integers().between(0, Request.Changes.MAX_WAIT_MILLIS))
                        .as(Request.Changes::new)));
        return List.of(
                Combinators.combine(bulk, Arbitraries.integers().between(1, Limits.MAX_FRAME_BYTES))
                        .as(Request.Compressed::new),
                Combinators.combine(path, bools()).as(GetAttr::new),
                longs().map(GetAttrByInode::new),
                Combinators.combine(path, g.text(Limits.NAME_MAX), ints()).as(ReadDir::new),
                Combinators.combine(path, g.text(Limits.NAME_MAX), ints()).as(ReadDirPlus::new),
                Combinators.combine(longs(), longs(), ints()).as(Read::new),
                path.map(ReadLink::new),
                Combinators.combine(path, g.text(Limits.MAX_XATTR_NAME_BYTES)).as(GetXattr::new),
                path.map(ListXattr::new),
                Arbitraries.create(StatFs::new),
                Arbitraries.create(GetDigest::new),
                Combinators.combine(longs(), longs()).as(ScrubRead::new),
                longs().map(MarkDigest::new),
                Combinators.combine(longs(), longs(), ints()).as(MarkDirectories::new),
                Combinators.combine(Arbitraries.of(ScrubControl.Action.class), longs())
                        .as(ScrubControl::new),
                Combinators.combine(longs(), longs(), ints()).as(SnapshotRead::new),
                Combinators.combine(longs(), longs(), bools()).as(SeekData::new),
                Combinators.combine(longs(), longs()).as((a, b) -> new Request.LeaseRenew(new UUID(a, b))),
                Combinators.combine(
                                longs(),
                                longs(),
                                longs(),
                                longs(),
                                Arbitraries.integers().between(0, Request.LeasePoll.MAX_WAIT_MILLIS))
                        .as((a, b, e, s, w) -> new Request.LeasePoll(new UUID(a, b), e, s, w)),
                Combinators.combine(
                                Arbitraries.longs().greaterOrEqual(0),
                                Arbitraries.integers().between(1, Request.Changes.MAX_RECORDS),
                                Arbitraries.integers().between(0, Request.Changes.MAX_WAIT_MILLIS))
                        .as(Request.Changes::new));
    }

    /** Change feed pages of up to three records of up to three changes, paths from {@code g}. */
    static Arbitrary<Response.ChangePage> changePages(Gen g) {
        Arbitrary<String> path = g.text(Limits.VOLUME_PATH_MAX - 1).map(s -> "/" + s);
        Arbitrary<Change> change = Combinators.combine(
                        Arbitraries.of(Change.Kind.class), longs(), path, path, longs(), longs())
                .as((k, inode, p, from, off, len) -> new Change(
                        k, inode, p, k == Change.Kind.RENAME || k == Change.Kind.LINK ? from : null, off, len));
        Arbitrary<ChangeRecord> record = Combinators.combine(
                        Arbitraries.longs().greaterOrEqual(1),
                        longs(),
                        change.list().ofMinSize(1).ofMaxSize(3))
                .as(ChangeRecord::new);
        return Combinators.combine(longs(), longs(), record.list().ofMaxSize(3), bools())
                .as(Response.ChangePage::new);
    }

    /** Scrub statistics with texts from {@code g} (around their limit when stretched). */
    static Arbitrary<ScrubStats> scrubStats(Gen g) {
        Arbitrary<String> text = g.text(Limits.MAX_SCRUB_TEXT_BYTES);
        return Combinators.combine(
                        Arbitraries.of(ScrubStats.State.class),
                        text,
                        longs().array(long[].class).ofSize(14),
                        text)
                .as((state, quarantine, v, problem) -> new ScrubStats(
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

    static Arbitrary<Request> requests(Gen g) {
        return Arbitraries.oneOf(DecoderProperties.<Arbitrary<? extends Request>>listOf(mutations(g), queries(g)));
    }

    static Arbitrary<LogEntry> logEntries(Gen g) {
        return Combinators.combine(longs(), Arbitraries.oneOf(mutations(g))).as(LogEntry::new);
    }

    /**
     * Error messages: none, short ones, ones around the 4096-unit cut, and one whose cut would
     * fall inside a surrogate pair.
     */
    static Arbitrary<String> messages(Gen g) {
        Arbitrary<String> aroundCut = Combinators.combine(Arbitraries.integers().between(4090, 4200), longs())
                .as((n, seed) -> Gen.randomChars(new Random(seed), n));
        Arbitrary<String> pairOnCut = Gen.textOfBytes(0, 64).map(tail -> "x".repeat(4095) + "\ud83d\ude00" + tail);
        return weighted(w(1, Arbitraries.just((String) null)), w(6, g.text(200)), w(2, aroundCut), w(1, pairOnCut));
    }

    /** Attributes, half of them with a device number of 0 (no rdev on the wire), half with any. */
    static Arbitrary<Attr> attrs() {
        Arbitrary<Long> rdevs = weighted(w(1, Arbitraries.just(0L)), w(1, longs()));
        return Combinators.combine(
                        longs().array(long[].class).ofSize(5),
                        ints().array(int[].class).ofSize(4),
                        Arbitraries.of(TYPES),
                        rdevs)
                .as((l, i, t, rdev) -> new Attr(l[0], t, i[0], i[1], i[2], i[3], l[1], l[2], l[3], l[4], rdev));
    }

    /** Listings with attributes: each entry's inode number and type are its attributes'. */
    static Arbitrary<Response.DirPlusPage> dirPlusPages(Gen g) {
        Arbitrary<String> name = g.text(Limits.NAME_MAX);
        return Combinators.combine(
                        name.list().ofMaxSize(8), attrs().list().ofMinSize(8).ofMaxSize(8), bools())
                .as((names, attrs, more) -> {
                    List<DirEntry> entries = new ArrayList<>();
                    for (int i = 0; i < names.size(); i++) {
                        entries.add(new DirEntry(
                                names.get(i), attrs.get(i).inode(), attrs.get(i).type()));
                    }
                    return new Response.DirPlusPage(entries, attrs.subList(0, names.size()), more);
                });
    }

    static Arbitrary<Response> responses(Gen g) {
        Arbitrary<DirEntry> entry = Combinators.combine(g.text(Limits.NAME_MAX), longs(), Arbitraries.of(TYPES))
                .as(DirEntry::new);
        Arbitrary<List<DirEntry>> entries = g.list(
                entry,
                r -> new DirEntry(Gen.randomText(r, r.nextInt(16)), r.nextLong(), TYPES[r.nextInt(TYPES.length)]),
                Limits.MAX_DIR_PAGE_ENTRIES);
        Arbitrary<List<String>> names = g.list(
                g.text(Limits.MAX_XATTR_NAME_BYTES), r -> Gen.randomText(r, r.nextInt(16)), Limits.MAX_XATTR_NAMES);
        Arbitrary<Errno> errnos = Arbitraries.of(Errno.class).filter(e -> e != Errno.OK);
        Arbitrary<Response.DirDigest> dirDigest =
                Combinators.combine(longs(), longs()).as(Response.DirDigest::new);
        Arbitrary<List<Response.DirDigest>> dirDigests = g.list(
                dirDigest, r -> new Response.DirDigest(r.nextLong(), r.nextLong()), Limits.MAX_DIGEST_PAGE_ENTRIES);
        return Arbitraries.oneOf(List.<Arbitrary<? extends Response>>of(
                Arbitraries.create(Response.Ok::new),
                Combinators.combine(errnos, messages(g)).as(Response.Error::new),
                attrs().map(Response.AttrReply::new),
                Combinators.combine(entries, bools()).as(Response.DirPage::new),
                dirPlusPages(g),
                Combinators.combine(g.bytes(Limits.MAX_DATA_BYTES), ints()).as(Response.Data::new),
                g.text(Limits.PATH_MAX).map(Response.Text::new),
                longs().map(Response.Offset::new),
                Combinators.combine(longs(), longs(), longs()).as(Response.Lease::new),
                changePages(g),
                names.map(Response.Names::new),
                Combinators.combine(longs(), longs(), longs(), Arbitraries.of(false, true))
                        .as(Response.FsStats::new),
                Combinators.combine(longs(), g.bytes(64)).as(Response.Digest::new),
                Combinators.combine(longs(), dirDigests, bools()).as(Response.DirDigests::new),
                scrubStats(g).map(Response.ScrubStatus::new),
                Combinators.combine(longs(), longs(), g.bytes(Limits.MAX_DATA_BYTES), ints())
                        .as(Response.SnapshotChunk::new),
                Combinators.combine(Arbitraries.integers().between(1, Limits.MAX_FRAME_BYTES), g.bytes(1024))
                        .as(Response.Compressed::new),
                Arbitraries.oneOf(List.<Arbitrary<? extends Response>>of(
                                Arbitraries.create(Response.Ok::new),
                                Combinators.combine(errnos, g.text(200)).as(Response.Error::new),
                                attrs().map(Response.AttrReply::new)))
                        .list()
                        .ofMinSize(1)
                        .ofMaxSize(4)
                        .map(Response.Batch::new)));
    }

    // ------------------------------------------------------------------ examples

    private static final Caller CALLER = new Caller(1000, 100, new int[] {4, 24, 27});

    /** One of each mutation, with groups, and non-empty strings and bytes. */
    static List<Request.Mutation> exampleMutations() {
        byte[] data = "hello, wörld".getBytes(StandardCharsets.UTF_8);
        return List.of(
                new Mkdir(CALLER, "/d", 0755),
                new Create(CALLER, "/d/f", 0644, true),
                new Write(CALLER, 7, 4096, data, Checksums.crc32c(data)),
                new Truncate(CALLER, 7, 10),
                new Unlink(CALLER, "/d/f", true),
                new Rmdir(CALLER, "/d"),
                new Rename(CALLER, "/a", "/b", Rename.NOREPLACE),
                new Symlink(CALLER, "/l", "../target"),
                new Link(CALLER, "/a", "/b"),
                new SetAttr(CALLER, "/a", SetAttr.MODE | SetAttr.MTIME, 0600, 1, 2, 3L, 4L),
                new SetXattr(CALLER, "/a", "user.k", new byte[] {1, 2, 3}, SetXattr.CREATE),
                new RemoveXattr(CALLER, "/a", "user.k"),
                new DropOrphan(CALLER, 7),
                new ScrubMark(CALLER),
                new Fallocate(CALLER, 7, Fallocate.PUNCH_HOLE | Fallocate.KEEP_SIZE, 4096, 1 << 20),
                new Mknod(CALLER, "/d/dev", FileType.CHARACTER_DEVICE.formatBits() | 0620, 0x103),
                new SetAttr(CALLER, "/a", SetAttr.UID | SetAttr.GID, 0, 5, 6, 0L, 0L, 7L, 1_700_000_000_000_000_000L),
                new Mkdir(CALLER, ("/" + "d".repeat(Limits.NAME_MAX)).repeat(100), 0755),
                new Request.Batch(List.of(
                        new Create(CALLER, "/d/g", 0600, true),
                        new SetAttr(CALLER, "/d/g", SetAttr.MODE, 0644, 0, 0, 0L, 0L, 9L, 0L),
                        new Unlink(CALLER, "/d/h", false))),
                new Unlink(CALLER, "/d/i", false, 11L, 1_700_000_000_000_000_001L),
                new Rmdir(CALLER, "/d", 12L, 1_700_000_000_000_000_002L),
                new Rename(CALLER, "/d/tmp/m", "/d/new/m", 0, 13L, 1_700_000_000_000_000_003L),
                new Create(CALLER, "/d/tmp/n", 0600, true, Create.CLIENT_INODE_BIT | 14L, 1_700_000_000_000_000_004L),
                new Request.Batch(List.of(
                        new Rename(CALLER, "/d/tmp/n", "/d/new/n", 0, Create.CLIENT_INODE_BIT | 14L, 5L),
                        new Create(CALLER, "/d/tmp/o", 0600, true, Create.CLIENT_INODE_BIT | 15L, 6L),
                        new Write(CALLER, Create.CLIENT_INODE_BIT | 15L, 0, data, Checksums.crc32c(data), 7L))));
    }

    /** One of each query, with non-empty strings. */
    static List<Request.Query> exampleQueries() {
        return List.of(
                new GetAttr("/a", true),
                new GetAttrByInode(7),
                new ReadDir("/d", "f", 100),
                new ReadDirPlus("/d", "", 100),
                new Read(7, 0, 4096),
                new ReadLink("/l"),
                new GetXattr("/a", "user.k"),
                new ListXattr("/a"),
                new StatFs(),
                new GetDigest(),
                new ScrubRead(7, ScrubRead.INLINE),
                new MarkDigest(9),
                new MarkDirectories(9, -1, 100),
                new ScrubControl(ScrubControl.Action.START, 16L << 20),
                new SnapshotRead(0, 1 << 20, 1 << 20),
                new SeekData(7, 65536, true),
                new Request.LeaseRenew(new UUID(1, 2)),
                new Request.LeasePoll(new UUID(3, 4), 8, 17, 500),
                new Request.Changes(41, 100, 1000),
                new Request.Compressed(new Read(7, 0, 1 << 20), Limits.MAX_FRAME_BYTES));
    }

    /** One of each response, with non-empty lists, strings and bytes. */
    static List<Response> exampleResponses() {
        return List.of(
                new Response.Ok(),
                new Response.Error(Errno.ENOENT, "no such file: /a"),
                new Response.AttrReply(new Attr(7, FileType.FILE, 0644, 1, 0, 0, 12, 1, 2, 3)),
                new Response.AttrReply(new Attr(8, FileType.BLOCK_DEVICE, 0660, 1, 0, 6, 0, 1, 2, 3, 0x700)),
                new Response.DirPage(
                        List.of(new DirEntry("a", 2, FileType.DIRECTORY), new DirEntry("b", 3, FileType.FILE)), true),
                new Response.DirPlusPage(
                        List.of(new DirEntry("a", 2, FileType.DIRECTORY), new DirEntry("n", 8, FileType.BLOCK_DEVICE)),
                        List.of(
                                new Attr(2, FileType.DIRECTORY, 0755, 2, 0, 0, 0, 1, 2, 3),
                                new Attr(8, FileType.BLOCK_DEVICE, 0660, 1, 0, 6, 0, 1, 2, 3, 0x700)),
                        false),
                new Response.Data(new byte[] {1, 2, 3}, 42),
                new Response.Text("../target"),
                new Response.Offset(1L << 40),
                new Response.Lease(-5, 9, 1500),
                new Response.Compressed(4096, new byte[] {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd}),
                new Response.ChangePage(
                        12,
                        3,
                        List.of(
                                new ChangeRecord(
                                        5,
                                        1_700_000_000_000_000_000L,
                                        List.of(
                                                Change.of(Change.Kind.CREATE, 7, "/d/f"),
                                                new Change(Change.Kind.RENAME, 7, "/d/g", "/d/f", 0, 0))),
                                new ChangeRecord(
                                        9,
                                        1_700_000_000_100_000_000L,
                                        List.of(
                                                new Change(Change.Kind.WRITE, 7, "/d/g", null, 4096, 512),
                                                new Change(Change.Kind.WRITE, 8, null, null, 0, 1)))),
                        true),
                new Response.Names(List.of("user.a", "user.b")),
                new Response.FsStats(1 << 30, 1 << 20, 12),
                new Response.Digest(9, Arrays.copyOf(new byte[] {1}, 32)),
                new Response.DirDigests(9, List.of(new Response.DirDigest(0, 1), new Response.DirDigest(1, -5)), true),
                new Response.ScrubStatus(new ScrubStats(
                        ScrubStats.State.RUNNING,
                        "member quarantined: diverges",
                        1,
                        2,
                        3,
                        4,
                        5,
                        6,
                        7,
                        8,
                        9,
                        10,
                        11,
                        12,
                        13,
                        16L << 20,
                        "block 1 of inode 7 was bad")),
                new Response.SnapshotChunk(120, 5000, new byte[] {1, 2, 3}, 42),
                new Response.Batch(List.of(
                        new Response.AttrReply(new Attr(7, FileType.FILE, 0644, 1, 0, 0, 12, 1, 2, 3)),
                        new Response.Error(Errno.EEXIST, "exists: /d/g"),
                        new Response.Ok())));
    }
}
