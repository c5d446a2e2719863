package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.client.HoldfastClient;
import io.holdfast.fuse.Capabilities;
import io.holdfast.fuse.FuseMount;
import io.holdfast.fuse.FuseOptions;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * How long writes stall when the leader of a volume's group stops under a mounted workload: a
 * writer appends 4 KiB and fsyncs, in a loop, through a FUSE mount (or, without FUSE, through an
 * NIO channel), and the leader is stopped; the stall is the time from the beginning of the stop
 * (not its return: closing a node takes up to seconds) to the completion of the first write+fsync
 * begun after it (a write already in flight may finish on the old leader while it closes, or
 * wait for the new one). Printed for the record (the target is 3 s on an idle machine, with
 * a 1-2 s
 * election timeout); asserted only against a bound that a loaded CI machine also meets, since
 * speed goals live in benchmarks, not in timed tests.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class FailoverStallIT {
    /** A stall longer than this is a failure even on a busy machine (it was 13 s before the fix). */
    private static final Duration STALL_BOUND = Duration.ofSeconds(Long.getLong("holdfast.failover.bound.s", 10));

    @TempDir
    Path root;

    @TempDir
    Path tmp;

    @Test
    void writesThroughTheMountResumeSoonAfterTheLeaderStops() throws Exception {
        try (MiniCluster c = MiniCluster.start(root, 3, 100_000)) {
            c.createVolume("fo", 0, 1, 2);
            UUID group = Volumes.groupId(c, "fo");
            run(c, () -> Volumes.awaitLeader(c, 3, group), c::stop, "stopping");
        }
    }

    /**
     * As above, with the leader's JVM killed (SIGKILL): the kernel closes its sockets at once, so
     * the followers find its port refusing connections and stand for election without waiting
     * for their election timers (the server's {@code LeaderWatch}).
     */
    @Test
    void writesThroughTheMountResumeSoonAfterTheLeaderIsKilled() throws Exception {
        try (MiniCluster c =
                MiniCluster.builder(root).nodes(3).separateProcesses(0, 1, 2).start()) {
            c.createVolume("fo", 0, 1, 2);
            HoldfastClient client = c.client();
            run(c, () -> leaderOf(c, client), c::kill, "killing");
        }
    }

    /** The index of the node that leads volume {@code fo}, asked of the members themselves. */
    private static int leaderOf(MiniCluster c, HoldfastClient client) {
        String address = MiniCluster.awaitValue(
                Duration.ofSeconds(60), () -> Volumes.leaderAddress(client, "fo"), "the volume has a leader");
        return c.addresses().indexOf(address);
    }

    /** Node index → take it down; throws what the take-down throws. */
    private interface TakeDown {
        void apply(int node) throws IOException;
    }

    private void run(MiniCluster c, IntSupplier leaderNow, TakeDown takeDown, String verb) throws Exception {
        // the client talks to a node that stays up, as a mount on another machine would
        int leader = leaderNow.getAsInt();
        int entry = (leader + 1) % 3;
        try (FileSystem fs = FileSystems.newFileSystem(
                URI.create("holdfast://" + c.addresses().get(entry) + "/fo"), c.clientEnv())) {
            Path dir;
            FuseMount mount = null;
            if (FuseMount.isAvailable()) {
                Path mnt = Files.createDirectory(tmp.resolve("mnt"));
                mount = FuseMount.mount(
                        fs.getPath("/"),
                        mnt,
                        FuseOptions.defaults().withFsName("holdfast-failover").withCapabilities(Capabilities.HOLDFAST));
                dir = mnt;
            } else {
                dir = fs.getPath("/");
            }
            try {
                measure(leader, leaderNow, takeDown, verb, dir, mount != null ? "FUSE mount" : "NIO channel");
            } finally {
                if (mount != null) {
                    mount.close();
                }
            }
        }
    }

    private void measure(int leader, IntSupplier leaderNow, TakeDown takeDown, String verb, Path dir, String via)
            throws Exception {
        AtomicLong stoppedAt = new AtomicLong(-1);
        AtomicLong firstAfter = new AtomicLong(-1);
        AtomicLong completed = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread writer = Thread.ofPlatform().name("failover-writer").start(() -> {
            byte[] block = new byte[4096];
            try (FileChannel ch = FileChannel.open(
                    dir.resolve("log"),
                    StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE,
                    StandardOpenOption.APPEND)) {
                while (true) {
                    long stop = stoppedAt.get(); // set once the leader is down
                    ch.write(ByteBuffer.wrap(block));
                    ch.force(false);
                    long now = System.nanoTime();
                    completed.incrementAndGet();
                    if (stop >= 0) { // the first write begun after the stop has completed
                        firstAfter.set(now);
                        return;
                    }
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        MiniCluster.await(
                Duration.ofSeconds(60), () -> completed.get() >= 50 || failure.get() != null, "50 writes completed");
        assertThat(failure.get()).as("writer failed before the stop").isNull();
        // stop the member that leads now: a loaded machine can move the leadership in the meantime,
        // and stopping a follower would measure nothing
        int stopping = leaderNow.getAsInt();
        if (stopping != leader) {
            System.out.printf("leadership moved from node%d to node%d before the stop%n", leader, stopping);
        }
        // the stall counts from the moment the leader starts to stop (the kill), not from the return
        // of stop(), which waits for the node to close everything (up to seconds on a busy machine)
        LocalTime stopClock = LocalTime.now().truncatedTo(ChronoUnit.MILLIS); // to line up with the logs
        long stopBegan = System.nanoTime();
        stoppedAt.set(stopBegan);
        takeDown.apply(stopping);
        long stopMillis = (System.nanoTime() - stopBegan) / 1_000_000;
        writer.join(Duration.ofSeconds(120));
        assertThat(failure.get()).as("writer failed after the stop").isNull();
        assertThat(firstAfter.get())
                .as("a write completed after the leader stopped")
                .isPositive();
        long stallMillis = (firstAfter.get() - stoppedAt.get()) / 1_000_000;
        int newLeader = leaderNow.getAsInt();
        System.out.printf(
                "failover stall through the %s: %d ms from %s leader node%d to the next completed "
                        + "write+fsync (new leader node%d; %d writes before; that took %d ms; it began at %s)%n",
                via, stallMillis, verb, stopping, newLeader, completed.get() - 1, stopMillis, stopClock);
        assertThat(Duration.ofMillis(stallMillis))
                .as("stall after the leader stopped")
                .isLessThan(STALL_BOUND);
    }
}
