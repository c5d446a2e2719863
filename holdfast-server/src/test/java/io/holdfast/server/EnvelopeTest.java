package io.holdfast.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Errno;
import io.holdfast.protocol.ProtocolException;
import io.holdfast.transport.Peer;
import io.holdfast.transport.Role;
import java.util.Arrays;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.statistics.Statistics;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;

/** The caller envelope: round trip, and only the typed refusal for anything else. */
class EnvelopeTest {
    @Provide
    Arbitrary<Peer> peers() {
        return Combinators.combine(
                        Arbitraries.strings().ofMinLength(1).ofMaxLength(Peer.MAX_NAME),
                        Arbitraries.of(Role.values()),
                        Arbitraries.of("127.0.0.1", "10.1.2.3", "::1", "fd00::17", ""))
                .as(Peer::new);
    }

    @Property(tries = 1000)
    void wrappedMessagesOpenToTheSameCallerAndPayload(
            @ForAll("peers") Peer peer, @ForAll @Size(max = 4096) byte[] payload) throws ProtocolException {
        Envelope.Opened opened = Envelope.open(Envelope.wrap(peer, ByteString.copyFrom(payload)));
        assertThat(opened.peer()).isEqualTo(peer);
        assertThat(opened.payload().toByteArray()).isEqualTo(payload);
    }

    @Property(tries = 2000)
    void randomBytesAreRefusedWithEaccesOrOpen(@ForAll @Size(max = 2048) byte[] bytes, @ForAll boolean withMagic) {
        if (withMagic && bytes.length >= 3) {
            bytes[0] = 'H';
            bytes[1] = 'E';
            bytes[2] = 1;
        }
        byte[] copy = bytes.clone();
        try {
            Envelope.open(ByteString.copyFrom(bytes));
            Statistics.collect("opened");
        } catch (ProtocolException e) {
            assertThat(e.errno()).isEqualTo(Errno.EACCES);
            Statistics.collect("refused");
        }
        assertThat(bytes).isEqualTo(copy);
    }

    @Property(tries = 1000)
    void truncatedEnvelopesAreRefused(@ForAll("peers") Peer peer, @ForAll @IntRange(min = 0, max = 1000) int cut) {
        byte[] full = Envelope.wrap(peer, ByteString.EMPTY).toByteArray();
        byte[] truncated = Arrays.copyOf(full, Math.min(cut, full.length - 1));
        assertThatThrownBy(() -> Envelope.open(ByteString.copyFrom(truncated))).isInstanceOf(ProtocolException.class);
    }

    @Property(tries = 200)
    void anUnwrappedClientMessageIsRefused(@ForAll @Size(max = 512) byte[] payload) {
        // what a client sends itself: a Holdfast frame ("HF") or a cluster command ("HC")
        byte[] framed = new byte[payload.length + 2];
        framed[0] = 'H';
        framed[1] = payload.length % 2 == 0 ? (byte) 'F' : (byte) 'C';
        System.arraycopy(payload, 0, framed, 2, payload.length);
        assertThatThrownBy(() -> Envelope.open(ByteString.copyFrom(framed)))
                .isInstanceOf(ProtocolException.class)
                .hasMessageContaining("authentication");
    }
}
