package io.holdfast.common;

import java.util.Arrays;

/**
 * The code table of a {@link WireCode} enum: {@link #fromCode} finds the constant a decoded
 * code names. Build one per enum, in a static field of the enum itself:
 *
 * <pre>{@code
 * private static final WireCodes<FileType> CODES = WireCodes.of(FileType.class, "file type");
 * public static FileType fromCode(int code) { return CODES.fromCode(code); }
 * }</pre>
 *
 * <p>Lookup is an array index (codes are small). Immutable and thread-safe.
 *
 * @param <E> the enum
 */
public final class WireCodes<E extends Enum<E> & WireCode> {
    /** Largest code a constant may have: 65535 (codes fit in two bytes). */
    public static final int MAX_CODE = 0xffff;

    private final E[] byCode;
    private final String what;

    private WireCodes(E[] byCode, String what) {
        this.byCode = byCode;
        this.what = what;
    }

    /**
     * The code table of {@code type}'s constants.
     *
     * @param type the enum class
     * @param what what a code names, for the message of an unknown code, e.g. {@code "errno"}
     * @throws IllegalArgumentException if two constants share a code or a code is outside
     *     0..{@link #MAX_CODE} (a programming error in the enum)
     */
    public static <E extends Enum<E> & WireCode> WireCodes<E> of(Class<E> type, String what) {
        E[] constants = type.getEnumConstants();
        int max = -1;
        for (E e : constants) {
            if (e.code() < 0 || e.code() > MAX_CODE) {
                throw new IllegalArgumentException(
                        type.getSimpleName() + "." + e.name() + " has code " + e.code() + ", outside 0.." + MAX_CODE);
            }
            max = Math.max(max, e.code());
        }
        E[] byCode = Arrays.copyOf(constants, max + 1);
        Arrays.fill(byCode, null);
        for (E e : constants) {
            if (byCode[e.code()] != null) {
                throw new IllegalArgumentException(type.getSimpleName() + "." + e.name() + " and "
                        + byCode[e.code()].name() + " share code " + e.code());
            }
            byCode[e.code()] = e;
        }
        return new WireCodes<>(byCode, what);
    }

    /**
     * The constant with {@code code}.
     *
     * @throws IllegalArgumentException if no constant has that code; the message is
     *     {@code "unknown <what> <code>"}
     */
    public E fromCode(int code) {
        E e = code >= 0 && code < byCode.length ? byCode[code] : null;
        if (e == null) {
            throw new IllegalArgumentException("unknown " + what + " " + code);
        }
        return e;
    }
}
