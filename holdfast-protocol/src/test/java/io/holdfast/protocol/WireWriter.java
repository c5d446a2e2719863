package io.holdfast.protocol;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The tests' own writer of big-endian frames, used by the reference models of the wire
 * formats. Besides the bytes it records every length and count field: where it is, how wide it
 * is, the value written and the largest value the decoder accepts there, so that properties
 * can check limits and plant oversized claims at exactly those places.
 */
final class WireWriter {
    /**
     * A length or count field.
     *
     * @param offset where the field starts in the frame
     * @param width 1 or 2 (unsigned), or 4 (signed) bytes
     * @param limit the largest value the decoder accepts in this field
     * @param value the value written
     * @param what what the field counts, for statistics and messages
     */
    record LengthField(int offset, int width, long limit, long value, String what) {}

    /** An encoding together with its length and count fields. */
    record Encoding(byte[] bytes, List<LengthField> fields) {
        /** Whether every field is within its limit and the whole within {@code maxBytes}. */
        boolean withinLimits(int maxBytes) {
            return bytes.length <= maxBytes && fields.stream().allMatch(f -> f.value() >= 0 && f.value() <= f.limit());
        }
    }

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final List<LengthField> fields = new ArrayList<>();

    WireWriter u8(int v) {
        out.write(v);
        return this;
    }

    WireWriter u16(int v) {
        out.write(v >>> 8);
        out.write(v);
        return this;
    }

    WireWriter i32(int v) {
        u16(v >>> 16);
        return u16(v);
    }

    WireWriter i64(long v) {
        i32((int) (v >>> 32));
        return i32((int) v);
    }

    WireWriter raw(byte[] b) {
        out.write(b, 0, b.length);
        return this;
    }

    /** Writes a length or count field of {@code width} bytes and records it. */
    WireWriter count(long value, int width, long limit, String what) {
        fields.add(new LengthField(out.size(), width, limit, value, what));
        return switch (width) {
            case 1 -> u8((int) value);
            case 2 -> u16((int) value);
            default -> i32((int) value);
        };
    }

    /** The bytes written, followed by their CRC32C when {@code sealed}. */
    Encoding finish(boolean sealed) {
        byte[] body = out.toByteArray();
        return new Encoding(sealed ? seal(body) : body, List.copyOf(fields));
    }

    /** {@code body} followed by its big-endian CRC32C. */
    static byte[] seal(byte[] body) {
        CRC32C crc = new CRC32C();
        crc.update(body);
        byte[] framed = Arrays.copyOf(body, body.length + 4);
        ByteBuffer.wrap(framed).putInt(body.length, (int) crc.getValue());
        return framed;
    }

    /** A copy of a sealed frame with {@code value} written into {@code field} and the CRC32C redone. */
    static byte[] withClaim(byte[] frame, LengthField field, long value, boolean sealed) {
        byte[] b = frame.clone();
        ByteBuffer buf = ByteBuffer.wrap(b);
        switch (field.width()) {
            case 1 -> buf.put(field.offset(), (byte) value);
            case 2 -> buf.putShort(field.offset(), (short) value);
            default -> buf.putInt(field.offset(), (int) value);
        }
        return sealed ? seal(Arrays.copyOf(b, b.length - 4)) : b;
    }
}
