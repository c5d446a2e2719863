package io.holdfast.common;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.testing.TestSeed;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.InterruptedIOException;
import org.junit.jupiter.api.Test;

/**
 * {@link Pacer#paced}: a stream read through a pacer passes every byte unchanged and takes at
 * least (bytes − burst) / rate of the pacer's clock (a fake one here, advanced only by sleeping).
 */
class PacedStreamTest {
    private long nowNanos;

    private Pacer pacer(long bytesPerSecond) {
        return new Pacer(bytesPerSecond, () -> nowNanos, n -> nowNanos += n);
    }

    @Test
    void readsEveryByteAtTheRate() throws Exception {
        byte[] data = new byte[5 << 20];
        TestSeed.random("PacedStreamTest").nextBytes(data);
        Pacer p = pacer(1 << 20); // 1 MiB/s, burst 104857 bytes
        try (InputStream in = p.paced(new ByteArrayInputStream(data))) {
            byte[] back = new byte[data.length];
            int off = 0;
            back[off++] = (byte) in.read(); // the single-byte read is paced too
            while (off < back.length) {
                int n = in.read(back, off, Math.min(65536, back.length - off));
                assertThat(n).isPositive();
                off += n;
            }
            assertThat(in.read()).isEqualTo(-1);
            assertThat(back).isEqualTo(data);
        }
        double seconds = nowNanos / 1e9;
        double least = (data.length - p.burstBytes()) / (double) (1 << 20);
        assertThat(seconds).isGreaterThanOrEqualTo(least).isLessThan(least + 0.1);
    }

    @Test
    void anInterruptedReadFailsAndKeepsTheFlag() {
        Pacer p = new Pacer(1 << 20, System::nanoTime, n -> {
            throw new InterruptedException("stopping");
        });
        InputStream in = p.paced(new ByteArrayInputStream(new byte[1 << 20]));
        try {
            assertThatThrownBy(() -> in.readNBytes(1 << 20))
                    .isInstanceOf(InterruptedIOException.class)
                    .hasMessageContaining("pacing");
            assertThat(Thread.interrupted()).isTrue();
        } finally {
            Thread.interrupted();
        }
    }
}
