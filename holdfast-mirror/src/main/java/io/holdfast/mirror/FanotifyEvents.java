package io.holdfast.mirror;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * Decodes what {@code read(2)} returns from a fanotify descriptor of a group that reports file ids
 * ({@code FAN_REPORT_FID}, {@code FAN_REPORT_DFID_NAME}): a sequence of events, each a
 * {@code struct fanotify_event_metadata} followed by information records (fanotify(7), "Reading
 * fanotify events"; {@code <linux/fanotify.h>}).
 *
 * <pre>
 * fanotify_event_metadata (24 bytes, native byte order)
 *   0  u32 event_len      bytes of this event, info records included
 *   4  u8  vers           FANOTIFY_METADATA_VERSION (3)
 *   5  u8  reserved
 *   6  u16 metadata_len   24
 *   8  u64 mask           FAN_* bits
 *  16  s32 fd             FAN_NOFD (-1) for a fid group
 *  20  s32 pid
 * fanotify_event_info_fid (info_type FID 1, DFID_NAME 2, DFID 3, OLD_DFID_NAME 10, NEW_DFID_NAME 12)
 *   0  u8  info_type, u8 pad, u16 len   len covers the whole record, padding included
 *   4  s32 fsid[2]                      statfs(2)'s f_fsid
 *  12  u32 handle_bytes, s32 handle_type, u8 f_handle[handle_bytes]   a struct file_handle
 *   .. for the *_NAME types: the entry name, NUL-terminated
 * </pre>
 *
 * <p>Limits: an event is at most {@link #MAX_EVENT_BYTES}, a handle at most {@link #MAX_HANDLE_BYTES}
 * (the kernel's {@code MAX_HANDLE_SZ}); other info types (pidfd, error) are skipped. Anything that
 * breaks the layout is an {@link IOException}: the kernel and this decoder disagree, and nothing
 * after it can be trusted. Stateless and thread-safe.
 */
final class FanotifyEvents {
    static final int METADATA_LEN = 24;
    static final int METADATA_VERSION = 3;
    static final int MAX_HANDLE_BYTES = 128;
    static final int MAX_EVENT_BYTES = 4096;

    static final int INFO_FID = 1;
    static final int INFO_DFID_NAME = 2;
    static final int INFO_DFID = 3;
    static final int INFO_OLD_DFID_NAME = 10;
    static final int INFO_NEW_DFID_NAME = 12;

    private FanotifyEvents() {}

    /**
     * A file handle as {@code name_to_handle_at(2)} makes it: opaque bytes and a type, usable as a
     * map key (equality by content).
     */
    record Handle(int type, byte[] bytes) {
        Handle {
            bytes = bytes.clone();
        }

        @Override
        public byte[] bytes() {
            return bytes.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Handle h && h.type == type && Arrays.equals(h.bytes, bytes);
        }

        @Override
        public int hashCode() {
            return 31 * type + Arrays.hashCode(bytes);
        }

        /**
         * The inode number this handle encodes, for the handle types whose layout starts with it;
         * 0 for any other. Types: 1 and 2 ({@code FILEID_INO32_GEN[_PARENT]}, ext2/3/4 and others:
         * a 32-bit inode number first), 0x81 and 0x82 ({@code FILEID_INO64_GEN[_PARENT]}, also XFS
         * with 64-bit inode numbers: a 64-bit one first), 0x4d to 0x4f (btrfs: the 64-bit object id,
         * which is its inode number).
         */
        long inode() {
            ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder());
            return switch (type) {
                case 1, 2 -> bytes.length >= 4 ? Integer.toUnsignedLong(b.getInt(0)) : 0;
                case 0x81, 0x82, 0x4d, 0x4e, 0x4f -> bytes.length >= 8 ? b.getLong(0) : 0;
                default -> 0;
            };
        }

        @Override
        public String toString() {
            return "Handle[type=" + type + ", " + HexFormat.of().formatHex(bytes) + "]";
        }
    }

    /**
     * One fid information record.
     *
     * @param type the info type ({@link #INFO_FID}, {@link #INFO_DFID_NAME}...)
     * @param fsid the file system id, the two words of {@code f_fsid} as one long (first word low)
     * @param handle the object's (FID) or directory's (DFID*) handle
     * @param name the entry name of a *_NAME record ("." for an event on the directory itself), null
     *     for the others
     */
    record Info(int type, long fsid, Handle handle, String name) {}

    /**
     * One event.
     *
     * @param mask the {@code FAN_*} bits
     * @param pid the process (or thread) that caused it
     * @param infos its fid records, in the order read
     */
    record Event(long mask, int pid, List<Info> infos) {
        Event {
            infos = List.copyOf(infos);
        }

        /** The first record of {@code type}, or null. */
        Info info(int type) {
            for (Info i : infos) {
                if (i.type() == type) {
                    return i;
                }
            }
            return null;
        }
    }

    /**
     * Decodes the events in {@code buf} from its position to its limit (all of them: a read returns
     * whole events), leaving the position at the limit.
     *
     * @throws IOException if the bytes are not whole events of this layout
     */
    static List<Event> decode(ByteBuffer buf) throws IOException {
        ByteBuffer b = buf.slice().order(ByteOrder.nativeOrder());
        List<Event> events = new ArrayList<>();
        int at = 0;
        while (at < b.limit()) {
            if (b.limit() - at < METADATA_LEN) {
                throw new IOException("fanotify read ends inside an event header: " + (b.limit() - at) + " bytes");
            }
            long eventLen = Integer.toUnsignedLong(b.getInt(at));
            int vers = Byte.toUnsignedInt(b.get(at + 4));
            int metadataLen = Short.toUnsignedInt(b.getShort(at + 6));
            if (vers != METADATA_VERSION) {
                throw new IOException(
                        "fanotify event metadata version " + vers + ", this decoder knows " + METADATA_VERSION);
            }
            if (eventLen < METADATA_LEN || eventLen > MAX_EVENT_BYTES || eventLen > b.limit() - at) {
                throw new IOException("fanotify event of " + eventLen + " bytes with " + (b.limit() - at) + " left");
            }
            if (metadataLen < METADATA_LEN || metadataLen > eventLen) {
                throw new IOException("fanotify event metadata of " + metadataLen + " bytes");
            }
            long mask = b.getLong(at + 8);
            int pid = b.getInt(at + 20);
            List<Info> infos = new ArrayList<>(3);
            int end = at + (int) eventLen;
            int p = at + metadataLen;
            while (p < end) {
                if (end - p < 4) {
                    throw new IOException("fanotify info record header cut at " + (end - p) + " bytes");
                }
                int type = Byte.toUnsignedInt(b.get(p));
                int len = Short.toUnsignedInt(b.getShort(p + 2));
                if (len < 4 || len > end - p) {
                    throw new IOException("fanotify info record of " + len + " bytes with " + (end - p) + " left");
                }
                switch (type) {
                    case INFO_FID, INFO_DFID, INFO_DFID_NAME, INFO_OLD_DFID_NAME, INFO_NEW_DFID_NAME ->
                        infos.add(fid(b, p, len, type));
                    default -> {
                        // pidfd, error and future types: not ours
                    }
                }
                p += len;
            }
            events.add(new Event(mask, pid, infos));
            at = end;
        }
        buf.position(buf.limit());
        return events;
    }

    private static Info fid(ByteBuffer b, int p, int len, int type) throws IOException {
        if (len < 4 + 8 + 8) {
            throw new IOException("fanotify fid record of " + len + " bytes");
        }
        long fsid = Integer.toUnsignedLong(b.getInt(p + 4)) | ((long) b.getInt(p + 8) << 32);
        long handleBytes = Integer.toUnsignedLong(b.getInt(p + 12));
        int handleType = b.getInt(p + 16);
        if (handleBytes > MAX_HANDLE_BYTES || handleBytes > len - 20) {
            throw new IOException("fanotify file handle of " + handleBytes + " bytes in a record of " + len);
        }
        byte[] handle = new byte[(int) handleBytes];
        b.get(p + 20, handle);
        String name = null;
        if (type == INFO_DFID_NAME || type == INFO_OLD_DFID_NAME || type == INFO_NEW_DFID_NAME) {
            int from = p + 20 + (int) handleBytes;
            int to = from;
            while (to < p + len && b.get(to) != 0) {
                to++;
            }
            if (to == p + len) {
                throw new IOException("fanotify entry name without its terminating NUL");
            }
            byte[] bytes = new byte[to - from];
            b.get(from, bytes);
            name = new String(bytes, StandardCharsets.UTF_8);
        }
        return new Info(type, fsid, new Handle(handleType, handle), name);
    }
}
