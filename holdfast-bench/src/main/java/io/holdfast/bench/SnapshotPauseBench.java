package io.holdfast.bench;

import io.holdfast.common.Caller;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.LogEntry;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.storage.Brick;
import io.holdfast.storage.FrozenImage;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * How long taking a snapshot holds a brick's apply thread: a brick of {@code size} bytes in data
 * files of {@code fileSize} bytes each is loaded directly (no cluster: {@link Brick#apply} of
 * 1 MiB writes), checkpointed, then, after a few writes (8 MiB of dirty data), the pause of a
 * snapshot is measured as a member takes it on its apply thread: {@link Brick#freeze}. Then, as
 * the member's background thread does, {@link Brick#checkpoint(FrozenImage)} and the stream are
 * timed, after one write to a shared file (the time it took, and the bytes copied on write).
 *
 * <p>Run: {@code java -cp ... io.holdfast.bench.SnapshotPauseBench DIR SIZE_MIB FILE_MIB [ROUNDS]}
 * (DIR must not exist; it is deleted afterwards). Not thread-safe; one run at a time per directory.
 */
public final class SnapshotPauseBench {
    private static final int CHUNK = 1 << 20;

    private SnapshotPauseBench() {}

    /** Runs the measurement; see the class comment. */
    public static void main(String[] args) throws IOException {
        if (args.length < 3) {
            System.err.println("usage: SnapshotPauseBench DIR SIZE_MIB FILE_MIB [ROUNDS]");
            System.exit(2);
        }
        Path dir = Path.of(args[0]);
        if (Files.exists(dir)) {
            System.err.println(dir + " exists; give a new directory");
            System.exit(2);
        }
        long size = Long.parseLong(args[1]) << 20;
        long fileSize = Long.parseLong(args[2]) << 20;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 5;
        run(dir, size, fileSize, rounds, System.out);
    }

    /** Loads a brick in {@code dir} and measures {@code rounds} snapshot pauses, printing to {@code out}. */
    static void run(Path dir, long size, long fileSize, int rounds, PrintStream out) throws IOException {
        Random random = new Random(42);
        byte[] chunk = new byte[CHUNK];
        random.nextBytes(chunk);
        int crc = Checksums.crc32c(chunk);
        long[] index = {0};
        long t = System.nanoTime();
        try (Brick brick = Brick.open(dir)) {
            int files = (int) Math.max(1, size / fileSize);
            long[] inodes = new long[files];
            long loadStart = System.nanoTime();
            for (int f = 0; f < files; f++) {
                Response r = apply(brick, index, new Request.Create(Caller.ROOT, "/f" + f, 0644, true));
                inodes[f] = ((Response.AttrReply) r).attr().inode();
                for (long off = 0; off < fileSize; off += CHUNK) {
                    apply(brick, index, new Request.Write(Caller.ROOT, inodes[f], off, chunk, crc));
                }
                if (f % 16 == 15) {
                    brick.checkpoint(); // as Ratis's snapshots would, so dirty data stays bounded
                }
            }
            brick.checkpoint();
            out.printf(
                    "loaded %d files of %d MiB (%d MiB) in %.1f s%n",
                    files, fileSize >> 20, (files * fileSize) >> 20, (System.nanoTime() - loadStart) / 1e9);
            long worst = 0;
            for (int round = 0; round < rounds; round++) {
                // some writes since the last snapshot: 8 MiB over 8 files
                for (int i = 0; i < 8; i++) {
                    long inode = inodes[random.nextInt(files)];
                    apply(
                            brick,
                            index,
                            new Request.Write(
                                    Caller.ROOT, inode, random.nextLong(fileSize / CHUNK) * CHUNK, chunk, crc));
                }
                long started = System.nanoTime();
                long copiedBefore = brick.copiedOnWriteBytes();
                try (FrozenImage image = brick.freeze()) {
                    long frozen = System.nanoTime();
                    worst = Math.max(worst, frozen - started);
                    // the next writes are applied to the shared files while the snapshot is written
                    long firstWriteStart = System.nanoTime();
                    apply(brick, index, new Request.Write(Caller.ROOT, inodes[0], 0, chunk, crc));
                    long firstWrite = System.nanoTime() - firstWriteStart;
                    long checkpointStart = System.nanoTime();
                    brick.checkpoint(image);
                    long checkpointed = System.nanoTime();
                    long[] streamed = {0};
                    image.writeSnapshot(new OutputStream() {
                        @Override
                        public void write(int b) {
                            streamed[0]++;
                        }

                        @Override
                        public void write(byte[] b, int off, int len) {
                            streamed[0] += len;
                        }
                    });
                    out.printf(
                            "round %d: apply thread paused %.1f ms (freeze); first write to a shared file %.1f ms"
                                    + " (copied %d MiB); off the apply thread: checkpoint %.1f ms, stream %d MiB in"
                                    + " %.1f s%n",
                            round,
                            (frozen - started) / 1e6,
                            firstWrite / 1e6,
                            (brick.copiedOnWriteBytes() - copiedBefore) >> 20,
                            (checkpointed - checkpointStart) / 1e6,
                            streamed[0] >> 20,
                            (System.nanoTime() - checkpointed) / 1e9);
                }
            }
            out.printf(
                    "brick of %d MiB in %d data files: longest snapshot pause %.1f ms%n",
                    (files * fileSize) >> 20, files, worst / 1e6);
        } finally {
            deleteTree(dir);
            out.printf("total %.1f s%n", (System.nanoTime() - t) / 1e9);
        }
    }

    private static Response apply(Brick brick, long[] index, Request.Mutation m) throws IOException {
        Response r = brick.apply(++index[0], new LogEntry(index[0] * 1000, m));
        if (r instanceof Response.Error e) {
            throw new IOException("entry " + index[0] + " failed: " + e);
        }
        return r;
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (var s = Files.walk(p)) {
            for (Path x : s.sorted((a, b) -> b.compareTo(a)).toList()) {
                Files.deleteIfExists(x);
            }
        }
    }
}
