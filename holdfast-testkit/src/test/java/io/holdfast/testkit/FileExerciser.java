package io.holdfast.testkit;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * A randomized file exerciser: two clients write, truncate (down and, where the client can, up),
 * punch holes by writing past the end, read, map and write through {@code mmap}, {@code fsync},
 * close and reopen a handful of files, and every step is checked against an in-memory model of
 * each file's bytes.
 *
 * <h2>What is checked</h2>
 *
 * <ul>
 *   <li>Within one client: every read, {@code stat} (by path) and {@code fstat} (of the open
 *       handle) right after a write, truncate or mmap store sees it (read your writes).
 *   <li>Between clients, close-to-open: once a client closes or fsyncs a file, the other client
 *       sees all of it on its next open and on every {@code stat}. Before the other client
 *       touches a file this client changed, this client closes or fsyncs it (chosen at random),
 *       and the other client reopens its handle if it was opened before the change; both are
 *       logged steps.
 * </ul>
 *
 * <p>The run is fully determined by its seed (and the clients): a failure names the seed, the
 * step and the steps before it, and {@code -Dholdfast.seed=N} replays it.
 *
 * <p>Not thread-safe; one run at a time.
 */
final class FileExerciser {
    /** One way of reaching the files: a directory (a FUSE mount, a local or a Holdfast NIO path). */
    record Client(String name, Path root) {
        /** Whether this client's handles are {@code RandomAccessFile}s on the JVM's default file system. */
        boolean local() {
            return root.getFileSystem() == FileSystems.getDefault();
        }
    }

    /** Operation counts of one run, by kind. */
    enum Op {
        WRITE,
        READ,
        STAT,
        FSTAT,
        TRUNCATE_DOWN,
        TRUNCATE_UP,
        MMAP_WRITE,
        MMAP_READ,
        FSYNC,
        CLOSE,
        REOPEN,
        REWRITE_WHOLE,
        CHECK_WHOLE,
        SYNC_FOR_OTHER,
        REOPEN_FOR_CLOSE_TO_OPEN
    }

    private static final int FILES = 3;
    private static final int MAX_WRITE = 200_000;
    private static final int MAX_SIZE = 3 << 20;
    private static final int HISTORY = 25;

    private final long seed;
    private final Random random;
    private final List<Client> clients;
    private final byte[][] model = new byte[FILES][];
    /** Per file: the client whose changes are not yet closed or fsynced, or -1. */
    private final int[] dirtyBy = new int[FILES];
    /** Per file: changes so far; per client and file, the count its open handle has seen. */
    private final long[] changes = new long[FILES];

    private final long[][] seen;
    private final Handle[][] handles;
    private final Deque<String> history = new ArrayDeque<>();
    private final Map<Op, Integer> counts = new EnumMap<>(Op.class);
    private int step;

    /** An open file of one client. */
    private static final class Handle implements AutoCloseable {
        final RandomAccessFile raf; // local clients only
        final FileChannel channel;

        Handle(Client c, Path p) throws IOException {
            if (c.local()) {
                raf = new RandomAccessFile(p.toFile(), "rw");
                channel = raf.getChannel();
            } else {
                raf = null;
                channel = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE);
            }
        }

        @Override
        public void close() throws IOException {
            if (raf != null) {
                raf.close();
            } else {
                channel.close();
            }
        }
    }

    FileExerciser(long seed, List<Client> clients) {
        if (clients.size() != 2) {
            throw new IllegalArgumentException("two clients, got " + clients.size());
        }
        this.seed = seed;
        this.random = new Random(seed);
        this.clients = clients;
        this.seen = new long[clients.size()][FILES];
        this.handles = new Handle[clients.size()][FILES];
        Arrays.fill(dirtyBy, -1);
    }

    /**
     * Creates the files empty (through client 0) and runs {@code steps} random steps.
     *
     * @return the operation counts
     * @throws AssertionError at the first step whose outcome differs from the model, naming the
     *     seed, the step and the steps before it
     */
    Map<Op, Integer> run(int steps) throws IOException {
        for (int f = 0; f < FILES; f++) {
            Files.write(path(0, f), new byte[0]);
            model[f] = new byte[0];
        }
        try {
            for (step = 0; step < steps; step++) {
                oneStep();
            }
            for (int c = 0; c < clients.size(); c++) {
                for (int f = 0; f < FILES; f++) {
                    close(c, f);
                }
            }
            for (int c = 0; c < clients.size(); c++) {
                for (int f = 0; f < FILES; f++) {
                    checkWhole(c, f);
                }
            }
        } finally {
            for (Handle[] hs : handles) {
                for (Handle h : hs) {
                    if (h != null) {
                        h.close();
                    }
                }
            }
        }
        return counts;
    }

    private Path path(int client, int file) {
        return clients.get(client).root().resolve("f" + file);
    }

    private void oneStep() throws IOException {
        int c = random.nextInt(clients.size());
        int f = random.nextInt(FILES);
        prepare(c, f);
        boolean local = clients.get(c).local();
        int size = model[f].length;
        int kind = random.nextInt(100);
        if (kind < 28) {
            long off = random.nextInt(4) == 0 ? size + random.nextInt(70_000) : random.nextInt(size + 1);
            write(c, f, off, length());
        } else if (kind < 42) {
            read(c, f, random.nextInt(size + 2_000), length());
        } else if (kind < 50) {
            stat(c, f);
        } else if (kind < 57) {
            fstat(c, f);
        } else if (kind < 62) {
            truncate(c, f, size == 0 ? 0 : random.nextInt(size + 1));
        } else if (kind < 66 && local) {
            truncate(c, f, Math.min(MAX_SIZE, size + 1 + random.nextInt(100_000)));
        } else if (kind < 71 && local && size > 0) {
            mmapWrite(c, f, random.nextInt(size), 1 + random.nextInt(Math.min(size, 20_000)));
        } else if (kind < 75 && local && size > 0) {
            mmapRead(c, f, random.nextInt(size));
        } else if (kind < 81) {
            fsync(c, f);
        } else if (kind < 87) {
            close(c, f);
        } else if (kind < 91) {
            reopen(c, f, Op.REOPEN);
        } else if (kind < 95) {
            rewriteWhole(c, f, length());
        } else {
            checkWhole(c, f);
        }
    }

    /** Mostly small writes, some large ones spanning several 1 MiB chunks. */
    private int length() {
        return switch (random.nextInt(10)) {
            case 0 -> 1 + random.nextInt(MAX_WRITE);
            case 1, 2 -> 1 + random.nextInt(20_000);
            default -> 1 + random.nextInt(4096);
        };
    }

    /** Close-to-open: the other client closes or syncs its change; this one reopens a stale handle. */
    private void prepare(int c, int f) throws IOException {
        int other = dirtyBy[f];
        if (other >= 0 && other != c) {
            if (random.nextBoolean()) {
                log(Op.SYNC_FOR_OTHER, other, f, "fsync");
                handle(other, f).channel.force(true);
            } else {
                log(Op.SYNC_FOR_OTHER, other, f, "close");
                closeHandle(other, f);
            }
            dirtyBy[f] = -1;
        }
        if (handles[c][f] != null && seen[c][f] != changes[f]) {
            reopen(c, f, Op.REOPEN_FOR_CLOSE_TO_OPEN);
        }
    }

    private Handle handle(int c, int f) throws IOException {
        if (handles[c][f] == null) {
            handles[c][f] = new Handle(clients.get(c), path(c, f));
            seen[c][f] = changes[f];
        }
        return handles[c][f];
    }

    private void changed(int c, int f) {
        changes[f]++;
        seen[c][f] = changes[f];
        dirtyBy[f] = c;
    }

    private void write(int c, int f, long off, int len) throws IOException {
        byte[] data = new byte[len];
        random.nextBytes(data);
        log(Op.WRITE, c, f, "at 0x" + Long.toHexString(off) + " len " + len);
        if (off + len > MAX_SIZE) {
            return; // keep files small enough for a quick run; the step still consumed its randomness
        }
        FileChannel ch = handle(c, f).channel;
        ByteBuffer b = ByteBuffer.wrap(data);
        long pos = off;
        while (b.hasRemaining()) {
            pos += ch.write(b, pos);
        }
        byte[] m = model[f];
        if (off + len > m.length) {
            m = Arrays.copyOf(m, (int) (off + len));
        }
        System.arraycopy(data, 0, m, (int) off, len);
        model[f] = m;
        changed(c, f);
    }

    private void read(int c, int f, long off, int len) throws IOException {
        log(Op.READ, c, f, "at 0x" + Long.toHexString(off) + " len " + len);
        FileChannel ch = handle(c, f).channel;
        ByteBuffer b = ByteBuffer.allocate(len);
        long pos = off;
        while (b.hasRemaining()) {
            int n = ch.read(b, pos);
            if (n < 0) {
                break;
            }
            pos += n;
        }
        byte[] m = model[f];
        int expected = (int) Math.max(0, Math.min(len, m.length - off));
        check(
                b.position() == expected,
                "read returned " + b.position() + " bytes, model has " + expected + " (size " + m.length + ")");
        for (int i = 0; i < expected; i++) {
            if (b.get(i) != m[(int) off + i]) {
                fail("byte at 0x" + Long.toHexString(off + i) + " is " + b.get(i) + ", model has " + m[(int) off + i]);
            }
        }
    }

    private void stat(int c, int f) throws IOException {
        log(Op.STAT, c, f, "");
        long size = Files.size(path(c, f));
        check(
                size == model[f].length,
                "stat size " + size + " (0x" + Long.toHexString(size) + "), model has " + model[f].length + " (0x"
                        + Long.toHexString(model[f].length) + ")");
    }

    private void fstat(int c, int f) throws IOException {
        log(Op.FSTAT, c, f, "");
        long size = handle(c, f).channel.size();
        check(size == model[f].length, "fstat size " + size + ", model has " + model[f].length);
    }

    private void truncate(int c, int f, long newSize) throws IOException {
        boolean up = newSize > model[f].length;
        log(up ? Op.TRUNCATE_UP : Op.TRUNCATE_DOWN, c, f, "to " + newSize);
        Handle h = handle(c, f);
        if (h.raf != null) {
            h.raf.setLength(newSize); // ftruncate(2), both ways
        } else {
            h.channel.truncate(newSize);
        }
        model[f] = Arrays.copyOf(model[f], (int) newSize);
        changed(c, f);
    }

    private void mmapWrite(int c, int f, int off, int len) throws IOException {
        int n = Math.min(len, model[f].length - off);
        byte[] data = new byte[n];
        random.nextBytes(data);
        log(Op.MMAP_WRITE, c, f, "at 0x" + Integer.toHexString(off) + " len " + n);
        boolean sync = random.nextBoolean();
        Path in = Files.write(Files.createTempFile("exerciser", ".bin"), data);
        try {
            mmap(path(c, f), "w", off, n, sync, in);
        } catch (IOException e) {
            fail(e.getMessage());
        } finally {
            Files.delete(in);
        }
        System.arraycopy(data, 0, model[f], off, n);
        changed(c, f);
    }

    private void mmapRead(int c, int f, int off) throws IOException {
        int n = Math.min(1 + random.nextInt(50_000), model[f].length - off);
        log(Op.MMAP_READ, c, f, "at 0x" + Integer.toHexString(off) + " len " + n);
        byte[] actual = null;
        try {
            actual = mmap(path(c, f), "r", off, n, false, null);
        } catch (IOException e) {
            fail(e.getMessage());
        }
        check(actual.length == n, "mapped read returned " + actual.length + " bytes, wanted " + n);
        int i = Arrays.mismatch(actual, 0, n, model[f], off, off + n);
        if (i >= 0) {
            fail("mapped byte at 0x" + Integer.toHexString(off + i) + " is " + actual[i] + ", model has "
                    + model[f][off + i]);
        }
    }

    /**
     * Maps {@code n} bytes at {@code off} of {@code file} in another process (python3's mmap) and
     * reads them ({@code "r"}: returned) or stores the bytes of {@code in} there ({@code "w"}),
     * then msync(MS_SYNC)s if {@code sync}, and unmaps. Another process, because a page fault on a
     * FUSE file served by this same JVM blocks a thread in Java code: a safepoint then waits for it
     * while it waits for the FUSE threads, which wait for the safepoint.
     */
    private static byte[] mmap(Path file, String mode, int off, int n, boolean sync, Path in) throws IOException {
        String script = String.join(
                "\n",
                "import mmap, os, sys",
                "path, mode, off, n, sync = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] "
                        + "== '1'",
                "base = off - off % mmap.ALLOCATIONGRANULARITY",
                "fd = os.open(path, os.O_RDWR if mode == 'w' else os.O_RDONLY)",
                "size = os.fstat(fd).st_size",
                "if size < off + n: sys.exit('fstat after open says %d bytes, mapping needs %d' % (size, off + n))",
                "m = mmap.mmap(fd, off + n - base, offset=base, access=mmap.ACCESS_WRITE if mode == 'w' else "
                        + "mmap.ACCESS_READ)",
                "if mode == 'w':",
                "    m[off - base:off - base + n] = open(sys.argv[6], 'rb').read()",
                "    if sync: m.flush()",
                "else:",
                "    sys.stdout.buffer.write(m[off - base:off - base + n])",
                "m.close()",
                "os.close(fd)");
        Path err = Files.createTempFile("exerciser", ".err");
        try {
            return runMmap(script, err, file, mode, off, n, sync, in);
        } finally {
            Files.delete(err);
        }
    }

    private static byte[] runMmap(
            String script, Path err, Path file, String mode, int off, int n, boolean sync, Path in) throws IOException {
        Process p = new ProcessBuilder(
                        "python3",
                        "-c",
                        script,
                        file.toString(),
                        mode,
                        Integer.toString(off),
                        Integer.toString(n),
                        sync ? "1" : "0",
                        in == null ? "" : in.toString())
                .redirectError(err.toFile())
                .start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException("python3 mmap " + mode + " of " + file + " at " + off + " len " + n + " failed"
                        + (p.isAlive() ? "" : " with exit status " + p.exitValue()) + ": "
                        + Files.readString(err).strip());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("waiting for python3 mmap");
        }
        return out;
    }

    private void fsync(int c, int f) throws IOException {
        log(Op.FSYNC, c, f, "");
        if (handles[c][f] != null) {
            handles[c][f].channel.force(true);
            if (dirtyBy[f] == c) {
                dirtyBy[f] = -1;
            }
        }
    }

    private void close(int c, int f) throws IOException {
        log(Op.CLOSE, c, f, "");
        closeHandle(c, f);
    }

    private void closeHandle(int c, int f) throws IOException {
        Handle h = handles[c][f];
        handles[c][f] = null;
        if (h != null) {
            h.close();
            if (dirtyBy[f] == c) {
                dirtyBy[f] = -1;
            }
        }
    }

    private void reopen(int c, int f, Op why) throws IOException {
        log(why, c, f, "");
        closeHandle(c, f);
        handle(c, f);
    }

    /** As {@code cp} does: open with O_TRUNC, write it all, close; then the file is clean. */
    private void rewriteWhole(int c, int f, int len) throws IOException {
        log(Op.REWRITE_WHOLE, c, f, "len " + len);
        byte[] data = new byte[len];
        random.nextBytes(data);
        boolean handleDirty = dirtyBy[f] == c && handles[c][f] != null;
        Files.write(path(c, f), data);
        model[f] = data;
        changed(c, f);
        dirtyBy[f] = handleDirty ? c : -1; // Files.write closed what it wrote
    }

    /** As {@code cmp} does: a fresh open, the whole content, the size by path. */
    private void checkWhole(int c, int f) throws IOException {
        log(Op.CHECK_WHOLE, c, f, "");
        prepare(c, f);
        byte[] actual = Files.readAllBytes(path(c, f));
        byte[] m = model[f];
        if (!Arrays.equals(actual, m)) {
            int i = Arrays.mismatch(actual, m);
            fail("whole file: " + actual.length + " bytes, model " + m.length + "; first difference at 0x"
                    + Integer.toHexString(i));
        }
        stat(c, f);
    }

    private void log(Op op, int c, int f, String detail) {
        counts.merge(op, 1, Integer::sum);
        history.addLast(String.format("#%d %s %s f%d %s", step, clients.get(c).name(), op, f, detail));
        while (history.size() > HISTORY) {
            history.removeFirst();
        }
    }

    private void check(boolean ok, String what) {
        if (!ok) {
            fail(what);
        }
    }

    private void fail(String what) {
        throw new AssertionError("exerciser seed=" + seed + " (replay with -Dholdfast.seed=" + seed + "), step " + step
                + ": " + what + "\nlast steps:\n  " + String.join("\n  ", history));
    }
}
