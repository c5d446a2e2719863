package io.holdfast.protocol;

import io.holdfast.common.WireCode;
import io.holdfast.common.WireCodes;
import java.util.Objects;

/**
 * One change a volume log entry made, by name: an element of the volume's change feed
 * (DESIGN.md section 5, "Change feed"; {@link Request.Changes}). A consumer that repeats the
 * changes in order, reading the named objects from the volume, keeps a copy in step with the
 * volume (geo-replication), or tells its users what changed ({@code holdfast watch}).
 *
 * <p>Paths are absolute volume paths as the mutation named them (POSIX: the name resolved in the
 * volume at that log index). Immutable and thread-safe.
 *
 * @param kind what the entry did
 * @param inode the inode the change concerns (created, linked, unlinked, renamed, changed,
 *     written); 0 where the volume does not record it (a removed directory)
 * @param path the name the change concerns: the name created, removed or changed; the new name
 *     of a {@link Kind#RENAME} and of a {@link Kind#LINK}; for a data change ({@link Kind#WRITE},
 *     {@link Kind#TRUNCATE}, {@link Kind#FALLOCATE}) the inode's most recent name at that index, or
 *     null if it has none the volume knows (an orphan kept open, or a name the volume cannot tell
 *     because the file was linked before the volume kept names of inodes)
 * @param from the old name of a {@link Kind#RENAME}, the existing name of a {@link Kind#LINK};
 *     null otherwise
 * @param offset the first byte of a {@link Kind#WRITE} or {@link Kind#FALLOCATE}; the new size
 *     after a {@link Kind#TRUNCATE}; 0 otherwise
 * @param length the bytes of a {@link Kind#WRITE} or {@link Kind#FALLOCATE}; 0 otherwise
 */
public record Change(Kind kind, long inode, String path, String from, long offset, long length) {
    /** What a change did. Codes are stable on the wire and in the brick's changelog: never renumber. */
    public enum Kind implements WireCode {
        /** POSIX mkdir(2). */
        MKDIR(1),
        /** A new regular file (open(2) with O_CREAT, or mknod(2) of a regular file). */
        CREATE(2),
        /** POSIX symlink(2). */
        SYMLINK(3),
        /** POSIX mknod(2) of a FIFO, device or socket. */
        MKNOD(4),
        /** POSIX link(2): {@code path} is the new name, {@code from} the existing one. */
        LINK(5),
        /** POSIX unlink(2). */
        UNLINK(6),
        /** POSIX rmdir(2). */
        RMDIR(7),
        /** POSIX rename(2): {@code from} moved to {@code path} (replacing what was there). */
        RENAME(8),
        /** Mode, owner, size or times changed (chmod, chown, truncate by name, utimensat). */
        SETATTR(9),
        /** An extended attribute set (setxattr(2)). */
        SETXATTR(10),
        /** An extended attribute removed (removexattr(2)). */
        REMOVEXATTR(11),
        /** Bytes written (pwrite(2)). */
        WRITE(12),
        /** The size set by ftruncate(2). */
        TRUNCATE(13),
        /** Linux fallocate(2): allocation, hole punching or zeroing. */
        FALLOCATE(14);

        private static final WireCodes<Kind> CODES = WireCodes.of(Kind.class, "change kind");

        private final int code;

        Kind(int code) {
            this.code = code;
        }

        @Override
        public int code() {
            return code;
        }

        /**
         * The kind with {@code code}.
         *
         * @throws IllegalArgumentException if there is none
         */
        public static Kind fromCode(int code) {
            return CODES.fromCode(code);
        }

        /** Whether this kind changes file content, named by inode ({@code path} is its latest name). */
        public boolean isData() {
            return this == WRITE || this == TRUNCATE || this == FALLOCATE;
        }
    }

    public Change {
        Objects.requireNonNull(kind, "kind");
        if ((kind == Kind.RENAME || kind == Kind.LINK) != (from != null)) {
            throw new IllegalArgumentException(
                    kind + " change " + (from == null ? "without" : "with") + " a from name");
        }
        if (path == null && !kind.isData()) {
            throw new IllegalArgumentException(kind + " change without a path");
        }
    }

    /** A change of name {@code path} with no data range. */
    public static Change of(Kind kind, long inode, String path) {
        return new Change(kind, inode, path, null, 0, 0);
    }
}
