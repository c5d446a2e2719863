package io.holdfast.server;

import io.holdfast.common.Errno;
import io.holdfast.protocol.ClusterCommand;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.Compression;
import io.holdfast.protocol.Response;
import io.holdfast.transport.Peer;
import java.util.List;

/**
 * A node's side of the capability and version handshake ({@link ClusterCommand.Hello}): it
 * offers protocol version {@link Codec#VERSION} and its features, and refuses a client whose
 * versions do not overlap, that lacks a feature the node requires, or that requires a feature
 * the node lacks, with a message naming both sides. Immutable; thread-safe.
 */
final class Handshake {
    private final String self;
    private final List<String> features;
    private final List<String> required;

    Handshake(String address, NodeSecurity security) {
        this.self = "node " + address;
        this.features = List.of(
                "checksum=crc32c",
                "compression=none",
                Compression.FEATURE,
                security.transport().isPlaintext() ? "identity=none" : "identity=x509");
        this.required = security.requiredFeatures();
    }

    /** The node's reply to a client's hello: the node's own hello, or an EPROTO error frame. */
    byte[] answer(ClusterCommand.Hello client, Peer peer) {
        ClusterCommand.Hello mine =
                new ClusterCommand.Hello(Codec.VERSION, Codec.VERSION, features, required, peer.toString());
        String why = mine.incompatibility(self, client, "client " + peer.name());
        if (why == null) {
            why = client.incompatibility("client " + peer.name(), mine, self); // its requirements, checked here too
        }
        if (why != null) {
            return Codec.encode(new Response.Error(Errno.EPROTO, why));
        }
        return ClusterCommand.encode(mine);
    }
}
