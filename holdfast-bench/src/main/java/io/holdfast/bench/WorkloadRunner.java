package io.holdfast.bench;

import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * Runs the workloads in one fresh work directory (target or baseline). Not thread-safe.
 *
 * <p>Design notes. Only filesystem calls are timed, by summing the injected clock around
 * them; generating data, checksumming and progress reporting are not. Data is derived from
 * the seed alone, so target and baseline write identical bytes. The sequential file is a
 * 1 MiB random pattern whose every 4 KiB block starts with its own file offset (8 bytes,
 * big-endian), so a block read from the wrong place changes the CRC32C even when the pattern
 * repeats. {@link Workload#SEQ_READ} reuses the {@link Workload#SEQ_WRITE} file, or writes it
 * untimed when that workload was not selected.
 */
final class WorkloadRunner {

    /** Bytes in one maildir message. */
    static final int MAILDIR_MESSAGE_BYTES = 4096;
    /** Bytes per sequential write or read call. */
    static final int SEQ_CHUNK_BYTES = 1 << 20;
    /** Every block of this many bytes in the sequential file starts with its offset. */
    static final int SEQ_STAMP_INTERVAL_BYTES = 4096;
    /** Bytes in each file of the stat tree. */
    static final int TREE_FILE_BYTES = 256;
    /** Subdirectories per directory in the stat tree. */
    static final int TREE_DIR_FANOUT = 8;

    private static final long MAILDIR_SALT = 0x6D61696C64697200L;
    private static final long SEQ_SALT = 0x7365717365710000L;
    private static final long TREE_SALT = 0x7472656574726500L;

    /** What one workload did in this directory; {@code nanos} is the counted time. */
    record Measurement(long operations, long bytes, long nanos) {}

    /** Called with the sequential file after it is written and before it is read (tests). */
    @FunctionalInterface
    interface IoHook {
        void accept(Path file) throws IOException;
    }

    private final String side;
    private final Path workDir;
    private final BenchScale scale;
    private final LongSupplier nanoClock;
    private final Consumer<String> progress;
    private final long seed;
    private final IoHook beforeSeqRead;

    private Path seqFile;
    private long seqCrc;

    WorkloadRunner(
            String side,
            Path workDir,
            BenchScale scale,
            LongSupplier nanoClock,
            Consumer<String> progress,
            long seed,
            IoHook beforeSeqRead) {
        this.side = side;
        this.workDir = workDir;
        this.scale = scale;
        this.nanoClock = nanoClock;
        this.progress = progress;
        this.seed = seed;
        this.beforeSeqRead = beforeSeqRead;
    }

    /** Runs {@code workload} once; blocks until done. */
    Measurement run(Workload workload) throws IOException {
        ProgressMeter meter = new ProgressMeter(nanoClock, progress, workload + " " + side + ": ");
        return switch (workload) {
            case MAILDIR -> maildir(meter);
            case SEQ_WRITE -> seqWrite(meter);
            case SEQ_READ -> seqRead(meter);
            case STAT_TREE -> statTree(meter);
        };
    }

    private Measurement maildir(ProgressMeter meter) throws IOException {
        Path root = workDir.resolve("maildir");
        Path tmp = Files.createDirectories(root.resolve("tmp"));
        Path fresh = Files.createDirectories(root.resolve("new"));
        Files.createDirectories(root.resolve("cur"));
        int messages = scale.maildirMessages();
        SplittableRandom random = new SplittableRandom(seed ^ MAILDIR_SALT);
        byte[] message = new byte[MAILDIR_MESSAGE_BYTES];
        ByteBuffer buffer = ByteBuffer.wrap(message);
        meter.phase("delivering " + messages + " messages of 4 KiB (create, write, fsync, rename) in " + root);
        long nanos = 0;
        for (int i = 0; i < messages; i++) {
            random.nextBytes(message);
            buffer.clear();
            String name = i + ".M" + i + "P0.holdfast-bench";
            Path tmpFile = tmp.resolve(name);
            long start = nanoClock.getAsLong();
            try (FileChannel channel = FileChannel.open(tmpFile, CREATE_NEW, WRITE)) {
                writeFully(channel, buffer);
                channel.force(true);
            }
            Files.move(tmpFile, fresh.resolve(name), StandardCopyOption.ATOMIC_MOVE);
            nanos += nanoClock.getAsLong() - start;
            meter.update(i + 1L, messages);
        }
        long delivered = countEntries(fresh);
        long left = countEntries(tmp);
        if (delivered != messages || left != 0) {
            throw new IOException(root + ": delivered " + messages + " messages but new/ holds " + delivered
                    + " and tmp/ holds " + left);
        }
        return new Measurement(messages, (long) messages * MAILDIR_MESSAGE_BYTES, nanos);
    }

    private Measurement seqWrite(ProgressMeter meter) throws IOException {
        meter.phase("writing " + scale.seqBytes() + " bytes in 1 MiB chunks, fsync at end");
        return writeSeqFile(meter);
    }

    private Measurement writeSeqFile(ProgressMeter meter) throws IOException {
        Path file = workDir.resolve("seq.dat");
        long total = scale.seqBytes();
        ByteBuffer chunk = seqPattern();
        CRC32C crc = new CRC32C();
        long written = 0;
        long chunks = 0;
        long nanos = 0;
        long start = nanoClock.getAsLong();
        try (FileChannel channel = FileChannel.open(file, CREATE_NEW, WRITE)) {
            nanos += nanoClock.getAsLong() - start;
            while (written < total) {
                int length = (int) Math.min(SEQ_CHUNK_BYTES, total - written);
                stampOffsets(chunk, written);
                chunk.clear().limit(length);
                crc.update(chunk.duplicate());
                start = nanoClock.getAsLong();
                writeFully(channel, chunk);
                nanos += nanoClock.getAsLong() - start;
                written += length;
                chunks++;
                meter.update(written, total);
            }
            start = nanoClock.getAsLong();
            channel.force(true);
        }
        nanos += nanoClock.getAsLong() - start;
        seqFile = file;
        seqCrc = crc.getValue();
        return new Measurement(chunks, written, nanos);
    }

    private Measurement seqRead(ProgressMeter meter) throws IOException {
        if (seqFile == null) {
            meter.phase("preparing: writing " + scale.seqBytes() + " bytes (untimed)");
            writeSeqFile(meter);
        }
        beforeSeqRead.accept(seqFile);
        meter.phase("reading " + scale.seqBytes() + " bytes in 1 MiB chunks, verifying CRC32C");
        return readAndVerify(seqFile, scale.seqBytes(), seqCrc, nanoClock, meter);
    }

    /**
     * Reads {@code file} in 1 MiB chunks and checks its length and CRC32C.
     *
     * @throws IOException if reading fails, or the file is shorter or longer than {@code
     *     expectedBytes}, or its CRC32C is not {@code expectedCrc}; rates must not be reported
     *     for wrong data
     */
    static Measurement readAndVerify(
            Path file, long expectedBytes, long expectedCrc, LongSupplier nanoClock, ProgressMeter meter)
            throws IOException {
        ByteBuffer buffer = ByteBuffer.allocateDirect(SEQ_CHUNK_BYTES);
        CRC32C crc = new CRC32C();
        long read = 0;
        long chunks = 0;
        long nanos = 0;
        long start = nanoClock.getAsLong();
        try (FileChannel channel = FileChannel.open(file, READ)) {
            nanos += nanoClock.getAsLong() - start;
            while (read < expectedBytes) {
                int length = (int) Math.min(SEQ_CHUNK_BYTES, expectedBytes - read);
                buffer.clear().limit(length);
                start = nanoClock.getAsLong();
                while (buffer.hasRemaining()) {
                    if (channel.read(buffer) < 0) {
                        throw new IOException(file + ": data mismatch: file ends after " + (read + buffer.position())
                                + " bytes, " + expectedBytes + " were written");
                    }
                }
                nanos += nanoClock.getAsLong() - start;
                buffer.flip();
                crc.update(buffer);
                read += length;
                chunks++;
                meter.update(read, expectedBytes);
            }
            buffer.clear().limit(1);
            if (channel.read(buffer) > 0) {
                throw new IOException(
                        file + ": data mismatch: file is longer than the " + expectedBytes + " bytes written");
            }
            start = nanoClock.getAsLong();
        }
        nanos += nanoClock.getAsLong() - start;
        if (crc.getValue() != expectedCrc) {
            throw new IOException(String.format(
                    Locale.ROOT,
                    "%s: data mismatch: CRC32C of the %d bytes read is %08x, of those written %08x",
                    file,
                    expectedBytes,
                    crc.getValue(),
                    expectedCrc));
        }
        return new Measurement(chunks, read, nanos);
    }

    private Measurement statTree(ProgressMeter meter) throws IOException {
        Path root = Files.createDirectory(workDir.resolve("tree"));
        int dirCount = scale.treeDirs();
        int fileCount = scale.treeFiles();
        long toCreate = (long) dirCount + fileCount;
        meter.phase("preparing: creating " + dirCount + " directories and " + fileCount + " files (untimed)");
        List<Path> dirs = new ArrayList<>(dirCount);
        for (int i = 0; i < dirCount; i++) {
            Path parent = i < TREE_DIR_FANOUT ? root : dirs.get(i / TREE_DIR_FANOUT - 1);
            dirs.add(Files.createDirectory(parent.resolve("d" + i)));
            meter.update(i + 1L, toCreate);
        }
        byte[] content = new byte[TREE_FILE_BYTES];
        new SplittableRandom(seed ^ TREE_SALT).nextBytes(content);
        for (int j = 0; j < fileCount; j++) {
            Files.write(dirs.get(j % dirCount).resolve("f" + j), content, CREATE_NEW, WRITE);
            meter.update((long) dirCount + j + 1, toCreate);
        }

        long expectedEntries = 1L + dirCount + fileCount;
        meter.phase("walking " + expectedEntries + " entries, reading attributes of each");
        TreeCounter counter = new TreeCounter(meter, expectedEntries);
        long start = nanoClock.getAsLong();
        Files.walkFileTree(root, counter);
        long nanos = nanoClock.getAsLong() - start;
        if (counter.dirs != 1L + dirCount || counter.goodFiles != fileCount || counter.other != 0) {
            throw new IOException(root + ": walk found " + counter.dirs + " directories, " + counter.goodFiles
                    + " files of " + TREE_FILE_BYTES + " bytes and " + counter.other
                    + " other entries; created " + (1L + dirCount) + " directories and " + fileCount
                    + " files");
        }
        return new Measurement(expectedEntries, 0, nanos);
    }

    /** Counts what the walk sees; every entry's attributes are read by the walk itself. */
    private static final class TreeCounter extends SimpleFileVisitor<Path> {
        private final ProgressMeter meter;
        private final long expected;
        long dirs;
        long goodFiles;
        long other;

        TreeCounter(ProgressMeter meter, long expected) {
            this.meter = meter;
            this.expected = expected;
        }

        @Override
        public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
            dirs++;
            report();
            return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
            if (attrs.isRegularFile() && attrs.size() == TREE_FILE_BYTES) {
                goodFiles++;
            } else {
                other++;
            }
            report();
            return FileVisitResult.CONTINUE;
        }

        private void report() {
            long seen = dirs + goodFiles + other;
            meter.update(Math.min(seen, expected), expected);
        }
    }

    private ByteBuffer seqPattern() {
        byte[] pattern = new byte[SEQ_CHUNK_BYTES];
        new SplittableRandom(seed ^ SEQ_SALT).nextBytes(pattern);
        return ByteBuffer.allocateDirect(SEQ_CHUNK_BYTES).put(pattern).clear();
    }

    private static void stampOffsets(ByteBuffer chunk, long fileOffset) {
        for (int p = 0; p + Long.BYTES <= SEQ_CHUNK_BYTES; p += SEQ_STAMP_INTERVAL_BYTES) {
            chunk.putLong(p, fileOffset + p);
        }
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    private static long countEntries(Path dir) throws IOException {
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.count();
        }
    }
}
