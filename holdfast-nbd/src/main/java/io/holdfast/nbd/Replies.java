package io.holdfast.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Encodes what the server sends ("The NBD protocol", sections "Fixed newstyle negotiation",
 * "Simple reply message", "Structured reply chunk message"). Every method returns a new buffer
 * for the caller to write (which releases it).
 */
final class Replies {
    static final int OPTION_REPLY_HEADER_BYTES = 20;
    static final int SIMPLE_REPLY_BYTES = 16;
    static final int CHUNK_HEADER_BYTES = 20;
    /** Longest error message sent: 1 KiB (the field allows 64 KiB - 1; clients print it). */
    static final int MAX_MESSAGE_BYTES = 1024;

    private Replies() {}

    /** S: NBDMAGIC, IHAVEOPT, 16 bits handshake flags. */
    static ByteBuf greeting(ByteBufAllocator alloc, int handshakeFlags) {
        return alloc.buffer(18)
                .writeLong(Nbd.INIT_PASSWD)
                .writeLong(Nbd.IHAVEOPT)
                .writeShort(handshakeFlags);
    }

    /** S: option reply magic, option, reply type, length, data. */
    static ByteBuf option(ByteBufAllocator alloc, int option, int type, byte[] data) {
        return alloc.buffer(OPTION_REPLY_HEADER_BYTES + data.length)
                .writeLong(Nbd.OPTION_REPLY_MAGIC)
                .writeInt(option)
                .writeInt(type)
                .writeInt(data.length)
                .writeBytes(data);
    }

    /** An option error reply whose data is {@code message}, cut to {@link #MAX_MESSAGE_BYTES}. */
    static ByteBuf optionError(ByteBufAllocator alloc, int option, int type, String message) {
        return option(alloc, option, type, utf8(message));
    }

    /** NBD_REP_SERVER: 32 bits name length, name. */
    static ByteBuf server(ByteBufAllocator alloc, String name) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        return option(
                alloc,
                Nbd.OPT_LIST,
                Nbd.REP_SERVER,
                ByteBuffer.allocate(4 + n.length).putInt(n.length).put(n).array());
    }

    /** NBD_REP_INFO with NBD_INFO_EXPORT: size and transmission flags. */
    static ByteBuf infoExport(ByteBufAllocator alloc, int option, long size, int transmissionFlags) {
        return option(
                alloc,
                option,
                Nbd.REP_INFO,
                ByteBuffer.allocate(12)
                        .putShort((short) Nbd.INFO_EXPORT)
                        .putLong(size)
                        .putShort((short) transmissionFlags)
                        .array());
    }

    /** NBD_REP_INFO with NBD_INFO_BLOCK_SIZE: minimum, preferred, maximum payload. */
    static ByteBuf infoBlockSize(ByteBufAllocator alloc, int option) {
        return option(
                alloc,
                option,
                Nbd.REP_INFO,
                ByteBuffer.allocate(14)
                        .putShort((short) Nbd.INFO_BLOCK_SIZE)
                        .putInt(Nbd.MIN_BLOCK_BYTES)
                        .putInt(Nbd.PREFERRED_BLOCK_BYTES)
                        .putInt(Nbd.MAX_PAYLOAD_BYTES)
                        .array());
    }

    /** NBD_REP_INFO with NBD_INFO_NAME or NBD_INFO_DESCRIPTION and a string. */
    static ByteBuf infoString(ByteBufAllocator alloc, int option, int infoType, String value) {
        byte[] v = value.getBytes(StandardCharsets.UTF_8);
        if (v.length > Nbd.MAX_STRING_BYTES) {
            v = utf8(value);
        }
        return option(
                alloc,
                option,
                Nbd.REP_INFO,
                ByteBuffer.allocate(2 + v.length)
                        .putShort((short) infoType)
                        .put(v)
                        .array());
    }

    /** NBD_REP_META_CONTEXT: 32 bits id, name. */
    static ByteBuf metaContext(ByteBufAllocator alloc, int option, int id, String name) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        return option(
                alloc,
                option,
                Nbd.REP_META_CONTEXT,
                ByteBuffer.allocate(4 + n.length).putInt(id).put(n).array());
    }

    /** The reply to NBD_OPT_EXPORT_NAME: size, transmission flags, 124 zeros unless NO_ZEROES. */
    static ByteBuf exportName(ByteBufAllocator alloc, long size, int transmissionFlags, boolean noZeroes) {
        ByteBuf b = alloc.buffer(noZeroes ? 10 : 134).writeLong(size).writeShort(transmissionFlags);
        if (!noZeroes) {
            b.writeZero(124);
        }
        return b;
    }

    /** A simple reply header (error 0 for success), to be followed by read data if any. */
    static ByteBuf simple(ByteBufAllocator alloc, int error, long cookie) {
        return alloc.buffer(SIMPLE_REPLY_BYTES)
                .writeInt(Nbd.SIMPLE_REPLY_MAGIC)
                .writeInt(error)
                .writeLong(cookie);
    }

    /** A simple successful read reply: header and data. */
    static ByteBuf simpleData(ByteBufAllocator alloc, long cookie, ByteBuffer data) {
        return Unpooled.wrappedBuffer(simple(alloc, 0, cookie), Unpooled.wrappedBuffer(data));
    }

    private static ByteBuf chunkHeader(ByteBufAllocator alloc, int flags, int type, long cookie, int length) {
        return alloc.buffer(CHUNK_HEADER_BYTES)
                .writeInt(Nbd.STRUCTURED_REPLY_MAGIC)
                .writeShort(flags)
                .writeShort(type)
                .writeLong(cookie)
                .writeInt(length);
    }

    /** The final chunk NBD_REPLY_TYPE_NONE. */
    static ByteBuf none(ByteBufAllocator alloc, long cookie) {
        return chunkHeader(alloc, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_NONE, cookie, 0);
    }

    /** One final NBD_REPLY_TYPE_OFFSET_DATA chunk: offset and at least one byte of data. */
    static ByteBuf offsetData(ByteBufAllocator alloc, long cookie, long offset, ByteBuffer data) {
        ByteBuf header = chunkHeader(
                        alloc, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_OFFSET_DATA, cookie, 8 + data.remaining())
                .writeLong(offset);
        return Unpooled.wrappedBuffer(header, Unpooled.wrappedBuffer(data));
    }

    /** One final NBD_REPLY_TYPE_BLOCK_STATUS chunk for one context. */
    static ByteBuf blockStatus(ByteBufAllocator alloc, long cookie, int contextId, List<BlockDevice.Extent> extents) {
        ByteBuf b = chunkHeader(alloc, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_BLOCK_STATUS, cookie, 4 + 8 * extents.size())
                .writeInt(contextId);
        for (BlockDevice.Extent e : extents) {
            int flags = (e.hole() ? Nbd.STATE_HOLE : 0) | (e.zero() ? Nbd.STATE_ZERO : 0);
            b.writeInt((int) e.length()).writeInt(flags);
        }
        return b;
    }

    /** One final NBD_REPLY_TYPE_ERROR chunk: error, message length, message. */
    static ByteBuf error(ByteBufAllocator alloc, long cookie, int error, String message) {
        byte[] m = utf8(message);
        return chunkHeader(alloc, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_ERROR, cookie, 6 + m.length)
                .writeInt(error)
                .writeShort(m.length)
                .writeBytes(m);
    }

    /** {@code s} in UTF-8, cut to at most {@link #MAX_MESSAGE_BYTES} on a character boundary. */
    static byte[] utf8(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length <= MAX_MESSAGE_BYTES) {
            return b;
        }
        int end = MAX_MESSAGE_BYTES;
        while (end > 0 && (b[end] & 0xC0) == 0x80) {
            end--; // do not cut a character in two
        }
        byte[] cut = new byte[end];
        System.arraycopy(b, 0, cut, 0, end);
        return cut;
    }
}
