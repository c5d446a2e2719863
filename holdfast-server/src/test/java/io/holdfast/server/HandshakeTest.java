package io.holdfast.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Errno;
import io.holdfast.protocol.ClusterCommand;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.ProtocolException;
import io.holdfast.protocol.Response;
import io.holdfast.transport.Peer;
import io.holdfast.transport.Role;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The node's side of the handshake: versions must overlap, required features must be offered. */
class HandshakeTest {
    private static final Peer CLIENT = new Peer("mail-01", Role.CLIENT, "10.0.0.7");
    private final Handshake node = new Handshake("10.0.0.1:7001", NodeSecurity.plaintext());

    private static ClusterCommand.Hello client(int min, int max, List<String> features, List<String> required) {
        return new ClusterCommand.Hello(min, max, features, required, "");
    }

    @Test
    void aCompatibleClientGetsTheNodesHelloAndHowItWasIdentified() throws ProtocolException {
        byte[] reply = node.answer(client(1, 3, List.of("checksum=crc32c"), List.of("checksum=crc32c")), CLIENT);
        ClusterCommand.Hello hello = (ClusterCommand.Hello) ClusterCommand.decode(reply);
        assertThat(hello.minVersion()).isLessThanOrEqualTo(Codec.VERSION);
        assertThat(hello.maxVersion()).isEqualTo(Codec.VERSION);
        assertThat(hello.features()).contains("checksum=crc32c", "compression=zstd", "identity=none");
        assertThat(hello.peer()).isEqualTo(CLIENT.toString());
    }

    @Test
    void versionsThatDoNotOverlapAreRefusedNamingBothSides() throws ProtocolException {
        Response r = Codec.decodeResponse(node.answer(client(7, 9, List.of("checksum=crc32c"), List.of()), CLIENT));
        assertThat(r).isInstanceOf(Response.Error.class);
        Response.Error e = (Response.Error) r;
        assertThat(e.errno()).isEqualTo(Errno.EPROTO);
        assertThat(e.message())
                .contains("node 10.0.0.1:7001 speaks protocol versions " + Codec.VERSION + ".." + Codec.VERSION)
                .contains("client mail-01 speaks 7..9");
    }

    @Test
    void aClientLackingAFeatureTheNodeRequiresIsRefused() throws ProtocolException {
        Handshake strict = new Handshake(
                "10.0.0.1:7001", NodeSecurity.plaintext().withRequired(List.of("checksum=crc32c", "compression=zstd")));
        Response r = Codec.decodeResponse(
                strict.answer(client(1, 1, List.of("checksum=crc32c", "compression=none"), List.of()), CLIENT));
        assertThat(((Response.Error) r).errno()).isEqualTo(Errno.EPROTO);
        assertThat(((Response.Error) r).message())
                .contains("requires feature compression=zstd")
                .contains("client mail-01");
    }

    @Test
    void aNodeLackingAFeatureTheClientRequiresIsRefused() throws ProtocolException {
        Response r = Codec.decodeResponse(
                node.answer(client(1, 1, List.of("checksum=crc32c"), List.of("identity=x509")), CLIENT));
        // the node checks the client's requirements too: a plaintext node has no x509 identity
        assertThat(r).isInstanceOf(Response.Error.class);
    }
}
