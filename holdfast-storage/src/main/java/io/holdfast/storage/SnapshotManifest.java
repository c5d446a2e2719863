package io.holdfast.storage;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.zip.CRC32C;

/**
 * What a snapshot stream ({@link Brick#writeSnapshot}, version {@value Snapshots#SNAPSHOT_VERSION})
 * holds, without its bytes: the length of its metadata part (header and every key/value), and,
 * for every data file in it, the inode, where its record starts, its length and the CRC32C of its
 * bytes; the stream's size and MD5. A member that catches up compares it with its own brick's
 * data files and fetches, by byte range, only the parts of the stream it does not already have
 * ({@link #assemble}).
 *
 * <p>Encoding (big-endian), size-limited on reading ({@link #decode}):
 *
 * <pre>
 *  "HFMANI" version:i32 (1) term:i64 index:i64 streamBytes:i64 md5:16 bytes prefixBytes:i64
 *  sourceCount:i32 { len:i32 utf8 }*           who may serve the stream (opaque to the brick)
 *  fileCount:i32 { inode:i64 offset:i64 length:i64 crc32c:i32 }*
 *  crc32c:i32                                  of every byte before it
 * </pre>
 *
 * <p>Immutable and thread-safe.
 *
 * @param term the Raft term of the snapshot
 * @param index the Raft index of the snapshot
 * @param streamBytes the size of the snapshot stream
 * @param md5 the stream's MD5 (16 bytes)
 * @param prefixBytes bytes of the stream before the first data file record (header and metadata)
 * @param sources who may serve the stream's bytes (the caller's encoding, at most {@value #MAX_SOURCES})
 * @param files the data file records, in stream order
 */
public record SnapshotManifest(
        long term,
        long index,
        long streamBytes,
        byte[] md5,
        long prefixBytes,
        List<String> sources,
        List<FileRecord> files) {
    static final byte[] MAGIC = "HFMANI".getBytes(StandardCharsets.US_ASCII);
    static final int VERSION = 1;
    /** Most sources a manifest names. */
    public static final int MAX_SOURCES = 64;
    /** Longest source name, bytes. */
    public static final int MAX_SOURCE_BYTES = 1024;
    /** Most data files a manifest lists (a decoder bound; ~1.5 GiB of manifest at most). */
    public static final int MAX_FILES = 1 << 26;
    /** Bytes of a data file record before its content: type, inode, length. */
    static final int RECORD_HEADER_BYTES = 1 + 8 + 8;

    /**
     * One data file of the stream.
     *
     * @param inode its inode
     * @param offset where its record (type byte) starts in the stream
     * @param length its length in bytes
     * @param crc32c CRC32C of its bytes
     */
    public record FileRecord(long inode, long offset, long length, int crc32c) {}

    public SnapshotManifest {
        Objects.requireNonNull(md5, "md5");
        if (md5.length != 16) {
            throw new IllegalArgumentException("an MD5 has 16 bytes, got " + md5.length);
        }
        md5 = md5.clone();
        sources = List.copyOf(sources);
        files = List.copyOf(files);
        if (sources.size() > MAX_SOURCES) {
            throw new IllegalArgumentException("more than " + MAX_SOURCES + " sources");
        }
    }

    /** Where a member reads byte ranges of the stream from (another member, paced by the caller). */
    @FunctionalInterface
    public interface RangeSource {
        /**
         * Reads {@code length} bytes of the stream at {@code offset}.
         *
         * @return exactly {@code length} bytes
         * @throws IOException if they could not be read
         */
        byte[] read(long offset, int length) throws IOException;
    }

    /**
     * What {@link #assemble} did.
     *
     * @param fetchedBytes bytes read from the source
     * @param reusedBytes bytes copied from this member's own data files
     * @param fetchedFiles data files read (in part or whole) from the source
     * @param reusedFiles data files copied from this member's own brick
     */
    public record Assembly(long fetchedBytes, long reusedBytes, int fetchedFiles, int reusedFiles) {}

    /**
     * Reads a snapshot stream file once and lists what it holds (CRC32C of each data file).
     *
     * @throws IOException if it cannot be read, or is not a snapshot stream of a known version
     */
    public static SnapshotManifest scan(Path stream, long term, long index, byte[] md5, List<String> sources)
            throws IOException {
        long size = Files.size(stream);
        List<FileRecord> files = new ArrayList<>();
        long prefix;
        try (CountingInput c = new CountingInput(new BufferedInputStream(Files.newInputStream(stream), 1 << 20))) {
            DataInputStream d = new DataInputStream(c);
            byte[] magic = new byte[Snapshots.SNAPSHOT_MAGIC.length];
            d.readFully(magic);
            int version = d.readInt();
            if (!Arrays.equals(magic, Snapshots.SNAPSHOT_MAGIC)
                    || version < Snapshots.SNAPSHOT_MIN_VERSION
                    || version > Snapshots.SNAPSHOT_VERSION) {
                throw new IOException(stream + " is not a snapshot stream of version " + Snapshots.SNAPSHOT_MIN_VERSION
                        + ".." + Snapshots.SNAPSHOT_VERSION);
            }
            d.readLong();
            byte[] buf = new byte[1 << 16];
            for (; ; ) {
                long at = c.position;
                int type = d.readUnsignedByte();
                if (type == 1) {
                    int k = d.readInt();
                    if (k < 0 || k > Snapshots.SNAPSHOT_MAX_KEY_BYTES) {
                        throw new IOException("bad key length " + k + " at " + at + " in " + stream);
                    }
                    d.skipNBytes(k);
                    int v = d.readInt();
                    if (v < 0 || v > Snapshots.SNAPSHOT_MAX_VALUE_BYTES) {
                        throw new IOException("bad value length " + v + " at " + at + " in " + stream);
                    }
                    d.skipNBytes(v);
                } else if (type == 2 || type == 0) {
                    prefix = at; // the metadata part ends where the first data file record (or the end) starts
                    if (type == 0) {
                        return new SnapshotManifest(term, index, size, md5, prefix, sources, files);
                    }
                    readFiles(d, c, stream, buf, files, at);
                    return new SnapshotManifest(term, index, size, md5, prefix, sources, files);
                } else {
                    throw new IOException("bad record type " + type + " at " + at + " in " + stream);
                }
            }
        } catch (EOFException e) {
            throw new IOException(stream + " ends early", e);
        }
    }

    private static void readFiles(
            DataInputStream d, CountingInput c, Path stream, byte[] buf, List<FileRecord> files, long first)
            throws IOException {
        long at = first;
        int type = 2;
        while (type == 2) {
            long inode = d.readLong();
            long length = d.readLong();
            if (length < 0) {
                throw new IOException("bad file length " + length + " at " + at + " in " + stream);
            }
            CRC32C crc = new CRC32C();
            long left = length;
            while (left > 0) {
                int n = (int) Math.min(buf.length, left);
                d.readFully(buf, 0, n);
                crc.update(buf, 0, n);
                left -= n;
            }
            files.add(new FileRecord(inode, at, length, (int) crc.getValue()));
            at = c.position;
            type = d.readUnsignedByte();
        }
        if (type != 0) {
            throw new IOException("bad record type " + type + " at " + at + " in " + stream);
        }
    }

    /** Whether a local file has the record's length and CRC32C. */
    private static boolean sameFile(Path p, FileRecord f, byte[] buf) throws IOException {
        if (!Files.isRegularFile(p) || Files.size(p) != f.length()) {
            return false;
        }
        CRC32C crc = new CRC32C();
        try (InputStream in = Files.newInputStream(p)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                crc.update(buf, 0, n);
            }
        }
        return (int) crc.getValue() == f.crc32c();
    }

    /**
     * Writes the stream this manifest describes to {@code out} (through {@code out}{@code .tmp},
     * fsynced, renamed): the metadata part and every data file that this member's {@code dataDir}
     * lacks or holds with another length or CRC32C come from {@code source}, the rest is copied
     * from {@code dataDir}. The result's MD5 must be the manifest's; if not (a local file changed
     * while it was copied, or matched by CRC32C only), it is assembled once more with every byte
     * from {@code source}. Nothing is left at {@code out} if this fails.
     *
     * @param reuse whether to use this member's files at all (false: fetch everything)
     * @return what was fetched and what was reused
     * @throws IOException if the source fails or the result does not match the manifest's MD5
     */
    public Assembly assemble(Path dataDir, RangeSource source, Path out, boolean reuse) throws IOException {
        Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
        try {
            Attempt a = assembleOnce(dataDir, source, tmp, reuse);
            Assembly result = a.result;
            if (!a.ok) {
                if (!reuse) {
                    throw new IOException("the snapshot stream assembled for index " + index
                            + " does not match its MD5, with every byte fetched");
                }
                Attempt again = assembleOnce(dataDir, source, tmp, false);
                if (!again.ok) {
                    throw new IOException("the snapshot stream assembled for index " + index
                            + " does not match its MD5, with every byte fetched");
                }
                result = new Assembly(
                        a.result.fetchedBytes() + again.result.fetchedBytes(), 0, again.result.fetchedFiles(), 0);
            }
            Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return result;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private Attempt assembleOnce(Path dataDir, RangeSource source, Path tmp, boolean reuse) throws IOException {
        MessageDigest digest = newMd5();
        long fetched = 0;
        long reused = 0;
        int fetchedFiles = 0;
        int reusedFiles = 0;
        byte[] buf = new byte[1 << 16];
        try (FileChannel ch = FileChannel.open(
                        tmp,
                        StandardOpenOption.CREATE,
                        StandardOpenOption.TRUNCATE_EXISTING,
                        StandardOpenOption.WRITE);
                OutputStream raw = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 20)) {
            OutputStream o = new DigestOutputStream(raw, digest);
            fetched += copyRange(source, 0, prefixBytes, o);
            long pos = prefixBytes;
            for (FileRecord f : files) {
                if (f.offset() != pos) {
                    throw new IOException("manifest of index " + index + ": file record of inode " + f.inode() + " at "
                            + f.offset() + ", expected at " + pos);
                }
                DataOutputStream d = new DataOutputStream(o);
                d.writeByte(2);
                d.writeLong(f.inode());
                d.writeLong(f.length());
                Path local = dataDir.resolve(String.format("%016x", f.inode()));
                if (reuse && sameFile(local, f, buf)) {
                    try (InputStream in = Files.newInputStream(local)) {
                        long n = in.transferTo(o);
                        if (n != f.length()) {
                            throw new IOException(local + " changed while it was copied");
                        }
                    }
                    reused += f.length();
                    reusedFiles++;
                } else {
                    fetched += copyRange(source, f.offset() + RECORD_HEADER_BYTES, f.length(), o);
                    fetchedFiles++;
                }
                pos = f.offset() + RECORD_HEADER_BYTES + f.length();
            }
            fetched += copyRange(source, pos, streamBytes - pos, o);
            o.flush();
            raw.flush();
            ch.force(true);
        }
        boolean ok = Arrays.equals(digest.digest(), md5);
        return new Attempt(new Assembly(fetched, reused, fetchedFiles, reusedFiles), ok);
    }

    private static long copyRange(RangeSource source, long offset, long length, OutputStream o) throws IOException {
        long done = 0;
        while (done < length) {
            int n = (int) Math.min(length - done, 4 << 20);
            byte[] b = source.read(offset + done, n);
            if (b.length != n) {
                throw new IOException(
                        "asked for " + n + " bytes of the stream at " + (offset + done) + ", got " + b.length);
            }
            o.write(b);
            done += n;
        }
        return done;
    }

    private static MessageDigest newMd5() {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("no MD5 in this JDK", e);
        }
    }

    /** {@link #assembleOnce}'s result and whether the MD5 matched. */
    private record Attempt(Assembly result, boolean ok) {}

    /** The encoding described in the class comment. */
    public byte[] encode() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream d = new DataOutputStream(bytes)) {
            d.write(MAGIC);
            d.writeInt(VERSION);
            d.writeLong(term);
            d.writeLong(index);
            d.writeLong(streamBytes);
            d.write(md5);
            d.writeLong(prefixBytes);
            d.writeInt(sources.size());
            for (String s : sources) {
                byte[] b = s.getBytes(StandardCharsets.UTF_8);
                d.writeInt(b.length);
                d.write(b);
            }
            d.writeInt(files.size());
            for (FileRecord f : files) {
                d.writeLong(f.inode());
                d.writeLong(f.offset());
                d.writeLong(f.length());
                d.writeInt(f.crc32c());
            }
        } catch (IOException e) {
            throw new IllegalStateException("writing to memory failed", e);
        }
        CRC32C crc = new CRC32C();
        crc.update(bytes.toByteArray());
        byte[] body = bytes.toByteArray();
        byte[] all = Arrays.copyOf(body, body.length + 4);
        int c = (int) crc.getValue();
        all[body.length] = (byte) (c >>> 24);
        all[body.length + 1] = (byte) (c >>> 16);
        all[body.length + 2] = (byte) (c >>> 8);
        all[body.length + 3] = (byte) c;
        return all;
    }

    /**
     * Decodes {@link #encode}'s bytes.
     *
     * @throws HoldfastException EBADMSG for a bad magic, CRC32C, length or count; EPROTO for an unknown version
     */
    public static SnapshotManifest decode(byte[] bytes) throws HoldfastException {
        if (bytes.length < MAGIC.length + 4 + 4) {
            throw bad("too short (" + bytes.length + " bytes)");
        }
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, bytes.length - 4);
        int stored = ((bytes[bytes.length - 4] & 0xff) << 24)
                | ((bytes[bytes.length - 3] & 0xff) << 16)
                | ((bytes[bytes.length - 2] & 0xff) << 8)
                | (bytes[bytes.length - 1] & 0xff);
        if ((int) crc.getValue() != stored) {
            throw bad("CRC32C mismatch");
        }
        try (DataInputStream d = new DataInputStream(new ByteArrayInputStream(bytes, 0, bytes.length - 4))) {
            byte[] magic = new byte[MAGIC.length];
            d.readFully(magic);
            if (!Arrays.equals(magic, MAGIC)) {
                throw bad("bad magic");
            }
            int version = d.readInt();
            if (version != VERSION) {
                throw new HoldfastException(
                        Errno.EPROTO, "snapshot manifest version " + version + ", this node reads " + VERSION);
            }
            long term = d.readLong();
            long index = d.readLong();
            long streamBytes = d.readLong();
            byte[] md5 = new byte[16];
            d.readFully(md5);
            long prefix = d.readLong();
            if (streamBytes < 0 || prefix < 0 || prefix > streamBytes) {
                throw bad("bad sizes " + prefix + " of " + streamBytes);
            }
            int sourceCount = d.readInt();
            if (sourceCount < 0 || sourceCount > MAX_SOURCES) {
                throw bad("bad source count " + sourceCount);
            }
            List<String> sources = new ArrayList<>();
            for (int i = 0; i < sourceCount; i++) {
                int n = d.readInt();
                if (n < 0 || n > MAX_SOURCE_BYTES) {
                    throw bad("bad source length " + n);
                }
                sources.add(new String(d.readNBytes(n), StandardCharsets.UTF_8));
            }
            int fileCount = d.readInt();
            if (fileCount < 0 || fileCount > MAX_FILES || (long) fileCount * 28 > bytes.length) {
                throw bad("bad file count " + fileCount);
            }
            List<FileRecord> files = new ArrayList<>(fileCount);
            long pos = prefix;
            for (int i = 0; i < fileCount; i++) {
                FileRecord f = new FileRecord(d.readLong(), d.readLong(), d.readLong(), d.readInt());
                if (f.offset() != pos || f.length() < 0 || f.length() > streamBytes - pos - RECORD_HEADER_BYTES) {
                    throw bad("file record " + i + " out of place");
                }
                pos = f.offset() + RECORD_HEADER_BYTES + f.length();
                files.add(f);
            }
            if (d.available() != 0) {
                throw bad("trailing bytes");
            }
            return new SnapshotManifest(term, index, streamBytes, md5, prefix, sources, files);
        } catch (EOFException e) {
            throw bad("truncated");
        } catch (IOException e) {
            throw bad(e.toString());
        }
    }

    /** Reads a manifest file ({@link #decode}), of at most {@code maxBytes}. */
    public static SnapshotManifest read(Path file, long maxBytes) throws IOException {
        long size = Files.size(file);
        if (size > maxBytes) {
            throw new HoldfastException(
                    Errno.EBADMSG, "corrupt snapshot manifest " + file + ": " + size + " bytes, more than " + maxBytes);
        }
        return decode(Files.readAllBytes(file));
    }

    /** Writes this manifest to {@code file} through a temporary file, fsynced and renamed. */
    public void write(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(encode());
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** The stream's MD5 (a copy). */
    @Override
    public byte[] md5() {
        return md5.clone();
    }

    /** Bytes of data files in the stream. */
    public long dataBytes() {
        return files.stream().mapToLong(FileRecord::length).sum();
    }

    private static HoldfastException bad(String why) {
        return new HoldfastException(Errno.EBADMSG, "corrupt snapshot manifest: " + why);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SnapshotManifest m
                && term == m.term
                && index == m.index
                && streamBytes == m.streamBytes
                && Arrays.equals(md5, m.md5)
                && prefixBytes == m.prefixBytes
                && sources.equals(m.sources)
                && files.equals(m.files);
    }

    @Override
    public int hashCode() {
        return Objects.hash(term, index, streamBytes, Arrays.hashCode(md5), prefixBytes, sources, files);
    }

    @Override
    public String toString() {
        return "SnapshotManifest[term=" + term + ", index=" + index + ", streamBytes=" + streamBytes + ", files="
                + files.size() + "]";
    }

    /** Counts bytes read. */
    private static final class CountingInput extends FilterInputStream {
        long position;

        CountingInput(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                position++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                position += n;
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long s = super.skip(n);
            position += s;
            return s;
        }
    }
}
