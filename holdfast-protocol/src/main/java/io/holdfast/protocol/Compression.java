package io.holdfast.protocol;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdException;
import io.holdfast.common.Errno;

/**
 * zstd compression of bulk replies ({@link Request.Compressed}, {@link Response.Compressed}):
 * Zstandard, RFC 8878, one frame per reply, its header stating the content size, at level
 * {@value #LEVEL} (the fastest: a reply is compressed on the node's query thread).
 *
 * <p>Size limits: {@link #inflate} checks the size a reply declares against the request's limit,
 * and that the zstd frame's own header states the same size, before it allocates the output; it
 * decompresses into exactly that many bytes, so a frame that holds more (or less) than it
 * declares is refused, never allocated beyond the declared size.
 *
 * <p>Thread safety: stateless; all methods may be called from any thread.
 */
public final class Compression {
    /** The zstd level replies are compressed at. */
    static final int LEVEL = 1;
    /** Encoded replies shorter than this travel as they are: their frame's overhead would eat the gain. */
    public static final int MIN_BYTES = 256;
    /** The feature a node and a client offer in the handshake when they speak {@link Request.Compressed}. */
    public static final String FEATURE = "compression=zstd";

    private Compression() {}

    /**
     * The reply to a {@link Request.Compressed}: {@code reply} encoded and compressed, or
     * {@code reply} itself when its encoding is shorter than {@link #MIN_BYTES}, over the
     * request's limit, or would not get shorter.
     */
    public static Response compress(Response reply, int maxBytes) {
        byte[] raw = Codec.encode(reply);
        if (raw.length < MIN_BYTES || raw.length > maxBytes) {
            return reply;
        }
        byte[] packed = Zstd.compress(raw, LEVEL);
        // the compressed reply's frame costs 16 bytes more than the zstd frame
        return packed.length + 16 < raw.length ? new Response.Compressed(raw.length, packed) : reply;
    }

    /**
     * Decompresses a compressed reply and decodes it.
     *
     * @param maxBytes the limit the request stated ({@link Request.Compressed#maxBytes()})
     * @return the reply, never a {@link Response.Compressed}
     * @throws ProtocolException {@link Errno#EBADMSG} if the declared size is over {@code maxBytes},
     *     the zstd frame states another size or none, is corrupt, holds more or fewer bytes than
     *     declared, or the bytes are not one response frame (see {@link Codec#decodeResponse})
     */
    public static Response inflate(Response.Compressed c, int maxBytes) throws ProtocolException {
        int raw = c.rawLength();
        if (raw > maxBytes) {
            throw bad("compressed reply declares " + raw + " bytes, over the " + maxBytes + " asked for");
        }
        long stated;
        try {
            stated = Zstd.getFrameContentSize(c.zstd());
        } catch (ZstdException e) {
            throw bad("compressed reply is not a zstd frame: " + e.getMessage());
        }
        if (stated != raw) {
            throw bad("compressed reply declares " + raw + " bytes, its zstd frame "
                    + (stated < 0 ? "states no size" : "states " + stated));
        }
        byte[] out = new byte[raw];
        long n;
        try {
            n = Zstd.decompressByteArray(out, 0, raw, c.zstd(), 0, c.zstd().length);
        } catch (ZstdException e) {
            throw bad("compressed reply does not decompress: " + e.getMessage());
        }
        if (Zstd.isError(n)) {
            throw bad("compressed reply does not decompress: " + Zstd.getErrorName(n));
        }
        if (n != raw) {
            throw bad("compressed reply declares " + raw + " bytes and holds " + n);
        }
        Response r = Codec.decodeResponse(out);
        if (r instanceof Response.Compressed) {
            throw bad("a compressed reply inside a compressed reply");
        }
        return r;
    }

    private static ProtocolException bad(String message) {
        return new ProtocolException(Errno.EBADMSG, message);
    }
}
