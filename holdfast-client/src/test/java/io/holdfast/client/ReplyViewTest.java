package io.holdfast.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.junit.jupiter.api.Test;

/** {@link RaftVolumeService#view}: a reply's bytes as a buffer, over its own array when it is one piece. */
class ReplyViewTest {
    private static byte[] bytesOf(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.duplicate().get(out);
        return out;
    }

    @Test
    void onePieceIsSeenThroughItsArray() {
        byte[] frame = new byte[1000];
        for (int i = 0; i < frame.length; i++) {
            frame[i] = (byte) (i * 7);
        }
        ByteString content = ByteString.copyFrom(frame).substring(10, 990);
        ByteBuffer b = RaftVolumeService.view(content);
        assertThat(b.hasArray()).as("a heap buffer over the array").isTrue();
        assertThat(bytesOf(b)).isEqualTo(content.toByteArray());
    }

    @Test
    void severalPiecesAreSeenReadOnly() {
        ByteString a = ByteString.copyFrom(new byte[300]);
        ByteString b = ByteString.copyFrom(new byte[] {1, 2, 3}).concat(ByteString.copyFrom(new byte[200]));
        ByteString content = a.concat(b); // a rope of several arrays
        ByteBuffer v = RaftVolumeService.view(content);
        assertThat(bytesOf(v)).isEqualTo(content.toByteArray());
    }

    @Test
    void emptyIsEmpty() {
        assertThat(RaftVolumeService.view(ByteString.EMPTY).remaining()).isZero();
    }
}
