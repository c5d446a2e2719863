package io.holdfast.server.scrub;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.common.Pacer;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.Response;
import io.holdfast.storage.Brick;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * The digests one member computed at scrub marks: per mark, the total SHA-256 (in memory) and
 * the per-directory digests in a file {@code mark-<index>.dirs} of fixed 16-byte records
 * (directory, digest; big-endian, in directory order), so that a large volume's directory list
 * costs no memory and pages are found by binary search. The newest {@value #KEEP} are kept.
 *
 * <p>Thread-safe: the scrubber's thread computes, Ratis's query threads answer peers.
 */
final class MarkDigests {
    /** Marks whose digests are kept. */
    static final int KEEP = 4;

    private static final int RECORD = 16;

    private final Path dir;
    private final TreeMap<Long, byte[]> totals = new TreeMap<>();
    private volatile long computing = -1;

    /** Digests kept in {@code dir} (created if missing; leftovers of an earlier run are removed). */
    MarkDigests(Path dir) throws IOException {
        this.dir = dir;
        Files.createDirectories(dir);
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                if (p.getFileName().toString().startsWith("mark-")) {
                    Files.deleteIfExists(p); // their totals were in memory only
                }
            }
        }
    }

    /**
     * Digests every mark the brick holds, oldest first (see {@link Brick#digestMark}).
     *
     * @return the marks digested
     * @throws IOException if the brick or the file fails
     * @throws InterruptedException if interrupted while pacing
     */
    List<Long> computeHeld(Brick brick, Pacer pacer) throws IOException, InterruptedException {
        List<Long> done = new ArrayList<>();
        for (long mark : brick.heldMarks()) {
            computing = mark;
            Path tmp = file(mark).resolveSibling("mark-" + mark + ".tmp");
            byte[] total;
            try (OutputStream raw = Files.newOutputStream(tmp);
                    DataOutputStream out = new DataOutputStream(new BufferedOutputStream(raw, 1 << 16))) {
                total = brick.digestMark(mark, pacer, (directory, digest) -> {
                    out.writeLong(directory);
                    out.writeLong(digest);
                });
            } catch (HoldfastException e) {
                Files.deleteIfExists(tmp);
                if (e.errno() == Errno.ENOENT) {
                    continue; // released meanwhile (brick restored): nothing to compare at that mark
                }
                throw e;
            } catch (IOException | InterruptedException | RuntimeException e) {
                Files.deleteIfExists(tmp);
                throw e;
            } finally {
                computing = -1;
            }
            Files.move(tmp, file(mark), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            synchronized (this) {
                totals.put(mark, total);
                while (totals.size() > KEEP) {
                    long oldest = totals.firstKey();
                    totals.remove(oldest);
                    Files.deleteIfExists(file(oldest));
                }
            }
            done.add(mark);
        }
        return done;
    }

    /** The total digest at {@code mark}, or null if none is kept. */
    synchronized byte[] total(long mark) {
        byte[] t = totals.get(mark);
        return t == null ? null : t.clone();
    }

    /** The newest mark above {@code after} with a digest, or -1. */
    synchronized long newestAbove(long after) {
        Long m = totals.isEmpty() ? null : totals.lastKey();
        return m != null && m > after ? m : -1;
    }

    /**
     * The answer to a peer's {@link io.holdfast.protocol.Request.MarkDigest}: the digest, or
     * {@link Errno#EAGAIN} while it is computed (or the brick holds the mark, waiting, or has
     * not applied it yet), or {@link Errno#ENOENT}.
     */
    Response answerTotal(long mark, Brick brick) {
        byte[] t = total(mark);
        if (t != null) {
            return new Response.Digest(mark, t);
        }
        if (computing == mark || brick.heldMarks().contains(mark)) {
            return new Response.Error(Errno.EAGAIN, "digest of scrub mark " + mark + " is being computed");
        }
        if (mark > brick.appliedIndex()) {
            return new Response.Error(
                    Errno.EAGAIN,
                    "scrub mark " + mark + " is not applied here yet (applied " + brick.appliedIndex() + ")");
        }
        return new Response.Error(
                Errno.ENOENT, "no digest of scrub mark " + mark + " on this member (kept: " + kept() + ")");
    }

    private synchronized List<Long> kept() {
        return List.copyOf(totals.keySet());
    }

    /**
     * A page of per-directory digests at {@code mark}: directories after {@code after}, at most
     * {@code max} (and {@link Limits#MAX_DIGEST_PAGE_ENTRIES}).
     *
     * @throws HoldfastException {@link Errno#ENOENT} if no digest is kept for the mark,
     *     {@link Errno#EINVAL} if {@code max} is not positive
     * @throws IOException if the file cannot be read
     */
    Response.DirDigests page(long mark, long after, int max) throws IOException {
        if (max <= 0) {
            throw new HoldfastException(Errno.EINVAL, "maxEntries must be positive: " + max);
        }
        int limit = Math.min(max, Limits.MAX_DIGEST_PAGE_ENTRIES);
        Path f;
        synchronized (this) {
            if (!totals.containsKey(mark)) {
                throw new HoldfastException(
                        Errno.ENOENT,
                        "no digest of scrub mark " + mark + " on this member (kept: " + totals.keySet() + ")");
            }
            f = file(mark);
        }
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            long records = ch.size() / RECORD;
            long lo = 0;
            long hi = records; // first record with directory > after
            ByteBuffer one = ByteBuffer.allocate(8);
            while (lo < hi) {
                long mid = (lo + hi) >>> 1;
                one.clear();
                ch.read(one, mid * RECORD);
                if (one.getLong(0) <= after) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            int n = (int) Math.min(limit, records - lo);
            ByteBuffer buf = ByteBuffer.allocate(n * RECORD);
            while (buf.hasRemaining() && ch.read(buf, lo * RECORD + buf.position()) >= 0) {
                // read on
            }
            buf.flip();
            List<Response.DirDigest> entries = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                entries.add(new Response.DirDigest(buf.getLong(), buf.getLong()));
            }
            return new Response.DirDigests(mark, entries, lo + n < records);
        } catch (NoSuchFileException e) {
            throw new HoldfastException(Errno.ENOENT, "digest of scrub mark " + mark + " was discarded");
        }
    }

    private Path file(long mark) {
        return dir.resolve("mark-" + mark + ".dirs");
    }
}
