package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.server.HoldfastNode;
import io.holdfast.testing.TestSeed;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A member restarted from a snapshot that was taken while a client wrote: the snapshot is frozen
 * on the apply thread and written in the background while the client overwrites the very data
 * files it shares, so it must hold exactly the state at its index (the data files copied before
 * their first write after the freeze); the member, its brick moved away, restores it, replays its
 * log after it, and ends byte for byte equal to the others.
 */
class SnapshotDuringWritesIT {
    private static final int FILES = 4;
    private static final int FILE_BYTES = 3 << 20;
    /** Automatic snapshots (and log purges) every 64 entries, on every member, while the client writes. */
    private static final long SNAPSHOT_THRESHOLD = 64;

    @TempDir
    Path root;

    @Test
    void aMemberRestoresASnapshotTakenWhileAClientWroteExactly() throws Exception {
        long seed = TestSeed.seed();
        System.out.println("SnapshotDuringWritesIT seed=" + seed);
        try (MiniCluster c = MiniCluster.start(root, 3, SNAPSHOT_THRESHOLD)) {
            VolumeService v = c.createVolume("vol", 0, 1, 2);
            UUID group = Volumes.groupId(c, "vol");
            Random random = new Random(seed);
            long[] inodes = new long[FILES];
            byte[][] model = new byte[FILES][];
            for (int i = 0; i < FILES; i++) {
                Attr a = Volumes.createExclusive(v, "/f" + i);
                inodes[i] = a.inode();
                model[i] = new byte[FILE_BYTES];
                random.nextBytes(model[i]);
                Volumes.write(v, inodes[i], 0, model[i]);
            }
            int leader = Volumes.awaitLeader(c, 3, group);
            int member = (leader + 1) % 3;
            c.awaitConvergence("vol", Duration.ofSeconds(60));

            // one client overwrites ranges of the data files (and extends them) without pause
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong writes = new AtomicLong();
            Random wr = new Random(seed ^ 0x5eed);
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                while (!stop.get()) {
                    int f = wr.nextInt(FILES);
                    byte[] data = new byte[4096 + wr.nextInt(60_000)];
                    wr.nextBytes(data);
                    int offset = wr.nextInt(model[f].length + 1);
                    Response r = Volumes.call(
                            v.submit(new Request.Write(Caller.ROOT, inodes[f], offset, data, Checksums.crc32c(data))));
                    assertThat(r).as("write to /f" + f).isInstanceOf(Response.AttrReply.class);
                    synchronized (model) {
                        byte[] now = Arrays.copyOf(model[f], Math.max(model[f].length, offset + data.length));
                        System.arraycopy(data, 0, now, offset, data.length);
                        model[f] = now;
                    }
                    writes.incrementAndGet();
                }
            });
            long[] snapshots = new long[3];
            for (int round = 0; round < snapshots.length; round++) {
                long before = writes.get();
                MiniCluster.await(
                        Duration.ofSeconds(60), () -> writes.get() >= before + 20, "20 writes before a snapshot");
                long writesAtSnapshot = writes.get();
                snapshots[round] = c.node(member).takeSnapshot(group, Duration.ofSeconds(60));
                System.out.printf(
                        "snapshot %d of node%d at index %d, after %d writes (%d while it was taken)%n",
                        round, member, snapshots[round], writesAtSnapshot, writes.get() - writesAtSnapshot);
                assertThat(snapshots[round]).as("snapshot index").isPositive();
                assertThat(writer).as("the writer").isNotDone();
            }
            long afterLast = writes.get();
            MiniCluster.await(
                    Duration.ofSeconds(60), () -> writes.get() >= afterLast + 20, "20 writes after the snapshots");
            stop.set(true);
            writer.get(60, TimeUnit.SECONDS);
            c.awaitConvergence("vol", Duration.ofSeconds(60));

            // the member restarts without its brick: it restores its own latest snapshot, taken
            // while the client wrote, then replays its log after it
            Path brick = c.dataDir(member).resolve("bricks").resolve(group.toString());
            assertThat(brick).isDirectory();
            c.stop(member);
            try (Stream<Path> s = Files.list(brick)) {
                assertThat(s.map(p -> p.getFileName().toString()))
                        .as("no frozen image or copy-on-write file is left behind")
                        .doesNotContain("frozen", "cow.tmp");
            }
            Path moved = root.resolve("moved-brick");
            Files.move(brick, moved);
            c.restart(member);
            Response.Digest d = c.awaitConvergence("vol", Duration.ofSeconds(120));
            System.out.printf(
                    "node%d restored its snapshot at %d and converged at %d (%d writes)%n",
                    member, snapshots[snapshots.length - 1], d.appliedIndex(), writes.get());
            HoldfastNode.GroupStatus st = Volumes.status(c, member, group);
            assertThat(st.logStartIndex())
                    .as("node%d's log starts after entry 1, so only its snapshot can give the state: %s", member, st)
                    .isGreaterThan(1);
            try (Volumes.Pinned p = new Volumes.Pinned(c, "vol", c.addresses().get(member))) {
                for (int i = 0; i < FILES; i++) {
                    byte[] got = Volumes.readInode(p, inodes[i], model[i].length, "/f" + i + " on node" + member);
                    assertThat(got)
                            .as("/f%d on node%d after the restore", i, member)
                            .isEqualTo(model[i]);
                }
            }
        }
    }
}
