package io.holdfast.protocol;

import io.holdfast.common.WireCode;
import io.holdfast.common.WireCodes;

/** The type of an inode. Codes are stable on the wire and on disk: never renumber. */
public enum FileType implements WireCode {
    /** A regular file. */
    FILE(1),
    /** A directory. */
    DIRECTORY(2),
    /** A symbolic link. */
    SYMLINK(3),
    /** A named pipe (POSIX {@code mkfifo(3)}); holds no data in the volume. */
    FIFO(4),
    /** A character device node (POSIX {@code mknod(2)} with {@code S_IFCHR}); holds no data. */
    CHARACTER_DEVICE(5),
    /** A block device node ({@code S_IFBLK}); holds no data in the volume. */
    BLOCK_DEVICE(6),
    /** A UNIX-domain socket name, as {@code bind(2)} creates it; holds no data in the volume. */
    SOCKET(7);

    /** The POSIX {@code S_IFMT} mask: the type bits of {@code st_mode}. */
    public static final int S_IFMT = 0170000;

    private static final WireCodes<FileType> CODES = WireCodes.of(FileType.class, "file type");

    private final int code;

    FileType(int code) {
        this.code = code;
    }

    /** The stable wire code. */
    @Override
    public int code() {
        return code;
    }

    /** The POSIX {@code S_IFMT} bits for this type (Linux values). */
    public int formatBits() {
        return switch (this) {
            case FILE -> 0100000;
            case DIRECTORY -> 0040000;
            case SYMLINK -> 0120000;
            case FIFO -> 0010000;
            case CHARACTER_DEVICE -> 0020000;
            case BLOCK_DEVICE -> 0060000;
            case SOCKET -> 0140000;
        };
    }

    /**
     * Whether this is a special file: a FIFO, device node or socket. Special files have
     * attributes but no content in the volume; I/O on them is the kernel's business on the host
     * that opens them.
     */
    public boolean isSpecial() {
        return this == FIFO || this == CHARACTER_DEVICE || this == BLOCK_DEVICE || this == SOCKET;
    }

    /** Whether this type carries a device number ({@code st_rdev}): character and block devices. */
    public boolean isDevice() {
        return this == CHARACTER_DEVICE || this == BLOCK_DEVICE;
    }

    /**
     * Returns the type whose {@link #formatBits()} are {@code mode & S_IFMT}.
     *
     * @param mode a full {@code st_mode}; the permission bits are ignored
     * @throws IllegalArgumentException if the type bits name no type (including 0)
     */
    public static FileType fromFormatBits(int mode) {
        int bits = mode & S_IFMT;
        for (FileType t : values()) {
            if (t.formatBits() == bits) {
                return t;
            }
        }
        throw new IllegalArgumentException(String.format("unknown file type bits 0%o", bits));
    }

    /**
     * Returns the type with the given wire code.
     *
     * @throws IllegalArgumentException if the code is unknown
     */
    public static FileType fromCode(int code) {
        return CODES.fromCode(code);
    }
}
