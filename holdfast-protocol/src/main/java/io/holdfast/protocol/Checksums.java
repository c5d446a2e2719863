package io.holdfast.protocol;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/** CRC32C helpers (Castagnoli polynomial, as iSCSI and ext4 metadata use). */
public final class Checksums {
    private Checksums() {}

    /** The CRC32C of {@code bytes[offset, offset+length)}. */
    public static int crc32c(byte[] bytes, int offset, int length) {
        CRC32C crc = new CRC32C();
        crc.update(bytes, offset, length);
        return (int) crc.getValue();
    }

    /** The CRC32C of all of {@code bytes}. */
    public static int crc32c(byte[] bytes) {
        return crc32c(bytes, 0, bytes.length);
    }

    /**
     * The CRC32C of {@code bytes}' remaining bytes (position to limit), leaving its position where
     * it was. It runs in place over a direct buffer or a heap buffer that is not read-only; a
     * read-only heap buffer is copied through a small buffer first (the JDK's {@code CRC32C}).
     */
    public static int crc32c(ByteBuffer bytes) {
        CRC32C crc = new CRC32C();
        crc.update(bytes.duplicate());
        return (int) crc.getValue();
    }
}
