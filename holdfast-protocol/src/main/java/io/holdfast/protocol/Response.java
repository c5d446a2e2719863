package io.holdfast.protocol;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;

/** The answer to a {@link Request}. */
public sealed interface Response {

    /** Success without a payload. */
    record Ok() implements Response {}

    /** Failure with a POSIX error number and a message naming what failed. */
    record Error(Errno errno, String message) implements Response {
        public Error {
            if (errno == Errno.OK) {
                throw new IllegalArgumentException("an error cannot carry OK");
            }
        }

        /** This error as an exception. */
        public HoldfastException toException() {
            return new HoldfastException(errno, message);
        }
    }

    /** Attributes of the inode the request named or made. */
    record AttrReply(Attr attr) implements Response {}

    /** A page of directory entries; {@code more} when further pages follow. */
    record DirPage(List<DirEntry> entries, boolean more) implements Response {
        public DirPage {
            entries = List.copyOf(entries);
        }
    }

    /**
     * A page of directory entries with their attributes (the reply to {@link Request.ReadDirPlus}):
     * {@code attrs.get(i)} is what {@code lstat(2)} of {@code entries.get(i)} answered at the same
     * applied index; {@code more} when further pages follow.
     *
     * @throws IllegalArgumentException if the lists differ in length, or an entry's inode number or
     *     type is not its attributes'
     */
    record DirPlusPage(List<DirEntry> entries, List<Attr> attrs, boolean more) implements Response {
        public DirPlusPage {
            entries = List.copyOf(entries);
            attrs = List.copyOf(attrs);
            if (entries.size() != attrs.size()) {
                throw new IllegalArgumentException(
                        entries.size() + " directory entries but " + attrs.size() + " attributes");
            }
            for (int i = 0; i < entries.size(); i++) {
                DirEntry e = entries.get(i);
                Attr a = attrs.get(i);
                if (e.inode() != a.inode() || e.type() != a.type()) {
                    throw new IllegalArgumentException("entry " + e.name() + " (" + e.inode() + ", " + e.type()
                            + ") does not match its attributes (" + a.inode() + ", " + a.type() + ")");
                }
            }
        }

        /** The same page without the attributes. */
        public DirPage withoutAttributes() {
            return new DirPage(entries, more);
        }
    }

    /** Bytes with their CRC32C, checked by the receiver. */
    record Data(byte[] bytes, int crc32c) implements Response {
        @Override
        public boolean equals(Object o) {
            return o instanceof Data d && d.crc32c == crc32c && Arrays.equals(d.bytes, bytes);
        }

        @Override
        public int hashCode() {
            return Objects.hash(crc32c, Arrays.hashCode(bytes));
        }

        @Override
        public String toString() {
            return "Data[length=" + bytes.length + "]";
        }
    }

    /**
     * The answers to a {@link Request.Batch}: one per mutation, in order.
     *
     * @param responses 1 to {@link Request.Batch#MAX_MUTATIONS} responses, none a batch
     */
    record Batch(List<Response> responses) implements Response {
        public Batch {
            responses = List.copyOf(responses);
            if (responses.isEmpty() || responses.size() > Request.Batch.MAX_MUTATIONS) {
                throw new IllegalArgumentException("a batch reply holds 1 to " + Request.Batch.MAX_MUTATIONS
                        + " responses, not " + responses.size());
            }
            for (Response r : responses) {
                if (r instanceof Batch) {
                    throw new IllegalArgumentException("a batch reply may not hold a batch reply");
                }
            }
        }
    }

    /** A file offset in bytes, e.g. the answer to {@link Request.SeekData}. */
    record Offset(long offset) implements Response {}

    /**
     * A client session's lease state, the answer to {@link Request.LeaseRenew} and
     * {@link Request.LeasePoll}.
     *
     * @param epoch identifies the leader's lease table (a new leader, or a restarted one, has a new
     *     epoch): a client whose session's epoch changed must drop its cache
     * @param seq the session's invalidation sequence number: the client drops its cache when it
     *     grows, and acknowledges it in its next poll
     * @param grantedMillis how long the lease lasts from the moment the client sent the request,
     *     milliseconds; 0 if this answer renews nothing
     */
    record Lease(long epoch, long seq, long grantedMillis) implements Response {}

    /**
     * A page of the change feed, the answer to {@link Request.Changes}.
     *
     * @param appliedIndex the answering member's applied index when it read the page: every change
     *     up to it is in this page or an earlier one, so a reader with {@code more} false continues
     *     after it
     * @param trimmedThrough the highest log index whose record the member no longer keeps (0 if it
     *     keeps all): a reader whose position is below it has missed changes and must resynchronise
     * @param records the records after the requested index, oldest first, none above
     *     {@code appliedIndex}; empty if none, or if the history asked for was trimmed
     * @param more whether records after the last one returned are already kept (ask again at once)
     */
    record ChangePage(long appliedIndex, long trimmedThrough, List<ChangeRecord> records, boolean more)
            implements Response {
        public ChangePage {
            records = List.copyOf(records);
            if (records.size() > Request.Changes.MAX_RECORDS) {
                throw new IllegalArgumentException("change page of " + records.size() + " records");
            }
        }

        /**
         * Where a reader that had seen everything through {@code afterIndex} continues: after the last
         * record when there are more, else after the applied index.
         */
        public long next(long afterIndex) {
            if (more && !records.isEmpty()) {
                return records.getLast().index();
            }
            return Math.max(afterIndex, appliedIndex);
        }

        /** Whether a reader at {@code afterIndex} has missed trimmed history and must resynchronise. */
        public boolean resyncNeeded(long afterIndex) {
            return afterIndex < trimmedThrough;
        }
    }

    /** A string result, e.g. a symbolic link's target. */
    record Text(String text) implements Response {}

    /** A list of names, e.g. extended attribute names. */
    record Names(List<String> names) implements Response {
        public Names {
            names = List.copyOf(names);
        }
    }

    /**
     * Space and inode counts of a brick, as {@code statvfs(3)}.
     *
     * @param totalBytes size of the filesystem holding the brick
     * @param freeBytes bytes available
     * @param files inodes in use
     * @param readOnly the volume is exported read-only to the client that asked (statvfs's
     *     {@code ST_RDONLY}): its writes fail with {@link Errno#EROFS}
     */
    record FsStats(long totalBytes, long freeBytes, long files, boolean readOnly) implements Response {
        /** Statistics of a writable volume. */
        public FsStats(long totalBytes, long freeBytes, long files) {
            this(totalBytes, freeBytes, files, false);
        }

        /** These statistics marked read-only. */
        public FsStats asReadOnly() {
            return new FsStats(totalBytes, freeBytes, files, true);
        }
    }

    /**
     * A member's state digest.
     *
     * @param appliedIndex the Raft log index of the last applied entry
     * @param sha256 SHA-256 over the brick's logical state (32 bytes)
     */
    record Digest(long appliedIndex, byte[] sha256) implements Response {
        @Override
        public boolean equals(Object o) {
            return o instanceof Digest d && d.appliedIndex == appliedIndex && Arrays.equals(d.sha256, sha256);
        }

        @Override
        public int hashCode() {
            return Objects.hash(appliedIndex, Arrays.hashCode(sha256));
        }

        /** The digest in lower-case hex. */
        public String hex() {
            return HexFormat.of().formatHex(sha256);
        }

        @Override
        public String toString() {
            return "Digest[appliedIndex=" + appliedIndex + ", sha256=" + hex() + "]";
        }
    }

    /**
     * The digest of one directory at a scrub mark.
     *
     * @param directory the directory's inode; 0 stands for the volume-wide state (inode counters
     *     and orphans)
     * @param digest the first 64 bits of a SHA-256 over the directory, its entries and its
     *     non-directory children (attributes, extended attributes, symlink targets, content
     *     checksums)
     */
    record DirDigest(long directory, long digest) {}

    /**
     * A page of a member's per-directory digests at a scrub mark, in directory order.
     *
     * @param mark the mark's log index
     * @param entries at most {@link Limits#MAX_DIGEST_PAGE_ENTRIES}
     * @param more whether further pages follow
     */
    record DirDigests(long mark, List<DirDigest> entries, boolean more) implements Response {
        public DirDigests {
            entries = List.copyOf(entries);
        }
    }

    /**
     * A chunk of a member's snapshot file.
     *
     * @param index the snapshot's log index
     * @param totalBytes the file's length
     * @param bytes the chunk (at most {@link Limits#MAX_DATA_BYTES})
     * @param crc32c CRC32C of {@code bytes}, checked by the receiver
     */
    record SnapshotChunk(long index, long totalBytes, byte[] bytes, int crc32c) implements Response {
        public SnapshotChunk {
            Objects.requireNonNull(bytes, "bytes");
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof SnapshotChunk c
                    && c.index == index
                    && c.totalBytes == totalBytes
                    && c.crc32c == crc32c
                    && Arrays.equals(c.bytes, bytes);
        }

        @Override
        public int hashCode() {
            return Objects.hash(index, totalBytes, crc32c, Arrays.hashCode(bytes));
        }

        @Override
        public String toString() {
            return "SnapshotChunk[index=" + index + ", totalBytes=" + totalBytes + ", length=" + bytes.length + "]";
        }
    }

    /** A member's scrubber state and counters (the answer to a scrub control). */
    record ScrubStatus(ScrubStats stats) implements Response {
        public ScrubStatus {
            Objects.requireNonNull(stats, "stats");
        }
    }

    /**
     * The answer to a {@link Request.Compressed}: the encoded reply to its query (a whole frame)
     * as one zstd frame (RFC 8878) whose header states the content size. Decompressed by
     * {@link Compression#inflate}, which checks the declared size against the request's limit
     * before allocating anything.
     *
     * @param rawLength the encoded reply's length in bytes, 1 to {@link Limits#MAX_FRAME_BYTES}
     * @param zstd the zstd frame
     */
    record Compressed(int rawLength, byte[] zstd) implements Response {
        public Compressed {
            Objects.requireNonNull(zstd, "zstd");
            if (rawLength < 1 || rawLength > Limits.MAX_FRAME_BYTES) {
                throw new IllegalArgumentException(
                        "compressed reply of " + rawLength + " bytes outside 1.." + Limits.MAX_FRAME_BYTES);
            }
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Compressed c && c.rawLength == rawLength && Arrays.equals(c.zstd, zstd);
        }

        @Override
        public int hashCode() {
            return Objects.hash(rawLength, Arrays.hashCode(zstd));
        }

        @Override
        public String toString() {
            return "Compressed[rawLength=" + rawLength + ", length=" + zstd.length + "]";
        }
    }
}
