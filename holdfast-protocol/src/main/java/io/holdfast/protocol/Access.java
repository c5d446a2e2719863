package io.holdfast.protocol;

import io.holdfast.common.Errno;
import io.holdfast.common.WireCode;
import io.holdfast.common.WireCodes;

/** What an export ACL rule grants on a volume. Wire codes are stable: never renumber. */
public enum Access implements WireCode {
    /** Nothing: every request fails with {@link Errno#EACCES}. */
    NONE(0),
    /** Reads only: every mutation fails with {@link Errno#EROFS}. */
    READ_ONLY(1),
    /** Reads and writes (POSIX permissions still apply per file). */
    READ_WRITE(2);

    private static final WireCodes<Access> CODES = WireCodes.of(Access.class, "access");

    private final int code;

    Access(int code) {
        this.code = code;
    }

    /** The wire code (in the cluster map and in ACL commands). */
    @Override
    public int code() {
        return code;
    }

    /**
     * The access with a wire code.
     *
     * @throws IllegalArgumentException for an unknown code
     */
    public static Access fromCode(int code) {
        return CODES.fromCode(code);
    }

    /** The CLI spelling: none, ro, rw. */
    public String label() {
        return switch (this) {
            case NONE -> "none";
            case READ_ONLY -> "ro";
            case READ_WRITE -> "rw";
        };
    }

    /**
     * Parses the CLI spelling.
     *
     * @throws IllegalArgumentException if not none, ro/read-only or rw/read-write
     */
    public static Access parse(String s) {
        return switch (s) {
            case "none" -> NONE;
            case "ro", "read-only" -> READ_ONLY;
            case "rw", "read-write" -> READ_WRITE;
            default -> throw new IllegalArgumentException("access must be none, ro or rw, got \"" + s + "\"");
        };
    }
}
