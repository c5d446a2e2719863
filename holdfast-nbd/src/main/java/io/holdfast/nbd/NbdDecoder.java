package io.holdfast.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Splits the bytes an NBD client sends into {@link NbdMessage}s: a state machine over the
 * phases of the protocol ("The NBD protocol", sections "Newstyle negotiation", "Fixed newstyle
 * negotiation" and "Request message").
 *
 * <pre>
 * CLIENT_FLAGS   C: 32 bits client flags                                 -> ClientFlags, then PAUSED
 * OPTION         C: 64 bits IHAVEOPT | 32 bits option | 32 bits length   -> Option, then PAUSED
 *                   | length bytes of data (skipped if over 64 KiB)
 * TRANSMISSION   C: 32 bits 0x25609513 | 16 flags | 16 type | 64 cookie  -> Request (and more)
 *                   | 64 offset | 32 length | (length bytes if WRITE; skipped if over 32 MiB)
 * </pre>
 *
 * <p>During the handshake the client may not send an option before it has the reply to the
 * previous one, so after each handshake message the decoder pauses until the session calls
 * {@link #resume}, telling it the next phase. Memory is bounded: at most one option's data
 * (64 KiB) or one write's payload (32 MiB) is held; longer ones are skipped as they arrive and
 * reported with a null payload, so the session can answer them with an error and go on. A wrong
 * magic number cannot be skipped over and ends in a {@link NbdMessage.Violation}, after which the
 * decoder discards everything.
 *
 * <p>Used on one channel's event loop only, like every Netty handler.
 */
final class NbdDecoder extends ByteToMessageDecoder {
    /** The decoder's phases. */
    enum State {
        CLIENT_FLAGS,
        OPTION,
        /** Waiting for the session to answer a handshake message ({@link #resume}). */
        PAUSED,
        TRANSMISSION,
        /** Skipping the rest of an oversized option's data or write's payload. */
        SKIPPING,
        /** After a violation: everything is discarded. */
        BROKEN
    }

    static final int OPTION_HEADER_BYTES = 16;
    static final int REQUEST_HEADER_BYTES = 28;

    private State state = State.CLIENT_FLAGS;
    private long skipRemaining;
    /** What to emit once the skipping ends, and the state after it. */
    private NbdMessage afterSkip;

    private State afterSkipState;

    State state() {
        return state;
    }

    /** Bytes received and not yet decoded (held in memory). */
    int buffered() {
        return actualReadableBytes();
    }

    /**
     * Goes on decoding in {@code next} ({@link State#OPTION} or {@link State#TRANSMISSION}) after a
     * pause, including bytes already received. Call on the channel's event loop.
     *
     * @throws IllegalStateException if the decoder is not paused or {@code next} is not a phase
     */
    void resume(ChannelHandlerContext ctx, State next) {
        if (state != State.PAUSED) {
            throw new IllegalStateException("not paused: " + state);
        }
        if (next != State.OPTION && next != State.TRANSMISSION) {
            throw new IllegalStateException("cannot resume into " + next);
        }
        state = next;
        // Decode what arrived meanwhile: an empty read runs the decoder over the buffered bytes. Into this
        // decoder itself, not from the pipeline's head, where a TLS handler would swallow it. Later, not now:
        // this may be called from inside the decoder's own loop, which then simply goes on.
        ChannelHandlerContext self = ctx.pipeline().context(this);
        if (self == null) {
            return; // removed: the channel is closing
        }
        self.executor().execute(() -> {
            if (self.channel().isActive() && !self.isRemoved()) {
                try {
                    channelRead(self, Unpooled.EMPTY_BUFFER);
                } catch (Exception e) {
                    self.fireExceptionCaught(e);
                }
            }
        });
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        switch (state) {
            case CLIENT_FLAGS -> {
                if (in.readableBytes() >= 4) {
                    state = State.PAUSED;
                    out.add(new NbdMessage.ClientFlags(in.readInt()));
                }
            }
            case OPTION -> decodeOption(in, out);
            case TRANSMISSION -> decodeRequest(in, out);
            case SKIPPING -> skip(in, out);
            case PAUSED -> {
                // the client must wait for our reply; whatever it sent stays buffered (bounded:
                // the session stops reading while the decoder is paused)
            }
            case BROKEN -> in.skipBytes(in.readableBytes());
        }
    }

    private void decodeOption(ByteBuf in, List<Object> out) {
        if (in.readableBytes() < OPTION_HEADER_BYTES) {
            return;
        }
        int r = in.readerIndex();
        long magic = in.getLong(r);
        if (magic != Nbd.IHAVEOPT) {
            breakWith(in, out, "option request without IHAVEOPT magic: 0x" + Long.toHexString(magic));
            return;
        }
        int option = in.getInt(r + 8);
        long length = in.getUnsignedInt(r + 12);
        if (length > Nbd.MAX_OPTION_BYTES) {
            in.skipBytes(OPTION_HEADER_BYTES);
            startSkipping(in, out, length, new NbdMessage.Option(option, length, null), State.PAUSED);
            return;
        }
        if (in.readableBytes() < OPTION_HEADER_BYTES + length) {
            return;
        }
        in.skipBytes(OPTION_HEADER_BYTES);
        ByteBuffer data = ByteBuffer.allocate((int) length);
        in.readBytes(data);
        data.flip();
        state = State.PAUSED;
        out.add(new NbdMessage.Option(option, length, data));
    }

    private void decodeRequest(ByteBuf in, List<Object> out) {
        if (in.readableBytes() < REQUEST_HEADER_BYTES) {
            return;
        }
        int r = in.readerIndex();
        int magic = in.getInt(r);
        if (magic != Nbd.REQUEST_MAGIC) {
            breakWith(in, out, "request without NBD_REQUEST_MAGIC: 0x" + Integer.toHexString(magic));
            return;
        }
        int flags = in.getUnsignedShort(r + 4);
        int type = in.getUnsignedShort(r + 6);
        long cookie = in.getLong(r + 8);
        long offset = in.getLong(r + 16);
        long length = in.getUnsignedInt(r + 24);
        if (type != Nbd.CMD_WRITE) {
            in.skipBytes(REQUEST_HEADER_BYTES);
            out.add(new NbdMessage.Request(flags, type, cookie, offset, length, null));
            return;
        }
        if (length > Nbd.MAX_PAYLOAD_BYTES) {
            in.skipBytes(REQUEST_HEADER_BYTES);
            startSkipping(
                    in,
                    out,
                    length,
                    new NbdMessage.Request(flags, type, cookie, offset, length, null),
                    State.TRANSMISSION);
            return;
        }
        if (in.readableBytes() < REQUEST_HEADER_BYTES + length) {
            return;
        }
        in.skipBytes(REQUEST_HEADER_BYTES);
        ByteBuffer data = ByteBuffer.allocate((int) length);
        in.readBytes(data);
        data.flip();
        out.add(new NbdMessage.Request(flags, type, cookie, offset, length, data));
    }

    private void startSkipping(ByteBuf in, List<Object> out, long length, NbdMessage then, State next) {
        state = State.SKIPPING;
        skipRemaining = length;
        afterSkip = then;
        afterSkipState = next;
        skip(in, out);
    }

    private void skip(ByteBuf in, List<Object> out) {
        int n = (int) Math.min(skipRemaining, in.readableBytes());
        in.skipBytes(n);
        skipRemaining -= n;
        if (skipRemaining == 0) {
            state = afterSkipState;
            NbdMessage m = afterSkip;
            afterSkip = null;
            out.add(m);
        }
    }

    private void breakWith(ByteBuf in, List<Object> out, String reason) {
        state = State.BROKEN;
        in.skipBytes(in.readableBytes());
        out.add(new NbdMessage.Violation(reason));
    }
}
