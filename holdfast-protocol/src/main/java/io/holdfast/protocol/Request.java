package io.holdfast.protocol;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.common.WireCode;
import io.holdfast.common.WireCodes;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * A request to a volume. {@link Mutation}s become Raft log entries and are applied in the
 * same order on every member of the volume's replica group; {@link Query}s are answered by
 * one member from its applied state.
 *
 * <p>Paths are volume paths as checked by {@link PathNames#split}. Outcomes such as
 * {@link Errno#EEXIST} are decided when the entry is applied, never when it is proposed.
 */
public sealed interface Request {

    /** A request that changes the volume. Each carries the caller's credentials. */
    sealed interface Mutation extends Request {
        /** Credentials for POSIX permission checks. */
        Caller caller();
    }

    /** A request that only reads. */
    sealed interface Query extends Request {}

    /** POSIX {@code mkdir(2)}. Reply: {@link Response.AttrReply}. */
    record Mkdir(Caller caller, String path, int mode) implements Mutation {}

    /**
     * POSIX {@code open(2)} with {@code O_CREAT} ({@code O_EXCL} when {@code exclusive}). An
     * existing file is returned as is when not exclusive. Reply: {@link Response.AttrReply}.
     *
     * @param inode 0 (the volume numbers the new inode), or the number the client chose for it, from
     *     the client range ({@link #CLIENT_INODE_BIT} set, chosen at random): a client that wrote the
     *     create back without waiting for the answer, having told its caller that number; only with
     *     {@code exclusive} (the client knew the name absent); the volume refuses it with
     *     {@link Errno#EEXIST} if the name or the number exists by then; log format 9
     * @param clientNanos 0, or the client's clock when it made the change (epoch nanoseconds), which
     *     the volume stamps (see {@link #changeTime}) as the new inode's times and the parent's
     *     modification and change time; only with {@code inode}
     * @throws IllegalArgumentException if {@code inode} is outside the client range, or given
     *     without {@code exclusive}, or {@code clientNanos} without {@code inode}
     */
    record Create(Caller caller, String path, int mode, boolean exclusive, long inode, long clientNanos)
            implements Mutation {
        /**
         * The bit set in every inode number a client chooses (and in none the volume allocates,
         * which counts up from 1): the two ranges never meet.
         */
        public static final long CLIENT_INODE_BIT = 1L << 62;

        public Create {
            if (inode != 0 && (!clientInode(inode) || !exclusive)) {
                throw new IllegalArgumentException(
                        "a client-chosen inode must be in the client range and exclusive: " + Long.toHexString(inode));
            }
            if (inode == 0 && clientNanos != 0) {
                throw new IllegalArgumentException("a client time needs a client-chosen inode");
            }
        }

        /** A create the volume numbers (log format 1). */
        public Create(Caller caller, String path, int mode, boolean exclusive) {
            this(caller, path, mode, exclusive, 0, 0);
        }

        /** Whether {@code inode} is in the client range: positive, with {@link #CLIENT_INODE_BIT} set. */
        public static boolean clientInode(long inode) {
            return inode > 0 && (inode & CLIENT_INODE_BIT) != 0;
        }

        /**
         * The time this request stamps on an inode (the new one, whose change time is taken as 0,
         * and the parent) whose change time was {@code oldCtime}, in an entry stamped
         * {@code entryNanos}: as {@link Unlink}.
         */
        public long changeTime(long oldCtime, long entryNanos) {
            return SetAttr.changeTime(clientNanos, oldCtime, entryNanos);
        }
    }

    /**
     * POSIX {@code pwrite(2)} to an inode. {@code crc32c} is the CRC32C of {@code data},
     * computed by the client and checked by the node before the entry is logged and again when
     * it is applied. Reply: {@link Response.AttrReply} with the new size.
     *
     * @param clientNanos 0, or the client's clock when the bytes were written (epoch nanoseconds):
     *     the file's new modification and change time, as {@link #changeTime} (within the volume's
     *     bounds, never going back), so that a client can predict the attributes the write leaves
     *     (write-back); log format 11
     */
    record Write(Caller caller, long inode, long offset, byte[] data, int crc32c, long clientNanos)
            implements Mutation {
        public Write {
            Objects.requireNonNull(data);
        }

        /** A write stamped at the entry's time (log format 1). */
        public Write(Caller caller, long inode, long offset, byte[] data, int crc32c) {
            this(caller, inode, offset, data, crc32c, 0);
        }

        /**
         * The data write whose bytes {@code m} carries: {@code m} itself if it is a write, the write
         * a batch ends with ({@link Batch#endingWrite}), else null. At most one per mutation (a
         * batch holds a write only last), so a log entry's data is one write's.
         */
        public static Write carriedBy(Mutation m) {
            return switch (m) {
                case Write w -> w;
                case Batch b -> b.endingWrite();
                default -> null;
            };
        }

        /**
         * The modification and change time this write gives a file whose change time was
         * {@code oldCtime}, in an entry stamped {@code entryNanos}: as {@link SetAttr#changeTime}.
         */
        public long changeTime(long oldCtime, long entryNanos) {
            return SetAttr.changeTime(clientNanos, oldCtime, entryNanos);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Write w
                    && w.caller.equals(caller)
                    && w.inode == inode
                    && w.offset == offset
                    && w.crc32c == crc32c
                    && w.clientNanos == clientNanos
                    && Arrays.equals(w.data, data);
        }

        @Override
        public int hashCode() {
            return Objects.hash(caller, inode, offset, crc32c, clientNanos, Arrays.hashCode(data));
        }

        @Override
        public String toString() {
            return "Write[inode=" + inode + ", offset=" + offset + ", length=" + data.length
                    + (clientNanos != 0 ? ", clientNanos=" + clientNanos : "") + "]";
        }
    }

    /** POSIX {@code ftruncate(2)} of an inode. Reply: {@link Response.AttrReply}. */
    record Truncate(Caller caller, long inode, long size) implements Mutation {}

    /**
     * POSIX {@code unlink(2)}. When {@code keepOrphan} is set and this removes the last link,
     * the inode and its data stay readable by inode number until {@link DropOrphan} (the
     * client still has it open, like NFS's silly rename). Reply: {@link Response.AttrReply}
     * of the unlinked inode after the change.
     *
     * @param expectInode 0, or the inode {@code path} must name when the entry is applied: otherwise
     *     the request fails with {@link Errno#ESTALE} and changes nothing (a client that wrote the
     *     unlink back without waiting for the answer, having resolved the path from its cache, so
     *     another client's rename or create in between never makes it remove another file); log
     *     format 6
     * @param clientNanos 0, or the client's clock when it made the change (epoch nanoseconds), so
     *     it can tell the parent directory's new times before the answer comes (see
     *     {@link #changeTime}); only with {@code expectInode}
     * @throws IllegalArgumentException if {@code clientNanos} is given without {@code expectInode}
     */
    record Unlink(Caller caller, String path, boolean keepOrphan, long expectInode, long clientNanos)
            implements Mutation {
        public Unlink {
            if (expectInode == 0 && clientNanos != 0) {
                throw new IllegalArgumentException("a client time needs an expected inode");
            }
        }

        /** A request for whatever {@code path} names when it is applied (log format 1). */
        public Unlink(Caller caller, String path, boolean keepOrphan) {
            this(caller, path, keepOrphan, 0, 0);
        }

        /**
         * The time this request stamps on an inode (the parent directory's modification and change
         * time, the unlinked inode's change time) whose change time was {@code oldCtime}, in an entry
         * stamped {@code entryNanos}: as {@link SetAttr#changeTime}.
         */
        public long changeTime(long oldCtime, long entryNanos) {
            return SetAttr.changeTime(clientNanos, oldCtime, entryNanos);
        }
    }

    /**
     * POSIX {@code rmdir(2)}. Reply: {@link Response.Ok}.
     *
     * @param expectInode 0, or the inode {@code path} must name when the entry is applied: otherwise
     *     the request fails with {@link Errno#ESTALE} and changes nothing (written back, as
     *     {@link Unlink}); log format 6
     * @param clientNanos 0, or the client's clock when it made the change (epoch nanoseconds): the
     *     parent directory's new times, as {@link Unlink#changeTime}; only with {@code expectInode}
     * @throws IllegalArgumentException if {@code clientNanos} is given without {@code expectInode}
     */
    record Rmdir(Caller caller, String path, long expectInode, long clientNanos) implements Mutation {
        public Rmdir {
            if (expectInode == 0 && clientNanos != 0) {
                throw new IllegalArgumentException("a client time needs an expected inode");
            }
        }

        /** A request for whatever {@code path} names when it is applied (log format 1). */
        public Rmdir(Caller caller, String path) {
            this(caller, path, 0, 0);
        }

        /** The time this request stamps on the parent whose change time was {@code oldCtime}: as {@link Unlink}. */
        public long changeTime(long oldCtime, long entryNanos) {
            return SetAttr.changeTime(clientNanos, oldCtime, entryNanos);
        }
    }

    /**
     * POSIX {@code rename(2)}; with {@link #NOREPLACE} fails with {@link Errno#EEXIST} if the
     * target exists (Linux {@code renameat2} {@code RENAME_NOREPLACE}). Reply:
     * {@link Response.AttrReply} with the moved inode's attributes after the rename (its change
     * time is the entry's timestamp, which both parents' modification and change times become), or
     * {@link Response.Ok} when the rename does nothing (both names are the same inode).
     *
     * @param expectInode 0, or the inode {@code from} must name when the entry is applied: otherwise
     *     the request fails with {@link Errno#ESTALE} and changes nothing (a client that wrote the
     *     rename back without waiting for the answer, having resolved the source from its cache, so
     *     another client's rename or create in between never makes it move another file); log
     *     format 8
     * @param clientNanos 0, or the client's clock when it made the change (epoch nanoseconds), which
     *     the volume stamps (see {@link #changeTime}) as the moved inode's change time and both
     *     parents' modification and change time, so the client can tell them before the answer
     *     comes; only with {@code expectInode}
     * @throws IllegalArgumentException if {@code clientNanos} is given without {@code expectInode}
     */
    record Rename(Caller caller, String from, String to, int flags, long expectInode, long clientNanos)
            implements Mutation {
        /** Fail instead of replacing an existing target. */
        public static final int NOREPLACE = 1;

        public Rename {
            if (expectInode == 0 && clientNanos != 0) {
                throw new IllegalArgumentException("a client time needs an expected inode");
            }
        }

        /** A rename of whatever {@code from} names when it is applied (log format 1). */
        public Rename(Caller caller, String from, String to, int flags) {
            this(caller, from, to, flags, 0, 0);
        }

        /**
         * The time this request stamps on an inode (the moved inode, either parent) whose change
         * time was {@code oldCtime}, in an entry stamped {@code entryNanos}: as {@link Unlink}.
         */
        public long changeTime(long oldCtime, long entryNanos) {
            return SetAttr.changeTime(clientNanos, oldCtime, entryNanos);
        }
    }

    /** POSIX {@code symlink(2)}: creates {@code path} pointing to {@code target}. */
    record Symlink(Caller caller, String path, String target) implements Mutation {}

    /**
     * POSIX {@code mknod(2)}: creates a special file, as {@code mkfifo(3)}, {@code mknod(1)} and
     * {@code bind(2)} of a UNIX-domain socket do. The volume stores its type, mode and device
     * number like any inode; the data of a FIFO, device or socket never goes through the volume.
     * Reply: {@link Response.AttrReply}.
     *
     * @param mode full {@code st_mode}: type bits ({@code S_IFIFO}, {@code S_IFCHR},
     *     {@code S_IFBLK}, {@code S_IFSOCK}; {@code S_IFREG} or none makes an empty regular file) and
     *     permission bits, used as given (the client applies its umask, as for {@link Create})
     * @param rdev the device number of a character or block device in the Linux {@code dev_t}
     *     encoding; ignored (stored as 0) for other types
     */
    record Mknod(Caller caller, String path, int mode, long rdev) implements Mutation {}

    /** POSIX {@code link(2)}: a new name for an existing file. Reply: {@link Response.AttrReply}. */
    record Link(Caller caller, String existing, String path) implements Mutation {}

    /**
     * POSIX {@code chmod(2)}, {@code chown(2)} and {@code utimensat(2)} in one request; only the
     * fields named in {@code mask} change. Reply: {@link Response.AttrReply}.
     *
     * @param expectInode 0, or the inode {@code path} must name when the entry is applied: otherwise
     *     the request fails with {@link Errno#ESTALE} and changes nothing (a client that sent it
     *     without waiting for the answer, having resolved the path from its cache, so a rename by
     *     another client in between never makes it change another file); log format 3
     * @param clientNanos 0, or the client's clock when it made the change (epoch nanoseconds), so
     *     it can tell the new attributes before the answer comes: the change time (and
     *     {@link #ATIME_NOW}/{@link #MTIME_NOW}) become {@code max(old change time, clientNanos)} if
     *     it lies within {@link #MAX_CLIENT_LAG_NANOS} before and {@link #MAX_CLIENT_LEAD_NANOS}
     *     after the entry's timestamp, else the entry's timestamp as usual; only with
     *     {@code expectInode}
     */
    record SetAttr(
            Caller caller,
            String path,
            int mask,
            int mode,
            int uid,
            int gid,
            long atimeNanos,
            long mtimeNanos,
            long expectInode,
            long clientNanos)
            implements Mutation {
        /** How far a client's clock may lag the entry's timestamp: 10 s (queueing, clock skew). */
        public static final long MAX_CLIENT_LAG_NANOS = 10_000_000_000L;
        /** How far a client's clock may lead the entry's timestamp: 1 s (clock skew). */
        public static final long MAX_CLIENT_LEAD_NANOS = 1_000_000_000L;

        public SetAttr {
            if (expectInode == 0 && clientNanos != 0) {
                throw new IllegalArgumentException("a client time needs an expected inode");
            }
        }

        /** A request for whatever inode {@code path} names when it is applied. */
        public SetAttr(
                Caller caller, String path, int mask, int mode, int uid, int gid, long atimeNanos, long mtimeNanos) {
            this(caller, path, mask, mode, uid, gid, atimeNanos, mtimeNanos, 0, 0);
        }

        /**
         * The change time this request gives an inode whose change time was {@code oldCtime}, in an
         * entry stamped {@code entryNanos}.
         */
        public long changeTime(long oldCtime, long entryNanos) {
            return changeTime(clientNanos, oldCtime, entryNanos);
        }

        /**
         * The change time a written-back mutation made at {@code clientNanos} (0: none) gives an
         * inode whose change time was {@code oldCtime}, in an entry stamped {@code entryNanos}:
         * {@code max(oldCtime, clientNanos)} if the client's time lies within
         * {@link #MAX_CLIENT_LAG_NANOS} before and {@link #MAX_CLIENT_LEAD_NANOS} after the entry's
         * timestamp, else the entry's timestamp.
         */
        public static long changeTime(long clientNanos, long oldCtime, long entryNanos) {
            if (clientNanos == 0
                    || clientNanos < entryNanos - MAX_CLIENT_LAG_NANOS
                    || clientNanos > entryNanos + MAX_CLIENT_LEAD_NANOS) {
                return entryNanos;
            }
            return Math.max(oldCtime, clientNanos);
        }

        public static final int MODE = 1;
        public static final int UID = 2;
        public static final int GID = 4;
        public static final int ATIME = 8;
        public static final int MTIME = 16;
        /** Set atime to the entry's timestamp (UTIME_NOW). */
        public static final int ATIME_NOW = 32;
        /** Set mtime to the entry's timestamp (UTIME_NOW). */
        public static final int MTIME_NOW = 64;
    }

    /** Linux {@code setxattr(2)}; flags {@link #CREATE} or {@link #REPLACE}. */
    record SetXattr(Caller caller, String path, String name, byte[] value, int flags) implements Mutation {
        public static final int CREATE = 1;
        public static final int REPLACE = 2;

        @Override
        public boolean equals(Object o) {
            return o instanceof SetXattr s
                    && s.caller.equals(caller)
                    && s.path.equals(path)
                    && s.name.equals(name)
                    && s.flags == flags
                    && Arrays.equals(s.value, value);
        }

        @Override
        public int hashCode() {
            return Objects.hash(caller, path, name, flags, Arrays.hashCode(value));
        }
    }

    /** Linux {@code removexattr(2)}. */
    record RemoveXattr(Caller caller, String path, String name) implements Mutation {}

    /**
     * Several mutations of one client in one log entry (group commit): applied in order, each as
     * if it were an entry of its own with this entry's timestamp, each with its own outcome; one that
     * fails changes nothing and the rest are still applied. Every member applies the whole batch in
     * one storage write, so a crash never leaves part of it applied. Reply: {@link Response.Batch}
     * with one response per mutation, in order. Log format 3; a batch that ends with a data write is
     * log format 11 ({@link LogFormat#WRITES_IN_BATCHES}).
     *
     * <p>A batch may end with one small data write ({@link #mayEnd}): a file's written-back create
     * and its first bytes then travel in one log entry, which is what a mail delivery's
     * {@code fsync(2)} waits for. Only the last mutation may be a write, so that the entry's data
     * file operations are those of its one write (see the storage's redo records).
     *
     * @param mutations 1 to {@link #MAX_MUTATIONS} mutations of the kinds {@link #batchable} allows
     *     (namespace and attribute changes), the last one of the kinds {@link #mayEnd} allows
     *     (also a {@link Write} of at most {@link #MAX_WRITE_BYTES}); larger writes, fallocate,
     *     scrub marks and batches travel alone
     * @throws IllegalArgumentException if {@code mutations} is empty, too long or holds a kind a
     *     batch may not hold where it is
     */
    record Batch(List<Mutation> mutations) implements Mutation {
        /** Most mutations in one batch: 256. */
        public static final int MAX_MUTATIONS = 256;
        /** Most bytes of the data write a batch may end with: 64 KiB. */
        public static final int MAX_WRITE_BYTES = 64 * 1024;

        public Batch {
            mutations = List.copyOf(mutations);
            if (mutations.isEmpty() || mutations.size() > MAX_MUTATIONS) {
                throw new IllegalArgumentException(
                        "a batch holds 1 to " + MAX_MUTATIONS + " mutations, not " + mutations.size());
            }
            for (int i = 0; i < mutations.size(); i++) {
                Mutation m = mutations.get(i);
                if (i == mutations.size() - 1 ? !mayEnd(m) : !batchable(m)) {
                    throw new IllegalArgumentException("a batch may not hold "
                            + m.getClass().getSimpleName() + (m instanceof Write ? " here" : ""));
                }
            }
        }

        /** The data write this batch ends with, or null. */
        public Write endingWrite() {
            return mutations.getLast() instanceof Write w ? w : null;
        }

        /** The first mutation's caller (each mutation is checked with its own). */
        @Override
        public Caller caller() {
            return mutations.getFirst().caller();
        }

        /**
         * Whether a batch may hold {@code m}: a namespace or attribute change ({@link Mkdir},
         * {@link Create}, {@link Symlink}, {@link Mknod}, {@link Link}, {@link Unlink}, {@link Rmdir},
         * {@link Rename}, {@link SetAttr}, {@link SetXattr}, {@link RemoveXattr}, {@link Truncate},
         * {@link DropOrphan}).
         */
        public static boolean batchable(Mutation m) {
            return switch (m) {
                case Mkdir x -> true;
                case Create x -> true;
                case Symlink x -> true;
                case Mknod x -> true;
                case Link x -> true;
                case Unlink x -> true;
                case Rmdir x -> true;
                case Rename x -> true;
                case SetAttr x -> true;
                case SetXattr x -> true;
                case RemoveXattr x -> true;
                case Truncate x -> true;
                case DropOrphan x -> true;
                case Write x -> false;
                case Fallocate x -> false;
                case ScrubMark x -> false;
                case Batch x -> false;
            };
        }

        /**
         * Whether a batch may end with {@code m}: a mutation it may hold anywhere ({@link #batchable}),
         * or a {@link Write} of at most {@link #MAX_WRITE_BYTES}.
         */
        public static boolean mayEnd(Mutation m) {
            return batchable(m) || m instanceof Write w && w.data().length <= MAX_WRITE_BYTES;
        }
    }

    /** Frees an orphan inode kept by {@link Unlink#keepOrphan()}. Reply: {@link Response.Ok}. */
    record DropOrphan(Caller caller, long inode) implements Mutation {}

    /**
     * A scrub mark: a point in the log at which every member takes a consistent view of its
     * metadata and digests it, so that members can be compared at exactly the same applied index
     * although they rarely sit at one. Changes no file-system state. Only nodes and the admin may
     * propose it. Reply: {@link Response.Ok}.
     */
    record ScrubMark(Caller caller) implements Mutation {}

    /**
     * Linux {@code fallocate(2)} on an inode, as the man page defines the modes: 0 allocates
     * {@code [offset, offset + length)} and makes the size at least {@code offset + length};
     * {@link #KEEP_SIZE} allocates without changing the size; {@link #PUNCH_HOLE} (only with
     * {@link #KEEP_SIZE}) makes the range read as zeros, keeps the size and releases the storage of
     * the content blocks the range covers fully; {@link #ZERO_RANGE} makes the range read as zeros
     * and, without {@link #KEEP_SIZE}, makes the size at least {@code offset + length}.
     *
     * <p>Holdfast does not preallocate: allocation only changes the size (the new range is a hole,
     * as an unwritten extent is on Linux). Like {@link Write}, the right to write is checked when
     * the file is opened, and a caller other than root clears set-user-ID (and set-group-ID when
     * group-executable). Reply: {@link Response.AttrReply} with the new attributes; errors
     * {@link Errno#EINVAL} for {@code offset < 0} or {@code length <= 0}, {@link Errno#ENOTSUP}
     * (Linux EOPNOTSUPP) for another mode, {@link Errno#EFBIG} if {@code offset + length} passes
     * {@link Limits#MAX_FILE_SIZE}, {@link Errno#ENOSPC} below the disk reserve (allocation modes).
     *
     * @param mode a combination of the {@code FALLOC_FL_*} values below (Linux values)
     * @param offset first byte of the range
     * @param length bytes in the range, at least 1
     */
    record Fallocate(Caller caller, long inode, int mode, long offset, long length) implements Mutation {
        /** {@code FALLOC_FL_KEEP_SIZE}: the size does not change. */
        public static final int KEEP_SIZE = 0x01;
        /** {@code FALLOC_FL_PUNCH_HOLE}: deallocate the range; must be combined with {@link #KEEP_SIZE}. */
        public static final int PUNCH_HOLE = 0x02;
        /** {@code FALLOC_FL_ZERO_RANGE}: make the range read as zeros. */
        public static final int ZERO_RANGE = 0x10;

        /**
         * Whether {@code mode} is one Holdfast supports: 0, {@link #KEEP_SIZE},
         * {@code PUNCH_HOLE | KEEP_SIZE}, {@link #ZERO_RANGE} or {@code ZERO_RANGE | KEEP_SIZE}.
         */
        public static boolean supported(int mode) {
            return mode == 0
                    || mode == KEEP_SIZE
                    || mode == (PUNCH_HOLE | KEEP_SIZE)
                    || mode == ZERO_RANGE
                    || mode == (ZERO_RANGE | KEEP_SIZE);
        }
    }

    /** POSIX {@code stat(2)} or {@code lstat(2)}. Reply: {@link Response.AttrReply}. */
    record GetAttr(String path, boolean followSymlinks) implements Query {}

    /** Attributes by inode number (an open file). Reply: {@link Response.AttrReply}. */
    record GetAttrByInode(long inode) implements Query {}

    /**
     * One page of a directory listing, in name order, starting after {@code after} (empty for
     * the first page). Reply: {@link Response.DirPage}.
     */
    record ReadDir(String path, String after, int maxEntries) implements Query {}

    /**
     * A {@link ReadDir} page with each entry's attributes, as {@code lstat(2)} of the entry would
     * answer at the same applied index (NFSv3 READDIRPLUS, RFC 1813 section 3.3.17; FUSE's
     * {@code READDIRPLUS}): a listing followed by a {@code stat} of every name costs one query,
     * not one per name. Members answer it from log format {@link LogFormat#LISTINGS_WITH_ATTRIBUTES}.
     * Reply: {@link Response.DirPlusPage}.
     */
    record ReadDirPlus(String path, String after, int maxEntries) implements Query {}

    /** POSIX {@code pread(2)} from an inode. Reply: {@link Response.Data}. */
    record Read(long inode, long offset, int length) implements Query {}

    /**
     * Linux {@code lseek(2)} with {@code SEEK_DATA} ({@code hole} false) or {@code SEEK_HOLE}
     * ({@code hole} true) on an inode. Holes are found at the brick's content-block granularity
     * (64 KiB blocks of a file kept in a data file: a block never written, or punched whole, is a
     * hole; a file kept inline has none), and the end of the file counts as a hole, as on Linux.
     * Reply: {@link Response.Offset}, the first data (or hole) byte at or after {@code offset};
     * {@link Errno#ENXIO} if {@code offset} is negative or not before the size, or for
     * {@code SEEK_DATA} when no data follows {@code offset}.
     */
    record SeekData(long inode, long offset, boolean hole) implements Query {}

    /**
     * Renews a client session's read lease, the permission to answer queries from its own cache
     * (see {@code LeaseTable} in the server). Sent through the linearizable read path to the
     * volume's leader, which thereby confirms its leadership: the lease lasts
     * {@link Response.Lease#grantedMillis()} from the moment the client <em>sent</em> this request.
     * A member that is not the leader answers {@link Errno#EAGAIN}. Reply: {@link Response.Lease}.
     *
     * @param session the client session: the UUID of the Raft client that sends its mutations
     */
    record LeaseRenew(UUID session) implements Query {}

    /**
     * Acknowledges the invalidations a client session has applied ({@code ackedSeq}, counted in the
     * lease table {@code epoch}; an acknowledgement for another epoch counts for nothing) and waits up
     * to {@code waitMillis} (at most {@link #MAX_WAIT_MILLIS}) for a newer one. Sent to the leader as
     * a stale read, so it is answered at once even while the leader holds a mutation's reply for
     * this acknowledgement. Reply: {@link Response.Lease} ({@code grantedMillis} 0: it renews
     * nothing); a {@code seq} greater than {@code ackedSeq}, or an {@code epoch} other than the
     * session's last one, tells the client to drop its cache.
     */
    record LeasePoll(UUID session, long epoch, long ackedSeq, int waitMillis) implements Query {
        /** The longest a poll waits for an invalidation, milliseconds. */
        public static final int MAX_WAIT_MILLIS = 5_000;

        public LeasePoll {
            if (waitMillis < 0 || waitMillis > MAX_WAIT_MILLIS) {
                throw new IllegalArgumentException(
                        "lease poll wait " + waitMillis + " ms outside 0.." + MAX_WAIT_MILLIS);
            }
        }
    }

    /**
     * Reads the volume's change feed (DESIGN.md section 5): the {@link ChangeRecord}s of the entries
     * after log index {@code afterIndex}, oldest first, from the member's changelog. Records at or
     * below a member's applied index never change, so any member may answer (a follower's answer
     * is as correct as the leader's, only perhaps shorter). The member keeps its changelog for a
     * bounded size and age; a reader that asks for history already trimmed gets a page whose
     * {@link Response.ChangePage#trimmedThrough()} is above {@code afterIndex} and no records: it
     * must resynchronise (compare the whole tree) and continue from the page's applied index.
     * Reply: {@link Response.ChangePage}.
     *
     * @param afterIndex the last index the reader has seen (0 for the beginning)
     * @param maxRecords most records to return, 1 to {@link #MAX_RECORDS} (the page is also cut at
     *     about {@link #MAX_PAGE_BYTES})
     * @param waitMillis if no record is newer than {@code afterIndex}, how long the member may
     *     hold the request for one to be applied, 0 to {@link #MAX_WAIT_MILLIS} milliseconds
     */
    record Changes(long afterIndex, int maxRecords, int waitMillis) implements Query {
        /** Most records in one page. */
        public static final int MAX_RECORDS = 1024;
        /** A page's encoded records stop growing past this many bytes (a single record may exceed it). */
        public static final int MAX_PAGE_BYTES = 1 << 20;
        /** The longest a member holds a request for a new record, milliseconds. */
        public static final int MAX_WAIT_MILLIS = 5_000;

        public Changes {
            if (afterIndex < 0) {
                throw new IllegalArgumentException("changes after index " + afterIndex);
            }
            if (maxRecords < 1 || maxRecords > MAX_RECORDS) {
                throw new IllegalArgumentException(
                        "change page of " + maxRecords + " records, outside 1.." + MAX_RECORDS);
            }
            if (waitMillis < 0 || waitMillis > MAX_WAIT_MILLIS) {
                throw new IllegalArgumentException("change wait " + waitMillis + " ms outside 0.." + MAX_WAIT_MILLIS);
            }
        }
    }

    /** POSIX {@code readlink(2)}. Reply: {@link Response.Text}. */
    record ReadLink(String path) implements Query {}

    /** Linux {@code getxattr(2)}. Reply: {@link Response.Data}. */
    record GetXattr(String path, String name) implements Query {}

    /** Linux {@code listxattr(2)}. Reply: {@link Response.Names}. */
    record ListXattr(String path) implements Query {}

    /** POSIX {@code statvfs(3)}. Reply: {@link Response.FsStats}. */
    record StatFs() implements Query {}

    /** The member's state digest and applied index. Reply: {@link Response.Digest}. */
    record GetDigest() implements Query {}

    /**
     * Scrub (nodes and the admin only): the logical bytes of one content block of a file on the
     * member asked, answered only if they pass that member's own CRC32C. Reply:
     * {@link Response.Data}, or {@link Errno#EIO} if that member's copy is bad too.
     *
     * @param inode the file
     * @param block the 64 KiB block of a file kept in a data file, or {@link #INLINE} for the
     *     content of a file kept inline
     */
    record ScrubRead(long inode, long block) implements Query {
        /** The {@code block} that names a file's inline content. */
        public static final long INLINE = -1;
    }

    /**
     * Scrub (nodes and the admin only): the member's digest of its state at a
     * {@link ScrubMark}. Reply: {@link Response.Digest} whose index is the mark;
     * {@link Errno#EAGAIN} while it is being computed; {@link Errno#ENOENT} if the member holds
     * none for that mark (it did not apply the mark itself, or the digest was discarded).
     */
    record MarkDigest(long mark) implements Query {}

    /**
     * Scrub (nodes and the admin only): one page of the member's per-directory digests at a
     * {@link ScrubMark}, in directory inode order, starting after directory {@code after} (-1
     * for the first page). Reply: {@link Response.DirDigests}; errors as {@link MarkDigest}.
     *
     * @param maxEntries most entries wanted; the member sends at most
     *     {@link Limits#MAX_DIGEST_PAGE_ENTRIES}
     */
    record MarkDirectories(long mark, long after, int maxEntries) implements Query {}

    /**
     * Scrub (nodes and the admin only): a chunk of the member's latest snapshot file, from which a
     * quarantined member rebuilds its brick. Reply: {@link Response.SnapshotChunk};
     * {@link Errno#ENOENT} if the member has no snapshot, or {@code index} is no longer its
     * latest; {@link Errno#EIO} if the member is quarantined itself.
     *
     * @param index the snapshot's log index, or 0 for the latest
     * @param offset byte offset in the snapshot file
     * @param length most bytes wanted, 1 to {@link Limits#MAX_DATA_BYTES}
     */
    record SnapshotRead(long index, long offset, int length) implements Query {}

    /**
     * Scrub control of the member asked (admin and nodes only): scrub state is per member, so a
     * tool sends this to each member of the volume. Reply: {@link Response.ScrubStatus} after the
     * action.
     *
     * @param action what to do
     * @param rateBytesPerSecond with {@link Action#START}, the new pace in bytes per second; 0
     *     keeps the current one
     */
    record ScrubControl(Action action, long rateBytesPerSecond) implements Query {
        /** Scrub actions. Wire codes are stable: never renumber. */
        public enum Action implements WireCode {
            /** Report only. */
            STATUS(0),
            /** Start a pass now (or resume a paused one); a running pass goes on. */
            START(1),
            /** Pause: no scrub I/O (and no automatic passes) until started again. */
            PAUSE(2);

            private static final WireCodes<Action> CODES = WireCodes.of(Action.class, "scrub action");

            private final int code;

            Action(int code) {
                this.code = code;
            }

            /** The wire code. */
            @Override
            public int code() {
                return code;
            }

            /**
             * The action with a wire code.
             *
             * @throws IllegalArgumentException for an unknown code
             */
            public static Action fromCode(int code) {
                return CODES.fromCode(code);
            }
        }

        /**
         * Checks the fields.
         *
         * @throws NullPointerException if the action is null
         */
        public ScrubControl {
            Objects.requireNonNull(action, "action");
        }
    }

    /**
     * A bulk query whose reply the client wants zstd-compressed (RFC 8878), for a client that reads
     * over a slow link (a geo-replication worker over a WAN). Sent only to a node whose handshake
     * offered {@code compression=zstd} ({@link ClusterCommand.Hello}); an older node refuses the
     * unknown kind with {@link Errno#EBADMSG} and the client sends the query
     * plain. Reply: {@link Response.Compressed} holding the encoded reply to {@code query}, or that
     * reply as it is when compressing would not make it smaller, or when it is over
     * {@code maxBytes} (see {@link Compression}).
     *
     * @param query a {@link Read}, {@link ReadDir} or {@link Changes} (see {@link #compressible})
     * @param maxBytes the largest encoded reply, in bytes, the client accepts compressed (it
     *     refuses a reply that declares more before decompressing anything), 1 to
     *     {@link Limits#MAX_FRAME_BYTES}
     * @throws IllegalArgumentException if {@code query} is not compressible or {@code maxBytes} is
     *     outside its range
     */
    record Compressed(Query query, int maxBytes) implements Query {
        public Compressed {
            Objects.requireNonNull(query, "query");
            if (!compressible(query)) {
                throw new IllegalArgumentException(
                        "a compressed query may not hold " + query.getClass().getSimpleName());
            }
            if (maxBytes < 1 || maxBytes > Limits.MAX_FRAME_BYTES) {
                throw new IllegalArgumentException(
                        "compressed reply limit " + maxBytes + " outside 1.." + Limits.MAX_FRAME_BYTES);
            }
        }

        /** Whether {@code q} is a bulk query whose reply may travel compressed: a read, a listing, a change page. */
        public static boolean compressible(Query q) {
            return q instanceof Read || q instanceof ReadDir || q instanceof ReadDirPlus || q instanceof Changes;
        }
    }
}
