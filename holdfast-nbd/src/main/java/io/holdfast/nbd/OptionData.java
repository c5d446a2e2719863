package io.holdfast.nbd;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Reads the fields of one option's data with bounds checks: every read past the data, string
 * over 4096 bytes, string that is not UTF-8 or contains NUL, or data left over at the end is a
 * {@link Malformed} (the option is answered with NBD_REP_ERR_INVALID). Not thread-safe.
 */
final class OptionData {
    /** The option data does not follow the option's layout. */
    static final class Malformed extends Exception {
        Malformed(String message) {
            super(message, null, false, false);
        }
    }

    private final ByteBuffer data;

    OptionData(ByteBuffer data) {
        this.data = data.duplicate();
    }

    int remaining() {
        return data.remaining();
    }

    /** An unsigned 32-bit field, as a long. */
    long u32(String what) throws Malformed {
        need(4, what);
        return Integer.toUnsignedLong(data.getInt());
    }

    /** An unsigned 16-bit field. */
    int u16(String what) throws Malformed {
        need(2, what);
        return Short.toUnsignedInt(data.getShort());
    }

    /** A string of {@code length} bytes: UTF-8, no NUL, at most {@link Nbd#MAX_STRING_BYTES}. */
    String string(long length, String what) throws Malformed {
        if (length > Nbd.MAX_STRING_BYTES) {
            throw new Malformed(what + " of " + length + " bytes is longer than " + Nbd.MAX_STRING_BYTES);
        }
        need(length, what);
        ByteBuffer slice = data.slice(data.position(), (int) length);
        data.position(data.position() + (int) length);
        String s;
        try {
            s = StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(slice)
                    .toString();
        } catch (CharacterCodingException e) {
            throw new Malformed(what + " is not valid UTF-8");
        }
        if (s.indexOf('\0') >= 0) {
            throw new Malformed(what + " contains NUL");
        }
        return s;
    }

    /** Checks that every byte was read. */
    void end(String option) throws Malformed {
        if (data.hasRemaining()) {
            throw new Malformed(data.remaining() + " bytes left over after the data of " + option);
        }
    }

    private void need(long n, String what) throws Malformed {
        if (data.remaining() < n) {
            throw new Malformed("option data ends inside " + what);
        }
    }
}
