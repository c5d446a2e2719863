package io.holdfast.protocol;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;

/**
 * One edit of an encoded message. The position is a fraction of the message's length, so a
 * mutation applies to any message and shrinks toward its start.
 *
 * @param kind what the edit does
 * @param where position as a fraction in [0, 1]
 * @param amount bit mask of a flip (1..255), bytes to delete, or index into {@link #BOUNDARY}
 * @param payload bytes to insert or append
 */
record Mutation(Kind kind, double where, int amount, byte[] payload) {
    /** Kinds of edit. */
    enum Kind {
        /** XOR one byte with a non-zero mask. */
        FLIP,
        /** Insert the payload. */
        INSERT,
        /** Delete up to {@code amount % 16 + 1} bytes. */
        DELETE,
        /** Cut the message at the position. */
        TRUNCATE,
        /** Append the payload. */
        APPEND,
        /** Overwrite 4 bytes with a boundary value (lengths and counts live in such fields). */
        SET_INT,
        /** Overwrite 2 bytes with the low half of a boundary value. */
        SET_SHORT
    }

    /** Values that sit on or next to the limits of the formats. */
    static final int[] BOUNDARY = {
        0,
        1,
        -1,
        2,
        64,
        65,
        255,
        256,
        1024,
        1025,
        4096,
        4097,
        0x7fff,
        0xffff,
        0x10000,
        16384,
        16385,
        64 * 1024,
        64 * 1024 + 1,
        1 << 20,
        (1 << 20) + 1,
        2 << 20,
        Integer.MAX_VALUE,
        Integer.MIN_VALUE
    };

    /** Lists of one to four mutations. */
    static Arbitrary<List<Mutation>> lists() {
        Arbitrary<Mutation> one = Combinators.combine(
                        Arbitraries.of(Kind.class),
                        Arbitraries.doubles().between(0, 1),
                        Arbitraries.integers().between(1, 255),
                        Arbitraries.bytes().array(byte[].class).ofMinSize(1).ofMaxSize(16))
                .as(Mutation::new);
        return one.list().ofMinSize(1).ofMaxSize(4);
    }

    /** Applies the mutations in order to a copy of {@code input}. */
    static byte[] applyAll(byte[] input, List<Mutation> mutations) {
        byte[] b = input;
        for (Mutation m : mutations) {
            b = m.apply(b);
        }
        return b == input ? input.clone() : b;
    }

    /** This edit applied to a copy of {@code in}. */
    byte[] apply(byte[] in) {
        int len = in.length;
        int pos = Math.min((int) (where * len), Math.max(0, len - 1));
        return switch (kind) {
            case FLIP -> {
                byte[] b = in.clone();
                if (len > 0) {
                    b[pos] ^= (byte) amount;
                }
                yield b;
            }
            case INSERT -> {
                int at = (int) (where * len);
                byte[] b = new byte[len + payload.length];
                System.arraycopy(in, 0, b, 0, at);
                System.arraycopy(payload, 0, b, at, payload.length);
                System.arraycopy(in, at, b, at + payload.length, len - at);
                yield b;
            }
            case DELETE -> {
                int n = Math.min(amount % 16 + 1, len - pos);
                byte[] b = new byte[len - n];
                System.arraycopy(in, 0, b, 0, pos);
                System.arraycopy(in, pos + n, b, pos, len - pos - n);
                yield b;
            }
            case TRUNCATE -> Arrays.copyOf(in, Math.min(pos, len));
            case APPEND -> {
                byte[] b = Arrays.copyOf(in, len + payload.length);
                System.arraycopy(payload, 0, b, len, payload.length);
                yield b;
            }
            case SET_INT -> {
                byte[] b = in.clone();
                if (len >= 4) {
                    ByteBuffer.wrap(b).putInt(Math.min(pos, len - 4), BOUNDARY[amount % BOUNDARY.length]);
                }
                yield b;
            }
            case SET_SHORT -> {
                byte[] b = in.clone();
                if (len >= 2) {
                    ByteBuffer.wrap(b).putShort(Math.min(pos, len - 2), (short) BOUNDARY[amount % BOUNDARY.length]);
                }
                yield b;
            }
        };
    }

    @Override
    public String toString() {
        return kind + "@" + where
                + (kind == Kind.INSERT || kind == Kind.APPEND
                        ? " " + HexFormat.of().formatHex(payload)
                        : " " + amount);
    }
}
