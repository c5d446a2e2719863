package io.holdfast.nbd;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;

/**
 * The layout of a striped export (RAID-0 over images on several volumes, each volume its own
 * replica group): the export's bytes are cut into stripe units, and unit {@code k} lives in
 * member {@code k mod n} at offset {@code (k div n) * unit}. Kept as a small descriptor file on
 * the first volume (the export name is that file's); {@link #encode} and {@link #decode} give its
 * format, a few lines of UTF-8 text:
 *
 * <pre>
 * holdfast-nbd-stripe 1
 * size 1073741824
 * unit 4194304
 * member vms/disks/web.img.stripe0
 * member fast/disks/web.img.stripe1
 * </pre>
 *
 * @param size the export's size in bytes, 1 byte to 2<sup>62</sup>
 * @param unit the stripe unit in bytes: a power of two from 64 KiB to 1 GiB (whole hole-granularity
 *     blocks, so a trimmed unit is a hole on its member)
 * @param members the member images' export names ({@code VOLUME/path}), 2 to {@value #MAX_MEMBERS},
 *     distinct
 */
public record StripeLayout(long size, long unit, List<String> members) {
    /** The first line of a descriptor. */
    public static final String MAGIC = "holdfast-nbd-stripe 1";
    /** Most members: 16. */
    public static final int MAX_MEMBERS = 16;
    /** Largest descriptor read, in bytes: 8 KiB. */
    public static final int MAX_DESCRIPTOR_BYTES = 8192;
    /** Smallest stripe unit: 64 KiB. */
    public static final long MIN_UNIT = 64 << 10;
    /** Largest stripe unit: 1 GiB. */
    public static final long MAX_UNIT = 1L << 30;
    /** Largest export size: 2^62 bytes. */
    public static final long MAX_SIZE = 1L << 62;

    /**
     * Checks the layout.
     *
     * @throws IllegalArgumentException if a field is out of its range, a member name is not
     *     {@code VOLUME/path}, or two members are the same
     */
    public StripeLayout {
        Objects.requireNonNull(members, "members");
        members = List.copyOf(members);
        if (size < 1 || size > MAX_SIZE) {
            throw new IllegalArgumentException("stripe size must be 1 byte to 2^62 bytes: " + size);
        }
        if (unit < MIN_UNIT || unit > MAX_UNIT || Long.bitCount(unit) != 1) {
            throw new IllegalArgumentException("stripe unit must be a power of two from 64 KiB to 1 GiB: " + unit);
        }
        if (members.size() < 2 || members.size() > MAX_MEMBERS) {
            throw new IllegalArgumentException(
                    "a stripe needs 2 to " + MAX_MEMBERS + " members, not " + members.size());
        }
        if (new HashSet<>(members).size() != members.size()) {
            throw new IllegalArgumentException("stripe members must differ: " + members);
        }
        for (String m : members) {
            VolumeExports.parse(m);
        }
    }

    /** The size each member image must have at least: whole rows of units covering the export. */
    public long memberSize() {
        long row = unit * members.size();
        return Math.ceilDiv(size, row) * unit;
    }

    /** A piece of a request that lies in one stripe unit: which member, where in it, how long. */
    record Piece(int member, long memberOffset, long length) {}

    /**
     * Cuts {@code [offset, offset + length)} at unit boundaries, in order.
     *
     * @throws IllegalArgumentException if the range is not inside the export
     */
    List<Piece> pieces(long offset, long length) {
        if (offset < 0 || length < 0 || length > size - offset) {
            throw new IllegalArgumentException("range " + offset + " + " + length + " outside " + size);
        }
        List<Piece> out = new ArrayList<>();
        long o = offset;
        long end = offset + length;
        int n = members.size();
        while (o < end) {
            long stripe = o / unit;
            long within = o - stripe * unit;
            long len = Math.min(unit - within, end - o);
            out.add(new Piece((int) (stripe % n), (stripe / n) * unit + within, len));
            o += len;
        }
        return out;
    }

    /** The descriptor text. */
    public byte[] encode() {
        StringBuilder b = new StringBuilder(MAGIC).append('\n');
        b.append("size ").append(size).append('\n');
        b.append("unit ").append(unit).append('\n');
        for (String m : members) {
            b.append("member ").append(m).append('\n');
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Reads a descriptor.
     *
     * @throws IllegalArgumentException if it is longer than {@value #MAX_DESCRIPTOR_BYTES} bytes,
     *     not UTF-8, lacks the magic line, has an unknown, repeated or missing field, or a value
     *     out of range (the message says which)
     */
    public static StripeLayout decode(byte[] data) {
        if (data.length > MAX_DESCRIPTOR_BYTES) {
            throw new IllegalArgumentException(
                    "stripe descriptor of " + data.length + " bytes (at most " + MAX_DESCRIPTOR_BYTES + ")");
        }
        String text;
        try {
            text = StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(data))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("stripe descriptor is not UTF-8 text");
        }
        List<String> lines = text.lines().toList();
        if (lines.isEmpty() || !lines.getFirst().equals(MAGIC)) {
            throw new IllegalArgumentException("not a stripe descriptor (first line is not '" + MAGIC + "')");
        }
        Long size = null;
        Long unit = null;
        List<String> members = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            int sp = line.indexOf(' ');
            String key = sp < 0 ? line : line.substring(0, sp);
            String value = sp < 0 ? "" : line.substring(sp + 1);
            switch (key) {
                case "size" -> {
                    if (size != null) {
                        throw new IllegalArgumentException("stripe descriptor repeats 'size'");
                    }
                    size = number("size", value);
                }
                case "unit" -> {
                    if (unit != null) {
                        throw new IllegalArgumentException("stripe descriptor repeats 'unit'");
                    }
                    unit = number("unit", value);
                }
                case "member" -> {
                    if (members.size() == MAX_MEMBERS) {
                        throw new IllegalArgumentException("stripe descriptor has over " + MAX_MEMBERS + " members");
                    }
                    members.add(value);
                }
                default -> throw new IllegalArgumentException("stripe descriptor: unknown line '" + line + "'");
            }
        }
        if (size == null || unit == null) {
            throw new IllegalArgumentException("stripe descriptor lacks " + (size == null ? "'size'" : "'unit'"));
        }
        return new StripeLayout(size, unit, members);
    }

    private static long number(String what, String value) {
        try {
            return Long.parseLong(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("stripe descriptor: " + what + " is not a number: '" + value + "'");
        }
    }
}
