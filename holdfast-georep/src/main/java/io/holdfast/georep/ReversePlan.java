package io.holdfast.georep;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.holdfast.common.FieldEscape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The operations of one reverse pass, decided before any is applied and recorded at the target
 * ({@code TARGET/.holdfast-georep/reverse-plan}) so that a pass killed half way is finished by the
 * next run exactly as planned (the old primary's changes made by the pass itself are then not
 * taken for the primary's own). Text: a magic line, {@code key=value} lines, one line per operation
 * and per conflict (fields separated by TAB, escaped as in {@link Manifest}), a CRC32C line.
 * Immutable.
 *
 * @param baseline the baseline manifest the plan was made against (its file name)
 * @param next the file name of the manifest of the copy as planned (the next baseline)
 * @param primaryIndex the source's applied index when planned
 */
record ReversePlan(
        long baseIndex,
        String baseline,
        String next,
        long primaryIndex,
        String primarySource,
        int primaryChanged,
        List<Op> ops,
        List<ReverseReport.Conflict> conflicts) {

    static final String NAME = "reverse-plan";
    static final String PROGRESS = "reverse-progress";
    static final String MAGIC = "holdfast-georep-reverse-plan";
    /** Most lines a plan file may have (operations and conflicts). */
    static final int MAX_LINES = 100_000_000;

    ReversePlan {
        ops = List.copyOf(ops);
        conflicts = List.copyOf(conflicts);
    }

    /** What to do at the old primary, in plan order. */
    enum Kind {
        /** Move the primary's entry at {@code path} to {@code other} (a conflict copy), if {@code other} is free. */
        MOVE_ASIDE,
        /** Rename {@code path} to {@code other} at the primary (else bring {@code other} over from the copy). */
        RENAME,
        /** Delete {@code path} at the primary, with everything below it. */
        DELETE,
        /** Bring {@code path} over from the copy (a directory: itself, not its entries). */
        PUT
    }

    /** One operation; {@code other} only for MOVE_ASIDE and RENAME, else "". Paths relative. */
    record Op(Kind kind, String path, String other) {}

    int count(Kind k) {
        return (int) ops.stream().filter(o -> o.kind() == k).count();
    }

    void write(Path file, boolean fsync) throws IOException {
        StringBuilder b = new StringBuilder(MAGIC).append('\n');
        b.append("version=1\n");
        b.append("baseIndex=").append(baseIndex).append('\n');
        b.append("baseline=").append(baseline).append('\n');
        b.append("next=").append(next).append('\n');
        b.append("primaryIndex=").append(primaryIndex).append('\n');
        b.append("primarySource=").append(primarySource).append('\n');
        b.append("primaryChanged=").append(primaryChanged).append('\n');
        for (Op o : ops) {
            b.append("op\t")
                    .append(o.kind().name())
                    .append('\t')
                    .append(FieldEscape.escape(o.path()))
                    .append('\t')
                    .append(FieldEscape.escape(o.other()))
                    .append('\n');
        }
        for (ReverseReport.Conflict c : conflicts) {
            b.append("conflict\t")
                    .append(FieldEscape.escape(c.path()))
                    .append('\t')
                    .append(FieldEscape.escape(c.dr()))
                    .append('\t')
                    .append(FieldEscape.escape(c.primary()))
                    .append('\t')
                    .append(c.primaryCopy() == null ? "-" : FieldEscape.escape(c.primaryCopy()))
                    .append('\n');
        }
        String body = b.toString();
        writeAtomically(file, body + "crc32c=" + crc(body) + "\n", fsync);
    }

    static void writeAtomically(Path file, String text, boolean fsync) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (SeekableByteChannel ch = Files.newByteChannel(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.wrap(text.getBytes(UTF_8));
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            if (fsync && ch instanceof FileChannel fc) {
                fc.force(true);
            }
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        if (fsync) {
            StateFile.forceDirectory(file.getParent());
        }
    }

    private static String crc(String body) {
        CRC32C c = new CRC32C();
        c.update(body.getBytes(UTF_8));
        return HexFormat.of().toHexDigits((int) c.getValue());
    }

    /**
     * The plan recorded in {@code file}, or null if there is none.
     *
     * @throws GeoStateException if it is corrupt
     */
    static ReversePlan read(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file, UTF_8);
        } catch (NoSuchFileException e) {
            return null;
        }
        int crcAt = text.lastIndexOf("crc32c=");
        if (!text.startsWith(MAGIC + "\n") || crcAt < 0 || !text.endsWith("\n")) {
            throw new GeoStateException(file + " is corrupt: not a reverse plan (remove it to plan again)");
        }
        String body = text.substring(0, crcAt);
        if (!text.substring(crcAt + "crc32c=".length(), text.length() - 1).equals(crc(body))) {
            throw new GeoStateException(file + " is corrupt: checksum (remove it to plan again)");
        }
        String[] lines = body.split("\n");
        if (lines.length > MAX_LINES || lines.length < 9 || !lines[1].equals("version=1")) {
            throw new GeoStateException(file + " is corrupt or of an unknown version");
        }
        try {
            List<Op> ops = new ArrayList<>();
            List<ReverseReport.Conflict> conflicts = new ArrayList<>();
            for (int i = 8; i < lines.length; i++) {
                String[] f = lines[i].split("\t", -1);
                if (f[0].equals("op") && f.length == 4) {
                    ops.add(new Op(Kind.valueOf(f[1]), FieldEscape.unescape(f[2]), FieldEscape.unescape(f[3])));
                } else if (f[0].equals("conflict") && f.length == 5) {
                    conflicts.add(new ReverseReport.Conflict(
                            FieldEscape.unescape(f[1]),
                            FieldEscape.unescape(f[2]),
                            FieldEscape.unescape(f[3]),
                            f[4].equals("-") ? null : FieldEscape.unescape(f[4])));
                } else {
                    throw new IllegalArgumentException("line " + (i + 1));
                }
            }
            String baseline = value(lines[3], "baseline");
            String next = value(lines[4], "next");
            if (!Manifest.validName(baseline) || !Manifest.validName(next)) {
                throw new IllegalArgumentException("manifest names");
            }
            return new ReversePlan(
                    Long.parseLong(value(lines[2], "baseIndex")),
                    baseline,
                    next,
                    Long.parseLong(value(lines[5], "primaryIndex")),
                    value(lines[6], "primarySource"),
                    Integer.parseInt(value(lines[7], "primaryChanged")),
                    ops,
                    conflicts);
        } catch (IllegalArgumentException e) {
            throw new GeoStateException(file + " is corrupt: " + e.getMessage() + " (remove it to plan again)");
        }
    }

    private static String value(String line, String key) {
        if (!line.startsWith(key + "=")) {
            throw new IllegalArgumentException("no " + key);
        }
        return line.substring(key.length() + 1);
    }

    /** Operations done so far by the pass of this plan (0 if none recorded). */
    static int progress(Path file, String next) throws IOException {
        try {
            String t = Files.readString(file, UTF_8).trim();
            String[] f = t.split(" ");
            if (f.length == 2 && f[0].equals(next)) {
                return Integer.parseInt(f[1]);
            }
            return 0;
        } catch (NoSuchFileException | NumberFormatException e) {
            return 0;
        }
    }

    static void recordProgress(Path file, String next, int done, boolean fsync) throws IOException {
        writeAtomically(file, next + " " + done + "\n", fsync);
    }
}
