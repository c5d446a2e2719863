package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.client.HoldfastClient;
import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Placement;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.ScrubStats;
import io.holdfast.protocol.VolumeService;
import io.holdfast.server.ScrubSettings;
import io.holdfast.storage.Brick;
import io.holdfast.testing.TestSeed;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;

/**
 * The scrubber against a three-node cluster: bytes flipped on a member's disk (a data file, and
 * inline content in RocksDB) are never served, are repaired from the healthy members, and the
 * members agree afterwards; a member whose directory entry is damaged (and whose own snapshots
 * carry the damage) is found divergent at a scrub mark, taken out of service while the others
 * serve, and rebuilds itself from a healthy member's snapshot and its own log.
 */
class ScrubIT {
    private static final long BLOCK = 64 * 1024;

    @TempDir
    Path root;

    @Test
    void flippedBytesAreNeverServedAndAreRepairedFromHealthyMembers() throws Exception {
        try (MiniCluster c = MiniCluster.start(root, 3, 100_000)) {
            VolumeService v = c.createVolume("v", 0, 1, 2);
            byte[] bigContent = new byte[5 * 65536 + 1234];
            TestSeed.random("ScrubIT").nextBytes(bigContent);
            byte[] smallContent = "a small file, kept inline in RocksDB".getBytes(StandardCharsets.UTF_8);
            long big = create(v, "/big", bigContent);
            long small = create(v, "/small", smallContent);
            c.awaitConvergence("v", Duration.ofSeconds(60));
            HoldfastClient client = c.client();
            String m0 = c.addresses().get(0);
            String m1 = c.addresses().get(1);
            String m2 = c.addresses().get(2);

            // member 1: one byte of block 3 of the data file; member 2: one byte of the inline content
            Path dataFile = brick(c, 1).resolve("data").resolve(String.format("%016x", big));
            flipByte(dataFile, 3 * BLOCK + 100);
            c.stop(2);
            editRocksDb(brick(c, 2), inlineKey(small), value -> {
                value[4 + 7] ^= 0x20; // after the 4-byte CRC32C, which stays as it was
                return value;
            });
            c.restart(2);
            MiniCluster.await(Duration.ofSeconds(60), () -> status(client, m2) != null, "member 2 answers again");

            // the corrupted members answer reads of those bytes with EIO, never with the bytes
            Response fromM1 = client.probe().queryMember("v", m1, new Request.Read(big, 3 * BLOCK, 4096));
            Response fromM2 = client.probe().queryMember("v", m2, new Request.Read(small, 0, 100));
            System.out.println("read of the flipped block from " + m1 + ": " + fromM1);
            System.out.println("read of the flipped inline content from " + m2 + ": " + fromM2);
            assertThat(fromM1).isInstanceOfSatisfying(Response.Error.class, e -> {
                assertThat(e.errno()).isEqualTo(Errno.EIO);
                assertThat(e.message()).contains("corrupt block 3 of inode " + big);
            });
            assertThat(fromM2).isInstanceOfSatisfying(Response.Error.class, e -> {
                assertThat(e.errno()).isEqualTo(Errno.EIO);
                assertThat(e.message()).contains("inode " + small);
            });
            assertThat(data(client.probe().queryMember("v", m0, new Request.Read(big, 3 * BLOCK, 4096))))
                    .isEqualTo(Arrays.copyOfRange(bigContent, 3 * 65536, 3 * 65536 + 4096));

            // scrub every member and wait for the passes to end
            long started = System.nanoTime();
            Map<String, ScrubStats> after = scrubAll(client, c.addresses());
            System.out.printf("scrub passes of all members took %.1f s%n", (System.nanoTime() - started) / 1e9);
            after.forEach((m, s) -> System.out.println("  " + m + ": " + s));
            assertThat(after.get(m0).badBlocks()).isZero();
            for (String m : List.of(m1, m2)) {
                ScrubStats s = after.get(m);
                assertThat(s.badBlocks()).as("bad blocks found on %s", m).isEqualTo(1);
                assertThat(s.repairedBlocks()).as("blocks repaired on %s", m).isEqualTo(1);
            }
            for (ScrubStats s : after.values()) {
                assertThat(s.unrepairableBlocks()).isZero();
                assertThat(s.quarantined()).isFalse();
                assertThat(s.divergentDirectories()).isZero();
                assertThat(s.lastMark()).isPositive();
                assertThat(s.blocksVerified()).isEqualTo(6 + 1); // 6 blocks of /big, the inline content of /small
                assertThat(s.bytesVerified()).isEqualTo(bigContent.length + smallContent.length);
                assertThat(s.progress()).isEqualTo(1.0);
            }

            // the repaired members serve the right bytes, and every member has the same state
            assertThat(data(client.probe().queryMember("v", m1, new Request.Read(big, 0, bigContent.length))))
                    .isEqualTo(bigContent);
            assertThat(data(client.probe().queryMember("v", m2, new Request.Read(small, 0, 100))))
                    .isEqualTo(smallContent);
            Response.Digest agreed = c.awaitConvergence("v", Duration.ofSeconds(60));
            System.out.println("members agree at applied index " + agreed.appliedIndex() + ", digest " + agreed.hex());
        }
    }

    @Test
    void aMemberWithADamagedDirectoryEntryIsQuarantinedWhileTheOthersServeAndRebuildsItself() throws Exception {
        // snapshots every 10 entries, logs purged behind them, as in a long-running cluster
        try (MiniCluster c = MiniCluster.start(root, 3, 10)) {
            VolumeService v = c.createVolume("v", 0, 1, 2);
            assertThat(v.submit(new Request.Mkdir(Caller.ROOT, "/d", 0755)).join())
                    .isInstanceOf(Response.AttrReply.class);
            create(v, "/d/a", "file a".getBytes(StandardCharsets.UTF_8));
            create(v, "/d/b", "file b".getBytes(StandardCharsets.UTF_8));
            c.awaitConvergence("v", Duration.ofSeconds(60));
            long d = ((Response.AttrReply)
                            v.query(new Request.GetAttr("/d", false)).join())
                    .attr()
                    .inode();
            HoldfastClient client = c.client();
            String m2 = c.addresses().get(2);

            // on member 2, the entry "a" of /d becomes "z" (same inode): its namespace now diverges.
            // Member 2 keeps its quarantine (no self-rebuild) until we let it rebuild below.
            c.stop(2);
            byte[] oldKey = dentKey(d, "a");
            try (Options o = new Options();
                    RocksDB db = RocksDB.open(o, brick(c, 2).resolve("meta").toString())) {
                byte[] value = db.get(oldKey);
                db.delete(oldKey);
                db.put(dentKey(d, "z"), value);
            }
            long damagedAt = appliedIndexOfBrick(c, 2);
            c.scrubSettings(ScrubSettings.DEFAULT.withRebuild(false));
            c.restart(2);
            MiniCluster.await(Duration.ofSeconds(60), () -> status(client, m2) != null, "member 2 answers again");
            assertThat(client.probe().queryMember("v", m2, new Request.GetAttr("/d/z", false)))
                    .isInstanceOf(Response.AttrReply.class);
            // the volume goes on; member 2's own snapshots now carry the damage, so restoring its latest
            // snapshot would not repair it
            for (int i = 0; i < 12; i++) {
                v.submit(new Request.Mkdir(Caller.ROOT, "/more" + i, 0755)).join();
            }
            MiniCluster.await(
                    Duration.ofSeconds(60),
                    () -> latestSnapshotIndex(c, 2) > damagedAt,
                    "member 2 snapshots its damaged brick");

            Map<String, ScrubStats> after = scrubAll(client, c.addresses());
            after.forEach((m, s) -> System.out.println("  " + m + ": " + s));
            ScrubStats bad = after.get(m2);
            assertThat(bad.quarantined()).isTrue();
            assertThat(bad.quarantine())
                    .contains("differs from the majority")
                    .contains("1 directory")
                    .contains("inodes [" + d + "]");
            assertThat(bad.divergentDirectories()).isEqualTo(1);
            for (String m : c.addresses().subList(0, 2)) {
                assertThat(after.get(m).quarantined()).isFalse();
                assertThat(after.get(m).divergentDirectories()).isZero();
            }

            // member 2 refuses file-system reads, naming the quarantine; the volume is served by the others
            Response refused = client.probe().queryMember("v", m2, new Request.GetAttr("/d/z", false));
            System.out.println("read from the quarantined member: " + refused);
            assertThat(refused).isInstanceOfSatisfying(Response.Error.class, e -> {
                assertThat(e.errno()).isEqualTo(Errno.EIO);
                assertThat(e.message()).contains("quarantined by scrub").contains("differs from the majority");
            });
            MiniCluster.await(
                    Duration.ofSeconds(30),
                    () -> !m2.equals(client.probe().leaderOf("v").orElse(m2)),
                    "a member in service leads");
            for (int i = 0; i < 9; i++) { // round-robin reaches every member; reads refused by member 2 go elsewhere
                assertThat(v.query(new Request.GetAttr("/d/a", false)).join()).isInstanceOf(Response.AttrReply.class);
            }
            assertThat(v.submit(new Request.Mkdir(Caller.ROOT, "/written-while-quarantined", 0755))
                            .join())
                    .isInstanceOf(Response.AttrReply.class);

            // the quarantine survives a restart of the member
            c.restart(2);
            MiniCluster.await(Duration.ofSeconds(60), () -> status(client, m2) != null, "member 2 answers again");
            assertThat(status(client, m2).quarantined()).isTrue();

            // allowed to, member 2 rebuilds itself from a healthy member's snapshot and its own log,
            // checks itself with a new pass, and agrees with the others
            c.scrubSettings(ScrubSettings.DEFAULT);
            long started = System.nanoTime();
            c.restart(2);
            MiniCluster.await(
                    Duration.ofSeconds(120),
                    () -> {
                        ScrubStats s = status(client, m2);
                        return s != null && !s.quarantined() && s.passes() >= 1 && s.state() == ScrubStats.State.IDLE;
                    },
                    "member 2 rebuilt itself and passed a scrub");
            ScrubStats rebuilt = status(client, m2);
            System.out.printf(
                    "member 2 rebuilt and checked in %.1f s: %s%n", (System.nanoTime() - started) / 1e9, rebuilt);
            assertThat(rebuilt.divergentDirectories()).isZero();
            assertThat(rebuilt.lastProblem()).contains("rebuilt from").contains("differs from the majority");
            Response.Digest agreed = c.awaitConvergence("v", Duration.ofSeconds(60));
            assertThat(client.probe().queryMember("v", m2, new Request.GetAttr("/d/a", false)))
                    .isInstanceOf(Response.AttrReply.class);
            assertThat(client.probe().queryMember("v", m2, new Request.GetAttr("/d/z", false)))
                    .isInstanceOfSatisfying(
                            Response.Error.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT));
            System.out.println("rebuilt member agrees at applied index " + agreed.appliedIndex());
        }
    }

    /** The highest log index of node {@code i}'s snapshots of volume v (0 if none). */
    private static long latestSnapshotIndex(MiniCluster c, int i) {
        try (Stream<Path> files = Files.list(c.dataDir(i)
                .resolve("raft")
                .resolve(Placement.onlyGroup(c.map().volume("v").orElseThrow()).toString())
                .resolve("sm"))) {
            return files.map(p -> p.getFileName().toString())
                    .filter(n -> n.matches("snapshot\\.\\d+_\\d+"))
                    .mapToLong(n -> Long.parseLong(n.substring(n.indexOf('_') + 1)))
                    .max()
                    .orElse(0);
        } catch (IOException e) {
            return 0;
        }
    }

    /** The applied index recorded in node {@code i}'s (closed) brick. */
    private static long appliedIndexOfBrick(MiniCluster c, int i) throws Exception {
        try (Brick b = Brick.open(brick(c, i))) {
            return b.appliedIndex();
        }
    }

    // ------------------------------------------------------------------------------ helpers

    private static long create(VolumeService v, String path, byte[] content) {
        Response r = v.submit(new Request.Create(Caller.ROOT, path, 0644, true)).join();
        long inode = ((Response.AttrReply) r).attr().inode();
        assertThat(v.submit(new Request.Write(Caller.ROOT, inode, 0, content, Checksums.crc32c(content)))
                        .join())
                .isInstanceOf(Response.AttrReply.class);
        return inode;
    }

    private static Path brick(MiniCluster c, int node) throws IOException {
        return c.dataDir(node)
                .resolve("bricks")
                .resolve(Placement.onlyGroup(c.map().volume("v").orElseThrow()).toString());
    }

    /** The brick's RocksDB key of an inode's inline content ({@code 'C' inode}; see Keys). */
    private static byte[] inlineKey(long inode) {
        return ByteBuffer.allocate(9).put((byte) 'C').putLong(inode).array();
    }

    /** The brick's RocksDB key of a directory entry ({@code 'D' parent name}). */
    private static byte[] dentKey(long parent, String name) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(9 + n.length)
                .put((byte) 'D')
                .putLong(parent)
                .put(n)
                .array();
    }

    private static void editRocksDb(Path brick, byte[] key, UnaryOperator<byte[]> edit) throws Exception {
        try (Options o = new Options();
                RocksDB db = RocksDB.open(o, brick.resolve("meta").toString())) {
            byte[] value = db.get(key);
            assertThat(value).as("value of key in %s", brick).isNotNull();
            db.put(key, edit.apply(value));
        }
    }

    private static void flipByte(Path file, long offset) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.seek(offset);
            int x = raf.read();
            raf.seek(offset);
            raf.write(x ^ 0x01);
        }
    }

    private static byte[] data(Response r) {
        assertThat(r).isInstanceOf(Response.Data.class);
        return ((Response.Data) r).bytes();
    }

    /** A member's scrub status, or null if it does not answer. */
    private static ScrubStats status(HoldfastClient client, String member) {
        try {
            return client.probe()
                                    .queryMember(
                                            "v",
                                            member,
                                            new Request.ScrubControl(Request.ScrubControl.Action.STATUS, 0))
                            instanceof Response.ScrubStatus s
                    ? s.stats()
                    : null;
        } catch (Exception e) {
            return null;
        }
    }

    /** Starts a pass on every member and waits until each has completed one. */
    private static Map<String, ScrubStats> scrubAll(HoldfastClient client, List<String> members) throws Exception {
        for (String m : members) {
            Response r =
                    client.probe().queryMember("v", m, new Request.ScrubControl(Request.ScrubControl.Action.START, 0));
            assertThat(r).as("start on %s", m).isInstanceOf(Response.ScrubStatus.class);
        }
        Map<String, ScrubStats> out = new LinkedHashMap<>();
        MiniCluster.await(
                Duration.ofSeconds(120),
                () -> {
                    for (String m : members) {
                        ScrubStats s = status(client, m);
                        if (s == null || s.passes() < 1 || s.state() != ScrubStats.State.IDLE) {
                            return false;
                        }
                        out.put(m, s);
                    }
                    return true;
                },
                "every member completed a scrub pass");
        return out;
    }
}
