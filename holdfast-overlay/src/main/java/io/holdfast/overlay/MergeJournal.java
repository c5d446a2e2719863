package io.holdfast.overlay;

import io.holdfast.common.FieldEscape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32C;

/**
 * The journal of an {@link OverlayMerge}: what is done, so a merge killed at any moment and run
 * again does not redo it. One text file, appended to, one record a line:
 *
 * <pre>
 *   PAYLOAD TAB CRC
 *   PAYLOAD = FIELD (TAB FIELD)*    fields %-escaped: '%' → %25, TAB → %09, LF → %0A, CR → %0D
 *   CRC     = CRC-32C of PAYLOAD's UTF-8 bytes, 8 lower-case hex digits
 * </pre>
 *
 * The first record is the header {@code holdfast-overlay-merge 1 LOWER UPPER TARGET}; a journal of
 * another merge (other paths) is refused. Records: {@code F rel key ino} (an upper file merged in
 * the state {@code key}), {@code D rel key} (an upper directory's attributes applied), {@code W rel}
 * (the upper whiteout {@code rel} applied), {@code O rel} (opaque directory's old content removed),
 * {@code L rel} / {@code LD rel} (a lower entry / a lower directory's whole subtree copied into a new
 * base), {@code T rel} (a temporary file is about to be written for {@code rel}), {@code G rel}
 * (forget {@code rel}: gone from the upper layer), {@code X rel} (removed from the upper layer by
 * emptying it). A last line without its newline or with a bad CRC is the torn end of a killed write
 * and is cut off; a bad line before the end is corruption (an {@link IOException} naming the file
 * and line). Lines are at most {@link #MAX_LINE_BYTES}.
 *
 * <p>Records are written with one {@code write(2)} each, so a killed process loses none; they are
 * forced to disk every {@link #SYNC_EVERY_RECORDS} records and at close. Not thread-safe (one merge
 * at a time; the caller holds the journal).
 */
final class MergeJournal implements AutoCloseable {
    static final String MAGIC = "holdfast-overlay-merge";
    static final int VERSION = 1;
    static final int MAX_LINE_BYTES = 64 * 1024;
    static final int SYNC_EVERY_RECORDS = 256;

    /** What the journal says of one upper path. */
    static final class Entry {
        char kind; // 'F' file, 'D' directory, 'W' whiteout
        String key;
        long ino = -1;
        boolean emptied;
    }

    private final Path file;
    private final FileChannel channel;
    private final Map<String, Entry> upper = new HashMap<>();
    private final Set<String> opaqueDone = new HashSet<>();
    private final Set<String> lowerDone = new HashSet<>();
    private String lastTemp;
    private int unsynced;

    private MergeJournal(Path file, FileChannel channel) {
        this.file = file;
        this.channel = channel;
    }

    /**
     * Opens (or creates) the journal {@code file} of the merge of {@code lower}, {@code upper} into
     * {@code target}.
     *
     * @throws IOException if it cannot be read or written, is corrupt, of a newer version, or
     *     belongs to another merge
     */
    static MergeJournal open(Path file, String lower, String upper, String target) throws IOException {
        List<String> header = List.of(MAGIC, Integer.toString(VERSION), lower, upper, target);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            bytes = new byte[0];
        }
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        MergeJournal j = new MergeJournal(file, ch);
        try {
            long good = j.replay(bytes, header);
            if (good == 0) {
                ch.truncate(0);
                ch.position(0);
                j.append(header.toArray(String[]::new));
                j.sync();
            } else {
                ch.truncate(good);
                ch.position(good);
            }
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        return j;
    }

    /** Replays the records; returns the length of the good prefix (0: no header yet). */
    private long replay(byte[] bytes, List<String> header) throws IOException {
        int pos = 0;
        int line = 0;
        while (pos < bytes.length) {
            int nl = indexOf(bytes, pos, (byte) '\n');
            line++;
            boolean last = nl < 0 || nl == bytes.length - 1;
            int end = nl < 0 ? bytes.length : nl;
            if (end - pos > MAX_LINE_BYTES) {
                throw corrupt(line, "line longer than " + MAX_LINE_BYTES + " bytes");
            }
            List<String> fields = nl < 0 ? null : decode(new String(bytes, pos, end - pos, StandardCharsets.UTF_8));
            if (fields == null) {
                if (last) {
                    return pos; // the torn end of a killed write
                }
                throw corrupt(line, "bad checksum or layout");
            }
            if (line == 1) {
                checkHeader(fields, header);
            } else {
                apply(fields, line);
            }
            pos = end + 1;
        }
        return pos;
    }

    private void checkHeader(List<String> fields, List<String> header) throws IOException {
        if (fields.size() < 2 || !fields.get(0).equals(MAGIC)) {
            throw corrupt(1, "not a merge journal");
        }
        int version;
        try {
            version = Integer.parseInt(fields.get(1));
        } catch (NumberFormatException e) {
            throw corrupt(1, "bad version " + fields.get(1));
        }
        if (version > VERSION) {
            throw new IOException("merge journal " + file + " has version " + version + ", newer than this holdfast ("
                    + VERSION + ")");
        }
        if (!fields.equals(header)) {
            throw new IOException("merge journal " + file + " belongs to another merge (lower " + field(fields, 2)
                    + ", upper " + field(fields, 3) + ", into " + field(fields, 4) + "); remove it to start afresh");
        }
    }

    private static String field(List<String> fields, int i) {
        return i < fields.size() ? fields.get(i) : "?";
    }

    private void apply(List<String> f, int line) throws IOException {
        String kind = f.get(0);
        int want = switch (kind) {
            case "F" -> 4;
            case "D" -> 3;
            case "W", "O", "L", "LD", "T", "G", "X" -> 2;
            default -> throw corrupt(line, "unknown record " + kind);
        };
        if (f.size() != want) {
            throw corrupt(line, "record " + kind + " has " + f.size() + " fields, not " + want);
        }
        String rel = f.get(1);
        switch (kind) {
            case "F" -> {
                Entry e = entry(rel, 'F');
                e.key = f.get(2);
                try {
                    e.ino = Long.parseLong(f.get(3));
                } catch (NumberFormatException x) {
                    throw corrupt(line, "bad inode number " + f.get(3));
                }
            }
            case "D" -> entry(rel, 'D').key = f.get(2);
            case "W" -> entry(rel, 'W');
            case "O" -> opaqueDone.add(rel);
            case "L", "LD" -> lowerDone.add(rel);
            case "T" -> lastTemp = rel;
            case "G" -> {
                upper.remove(rel);
                opaqueDone.remove(rel);
            }
            case "X" -> {
                Entry e = upper.get(rel);
                if (e != null) {
                    e.emptied = true;
                }
            }
            default -> throw new AssertionError(kind);
        }
    }

    private Entry entry(String rel, char kind) {
        Entry e = new Entry();
        e.kind = kind;
        upper.put(rel, e);
        return e;
    }

    private IOException corrupt(int line, String why) {
        return new IOException("corrupt merge journal " + file + " at line " + line + ": " + why);
    }

    private static int indexOf(byte[] b, int from, byte v) {
        for (int i = from; i < b.length; i++) {
            if (b[i] == v) {
                return i;
            }
        }
        return -1;
    }

    /** The fields of one line, or null if its checksum or layout is wrong. */
    static List<String> decode(String line) {
        int tab = line.lastIndexOf('\t');
        if (tab < 0 || line.length() - tab - 1 != 8) {
            return null;
        }
        String payload = line.substring(0, tab);
        if (!crc(payload).equals(line.substring(tab + 1))) {
            return null;
        }
        String[] parts = payload.split("\t", -1);
        String[] out = new String[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                out[i] = FieldEscape.unescape(parts[i]);
            } catch (IllegalArgumentException e) {
                return null; // a bad escape: a damaged line, like a bad checksum
            }
        }
        return List.of(out);
    }

    static String encode(String... fields) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < fields.length; i++) {
            if (i > 0) {
                b.append('\t');
            }
            b.append(FieldEscape.escape(fields[i]));
        }
        String payload = b.toString();
        return payload + "\t" + crc(payload) + "\n";
    }

    private static String crc(String payload) {
        CRC32C c = new CRC32C();
        c.update(payload.getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().toHexDigits((int) c.getValue());
    }

    private void append(String... fields) throws IOException {
        byte[] b = encode(fields).getBytes(StandardCharsets.UTF_8);
        if (b.length > MAX_LINE_BYTES) {
            throw new IOException("path too long for the merge journal (" + b.length + " bytes): " + fields[1]);
        }
        ByteBuffer buf = ByteBuffer.wrap(b);
        while (buf.hasRemaining()) {
            channel.write(buf);
        }
        if (++unsynced >= SYNC_EVERY_RECORDS) {
            sync();
        }
    }

    /** Forces the records written so far to disk. */
    void sync() throws IOException {
        channel.force(false);
        unsynced = 0;
    }

    // ------------------------------------------------------------------ queries

    Path file() {
        return file;
    }

    /** Everything known of upper paths (a live view: the caller must not change it). */
    Map<String, Entry> upperEntries() {
        return upper;
    }

    Entry upper(String rel) {
        return upper.get(rel);
    }

    boolean opaqueDone(String rel) {
        return opaqueDone.contains(rel);
    }

    boolean lowerDone(String rel) {
        return lowerDone.contains(rel);
    }

    /** The path of the last temporary file announced, or null. */
    String lastTemp() {
        return lastTemp;
    }

    // ------------------------------------------------------------------ records

    void fileMerged(String rel, String key, long ino) throws IOException {
        append("F", rel, key, Long.toString(ino));
        Entry e = entry(rel, 'F');
        e.key = key;
        e.ino = ino;
    }

    void directoryMerged(String rel, String key) throws IOException {
        append("D", rel, key);
        entry(rel, 'D').key = key;
    }

    void whiteoutApplied(String rel) throws IOException {
        append("W", rel);
        entry(rel, 'W');
    }

    void opaqueApplied(String rel) throws IOException {
        append("O", rel);
        opaqueDone.add(rel);
    }

    void lowerCopied(String rel, boolean directory) throws IOException {
        append(directory ? "LD" : "L", rel);
        lowerDone.add(rel);
    }

    void temp(String rel) throws IOException {
        append("T", rel);
        lastTemp = rel;
    }

    void gone(String rel) throws IOException {
        append("G", rel);
        upper.remove(rel);
        opaqueDone.remove(rel);
    }

    void emptied(String rel) throws IOException {
        append("X", rel);
        Entry e = upper.get(rel);
        if (e != null) {
            e.emptied = true;
        }
    }

    /** Forces the journal to disk and closes it. Writes no record (a close after a kill-like error changes nothing). */
    @Override
    public void close() throws IOException {
        try (channel) {
            if (unsynced > 0) {
                channel.force(false);
            }
        }
    }
}
