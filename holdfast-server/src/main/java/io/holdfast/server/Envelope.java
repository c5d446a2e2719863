package io.holdfast.server;

import io.holdfast.common.Errno;
import io.holdfast.protocol.ProtocolException;
import io.holdfast.transport.Peer;
import io.holdfast.transport.Role;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;

/**
 * The authenticated caller, prepended by the node's {@link Gatekeeper} to every client request
 * it receives, so a state machine knows who asks. Clients cannot forge it: the gatekeeper wraps
 * whatever a client sends, and a state machine unwraps exactly one envelope.
 *
 * <p>Layout: {@code "HE"}, version 1, role (1 byte), name length (2 bytes) and UTF-8 name (at
 * most {@link Peer#MAX_NAME} bytes), address length (1 byte) and ASCII address, then the
 * client's message unchanged. Stateless; thread-safe.
 */
public final class Envelope {
    private static final int MAGIC = 0x4845;
    private static final int VERSION = 1;
    private static final int MAX_ADDRESS = 64;

    private Envelope() {}

    /** An opened envelope: the caller and the client's message. */
    public record Opened(Peer peer, ByteString payload) {}

    /** Wraps a client's message with its authenticated caller. */
    static ByteString wrap(Peer peer, ByteString payload) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeShort(MAGIC);
            out.writeByte(VERSION);
            out.writeByte(peer.role().code());
            byte[] name = peer.name().getBytes(StandardCharsets.UTF_8);
            out.writeShort(name.length);
            out.write(name);
            byte[] address = peer.address().getBytes(StandardCharsets.US_ASCII);
            out.writeByte(Math.min(address.length, MAX_ADDRESS));
            out.write(address, 0, Math.min(address.length, MAX_ADDRESS));
            return ByteString.copyFrom(bytes.toByteArray()).concat(payload);
        } catch (IOException e) {
            throw new IllegalStateException("in-memory stream failed", e);
        }
    }

    /**
     * Opens an envelope.
     *
     * @throws ProtocolException {@link Errno#EACCES} if the message did not come through a
     *     gatekeeper (no or a malformed envelope)
     */
    public static Opened open(ByteString content) throws ProtocolException {
        ByteBuffer b = content.asReadOnlyByteBuffer();
        try {
            if (b.remaining() < 7 || (b.getShort() & 0xffff) != MAGIC || (b.get() & 0xff) != VERSION) {
                throw unauthenticated();
            }
            int role = b.get() & 0xff;
            int nameLength = b.getShort() & 0xffff;
            if (nameLength == 0 || nameLength > Peer.MAX_NAME * 4 || nameLength > b.remaining()) {
                throw unauthenticated();
            }
            byte[] name = new byte[nameLength];
            b.get(name);
            int addressLength = b.get() & 0xff;
            if (addressLength > MAX_ADDRESS || addressLength > b.remaining()) {
                throw unauthenticated();
            }
            byte[] address = new byte[addressLength];
            b.get(address);
            Peer peer = new Peer(
                    new String(name, StandardCharsets.UTF_8),
                    Role.fromCode(role),
                    new String(address, StandardCharsets.US_ASCII));
            return new Opened(peer, content.substring(b.position()));
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw unauthenticated();
        }
    }

    private static ProtocolException unauthenticated() {
        return new ProtocolException(Errno.EACCES, "request did not pass a node's authentication");
    }
}
