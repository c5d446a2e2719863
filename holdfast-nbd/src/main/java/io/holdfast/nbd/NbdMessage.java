package io.holdfast.nbd;

import java.nio.ByteBuffer;

/** What {@link NbdDecoder} makes of the bytes a client sends. */
sealed interface NbdMessage {
    /**
     * The client's 32-bit flags, sent once after the server's greeting (section "Newstyle
     * negotiation").
     */
    record ClientFlags(int flags) implements NbdMessage {}

    /**
     * One option request of the handshake ({@code IHAVEOPT}, option, length, data).
     *
     * @param option the option number
     * @param length the data length the client gave, unsigned, in bytes
     * @param data the data (a heap buffer positioned at 0), or null when {@code length} exceeded
     *     {@link Nbd#MAX_OPTION_BYTES} and the data was skipped unread
     */
    record Option(int option, long length, ByteBuffer data) implements NbdMessage {
        boolean tooBig() {
            return data == null;
        }
    }

    /**
     * One request of the transmission phase (section "Request message").
     *
     * @param flags command flags (16 bits)
     * @param type command (16 bits)
     * @param cookie the client's opaque cookie, echoed in every reply
     * @param offset offset in the export, unsigned 64 bits as sent (negative means above 2^63)
     * @param length length, unsigned 32 bits, in bytes
     * @param data the payload of an {@link Nbd#CMD_WRITE} (a heap buffer positioned at 0), or null:
     *     for other commands, and for a write longer than {@link Nbd#MAX_PAYLOAD_BYTES}, whose payload
     *     was skipped unread
     */
    record Request(int flags, int type, long cookie, long offset, long length, ByteBuffer data) implements NbdMessage {
        /** Whether this is a write whose payload was too long to accept. */
        boolean payloadDropped() {
            return type == Nbd.CMD_WRITE && data == null;
        }
    }

    /**
     * Bytes that break the protocol so that the stream cannot be followed any further (a wrong
     * magic number): the session ends with a hard disconnect, as the protocol allows.
     */
    record Violation(String reason) implements NbdMessage {}
}
