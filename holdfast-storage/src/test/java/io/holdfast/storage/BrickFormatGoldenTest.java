package io.holdfast.storage;

import static io.holdfast.storage.TestBrick.ROOT;
import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Pacer;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksIterator;

/**
 * Pins the bytes a brick keeps and sends: after a fixed, seeded sequence of entries (every
 * mutation kind, errors included, two scrub marks), the RocksDB contents (key layout, inode
 * records, redo records, counters), the data files, the snapshot stream, the state digest, the
 * mark digests and the replies must be exactly the recorded ones. Existing bricks and members
 * of another version rely on them; a change here is a format change and needs a new version.
 * (Snapshot version 2 and the change feed's keys changed the snapshot and stored bytes; the
 * state and mark digests and the replies stayed as they were.)
 */
class BrickFormatGoldenTest {
    private static final long SEED = 20_261_205L;
    private static final int ENTRIES = 600;

    @TempDir
    Path tmp;

    @Test
    void bricksBuiltByTheSameEntriesHaveTheRecordedBytes() throws Exception {
        MessageDigest replies = sha();
        TestBrick b = new TestBrick(tmp.resolve("brick"));
        List<Long> marks = new ArrayList<>();
        try {
            RandomOps ops = new RandomOps(SEED);
            for (int i = 0; i < ENTRIES; i++) {
                Response r = b.apply(ops.next());
                ops.observe(r);
                replies.update(withoutMessage(r));
                if (i == ENTRIES / 3 || i == 2 * ENTRIES / 3) {
                    b.brick.checkpoint();
                }
                if (i == ENTRIES / 2 || i == ENTRIES - 1) {
                    b.apply(new Request.ScrubMark(ROOT));
                    marks.add(b.brick.appliedIndex());
                }
            }
            for (Request.Query q : queries()) {
                replies.update(withoutMessage(b.query(q)));
            }
            Response.Digest digest = b.digest();
            MessageDigest markDigests = sha();
            for (long mark : marks) {
                markDigests.update(b.brick.digestMark(mark, new Pacer(Long.MAX_VALUE / 4), (dir, d) -> {
                    markDigests.update(Keys.long8(dir));
                    markDigests.update(Keys.long8(d));
                }));
            }
            ByteArrayOutputStream snapshot = new ByteArrayOutputStream();
            b.brick.writeSnapshot(snapshot);
            b.close();
            try (Brick restored = Brick.open(tmp.resolve("restored"))) {
                restored.restoreSnapshot(new ByteArrayInputStream(snapshot.toByteArray()));
                assertThat(restored.digest()).isEqualTo(digest);
            }
            String stateDigest = hex(digest.sha256());
            String markDigest = hex(markDigests.digest());
            String snapshotBytes = hex(sha().digest(snapshot.toByteArray()));
            String stored = hex(dump(b.dir));
            String restoredStored = hex(dump(tmp.resolve("restored")));
            String replyBytes = hex(replies.digest());

            assertThat(digest.appliedIndex()).isEqualTo(ENTRIES + marks.size());
            assertThat(stateDigest)
                    .as("state digest")
                    .isEqualTo("452d5d968f0865be218f71428f3046d63d33041431edc66d202935cd7949795b");
            assertThat(markDigest)
                    .as("mark digests")
                    .isEqualTo("454e25bfc8f1e504524a70bb345d89598c557c99f4adf86ac9483439f84ea05a");
            assertThat(snapshotBytes)
                    .as("snapshot bytes")
                    .isEqualTo("28471d5801fa4a4c229a7da5667ce1747e038c6684fd1e1598bf990d130a1aa1");
            assertThat(stored)
                    .as("RocksDB contents and data files")
                    .isEqualTo("178fc0c08256c4468413ec75c3b8d4813c574996784fe95ff0af5aa19db071a3");
            assertThat(restoredStored)
                    .as("restored RocksDB contents and data files")
                    .isEqualTo("e3910114bcb157612fd39804d3f6e5b0a0ec61f24f4f59eb7e512210fa75a669");
            assertThat(replyBytes)
                    .as("replies")
                    .isEqualTo("8ad7022202a5c53300b5387757ab29afb933dec58644342cd19fe073f410b7e1");
        } finally {
            b.close();
        }
    }

    /** Reads of every kind over the namespace {@link RandomOps} uses. */
    private static List<Request.Query> queries() {
        List<Request.Query> qs = new ArrayList<>();
        String[] names = {"a", "b", "c", "d"};
        List<String> paths = new ArrayList<>(List.of("/"));
        for (String x : names) {
            paths.add("/" + x);
            for (String y : names) {
                paths.add("/" + x + "/" + y);
            }
        }
        for (String p : paths) {
            qs.add(new Request.GetAttr(p, false));
            qs.add(new Request.GetAttr(p, true));
            qs.add(new Request.ReadDir(p, null, 3));
            qs.add(new Request.ReadDir(p, "b", 100));
            qs.add(new Request.ReadLink(p));
            qs.add(new Request.ListXattr(p));
            qs.add(new Request.GetXattr(p, "user.a"));
        }
        for (long id = 1; id <= 40; id++) {
            qs.add(new Request.GetAttrByInode(id));
            qs.add(new Request.Read(id, 0, 300_000));
            qs.add(new Request.Read(id, 65_530, 20));
            qs.add(new Request.SeekData(id, 0, false));
            qs.add(new Request.SeekData(id, 0, true));
            qs.add(new Request.SeekData(id, 70_000, false));
            qs.add(new Request.ScrubRead(id, Request.ScrubRead.INLINE));
            qs.add(new Request.ScrubRead(id, 1));
        }
        qs.add(new Request.GetDigest());
        return qs;
    }

    /** A reply's encoding, an error reduced to its errno (messages are not pinned). */
    private static byte[] withoutMessage(Response r) {
        return Codec.encode(r instanceof Response.Error e ? new Response.Error(e.errno(), "") : r);
    }

    /** SHA-256 over every RocksDB key and value in order, then every data file by name. */
    private static byte[] dump(Path brick) throws Exception {
        MessageDigest sha = sha();
        try (Options o = new Options();
                RocksDB db = RocksDB.openReadOnly(o, brick.resolve("meta").toString());
                RocksIterator it = db.newIterator()) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                sha.update(Keys.int4(it.key().length));
                sha.update(it.key());
                sha.update(Keys.int4(it.value().length));
                sha.update(it.value());
            }
        }
        try (Stream<Path> files = Files.list(brick.resolve("data"))) {
            for (Path f : files.sorted().toList()) {
                sha.update(f.getFileName().toString().getBytes(StandardCharsets.US_ASCII));
                sha.update(Keys.long8(Files.size(f)));
                sha.update(Files.readAllBytes(f));
            }
        }
        return sha.digest();
    }

    private static MessageDigest sha() throws Exception {
        return MessageDigest.getInstance("SHA-256");
    }

    private static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }
}
