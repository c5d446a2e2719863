package io.holdfast.client.nio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/** A corrupted read reply is reported as EIO and its bytes are never returned. */
class ChecksumVerificationTest {

    /** Flips one byte of every Data reply while {@link #corrupt} is set. */
    static final class CorruptingVolume extends ForwardingVolume {
        final AtomicBoolean corrupt = new AtomicBoolean();

        CorruptingVolume(VolumeService delegate) {
            super(delegate);
        }

        @Override
        public CompletableFuture<Response> query(Request.Query q) {
            return delegate.query(q).thenApply(r -> {
                if (corrupt.get() && r instanceof Response.Data d && d.bytes().length > 0) {
                    byte[] flipped = d.bytes().clone();
                    flipped[flipped.length / 2] ^= 0x40;
                    return new Response.Data(flipped, d.crc32c());
                }
                return r;
            });
        }
    }

    @Test
    void flippedByteIsNeverServed() throws Exception {
        CorruptingVolume volume = new CorruptingVolume(new MemoryVolume());
        try (FileSystem fs = TestVolumes.open(volume)) {
            Path f = fs.getPath("/f");
            byte[] content = "hello, holdfast".getBytes();
            Files.write(f, content);
            assertThat(Files.readAllBytes(f)).isEqualTo(content);

            volume.corrupt.set(true);
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                ByteBuffer buf = ByteBuffer.allocate(64);
                assertThatThrownBy(() -> ch.read(buf)).isInstanceOfSatisfying(ErrnoFileSystemException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Errno.EIO);
                    assertThat(e.getMessage()).contains("checksum mismatch");
                });
                assertThat(buf.position()).as("no corrupt bytes delivered").isZero();
            }
            assertThatThrownBy(() -> Files.readAllBytes(f)).isInstanceOf(IOException.class);

            volume.corrupt.set(false);
            assertThat(Files.readAllBytes(f)).isEqualTo(content);
        }
    }
}
