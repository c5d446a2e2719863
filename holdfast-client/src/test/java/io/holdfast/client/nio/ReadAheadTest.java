package io.holdfast.client.nio;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.testing.TestSeed;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The channel's blocks and read-ahead ask the volume for every 1 MiB block of a file read from
 * start to end once: in order, and in 128 KiB pieces that arrive out of order within two blocks (a
 * FUSE mount's multithreaded loop serving the kernel's read-ahead). The first version fetched most
 * blocks twice: its least-recently-used trim dropped blocks fetched ahead before they were read.
 */
class ReadAheadTest {
    private static final int MIB = 1 << 20;
    private static final int BLOCKS = 40;

    /** Counts the reads of file content that reach the volume. */
    static final class CountingVolume extends ForwardingVolume {
        final AtomicLong reads = new AtomicLong();

        CountingVolume(VolumeService delegate) {
            super(delegate);
        }

        @Override
        public CompletableFuture<Response> query(Request.Query q) {
            if (q instanceof Request.Read) {
                reads.incrementAndGet();
            }
            return delegate.query(q);
        }
    }

    private static byte[] content() {
        byte[] b = new byte[BLOCKS * MIB + 12345]; // a short last block
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (i * 31 + (i >>> 20));
        }
        return b;
    }

    @Test
    void sequentialReadFetchesEachBlockOnce() throws Exception {
        CountingVolume volume = new CountingVolume(new MemoryVolume());
        byte[] content = content();
        try (FileSystem fs = TestVolumes.open(volume)) {
            Path f = fs.getPath("/f");
            Files.write(f, content);
            volume.reads.set(0);
            byte[] got = new byte[content.length];
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                ByteBuffer buf = ByteBuffer.allocate(128 * 1024);
                int at = 0;
                int n;
                while ((n = ch.read(buf.clear())) > 0) {
                    System.arraycopy(buf.array(), 0, got, at, n);
                    at += n;
                }
                assertThat(at).isEqualTo(content.length);
            }
            assertThat(got).isEqualTo(content);
            assertThat(volume.reads.get()).as("reads of the volume").isEqualTo(BLOCKS + 1);
        }
    }

    @Test
    void piecesOutOfOrderFetchEachBlockOnce() throws Exception {
        CountingVolume volume = new CountingVolume(new MemoryVolume());
        byte[] content = content();
        int piece = 128 * 1024;
        List<Long> offsets = new ArrayList<>();
        for (long at = 0; at < content.length; at += piece) {
            offsets.add(at);
        }
        // the kernel's concurrent reads as the FUSE loop's threads happen to take the channel's
        // lock: in order but for each piece taking its turn up to three pieces late or early
        // (across a block boundary too). Each piece is displaced at most three places: repeated
        // swaps could carry one piece blocks behind, which is a seek back, not a late piece.
        Random random = TestSeed.random("read-ahead-pieces");
        Map<Long, Integer> turn = new HashMap<>();
        for (int i = 0; i < offsets.size(); i++) {
            turn.put(offsets.get(i), random.nextInt(3) == 0 ? i + 1 + random.nextInt(3) : i);
        }
        offsets.sort(Comparator.comparing(turn::get)); // stable: ties keep their order
        try (FileSystem fs = TestVolumes.open(volume)) {
            Path f = fs.getPath("/f");
            Files.write(f, content);
            volume.reads.set(0);
            byte[] got = new byte[content.length];
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                for (long at : offsets) {
                    ByteBuffer buf = ByteBuffer.allocate(piece);
                    int n = ch.read(buf, at);
                    assertThat(n).isEqualTo((int) Math.min(piece, content.length - at));
                    System.arraycopy(buf.array(), 0, got, (int) at, n);
                }
            }
            assertThat(Arrays.equals(got, content)).isTrue();
            assertThat(volume.reads.get()).as("reads of the volume").isEqualTo(BLOCKS + 1);
        }
    }
}
