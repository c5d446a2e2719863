package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.FileInfo;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class CopyProgressTest {
    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final CopyProgress progress =
            new CopyProgress(new PrintStream(bytes, true, StandardCharsets.UTF_8), now::get);

    private String shown() {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void shortSmallCopyShowsNothing() {
        progress.expect(3, 1000);
        progress.bytes(1000);
        progress.fileDone();
        now.addAndGet(1_000_000_000L);
        progress.finish();
        assertThat(shown()).isEmpty();
    }

    @Test
    void longCopyRedrawsAtMostFourTimesASecondWithRateAndEta() {
        progress.expect(10, 100_000_000L);
        now.addAndGet(2_000_000_000L);
        progress.bytes(50_000_000L); // 25 MB/s after 2 s, 2 s left
        assertThat(shown()).isEqualTo("\r0/10 files  47.7 MiB/95.4 MiB  23.8 MiB/s  ETA 0:02");
        now.addAndGet(100_000_000L);
        progress.fileDone(); // within 250 ms: not redrawn
        assertThat(shown()).doesNotContain("1/10");
        now.addAndGet(200_000_000L);
        progress.fileDone();
        assertThat(shown()).contains("\r2/10 files");
        progress.finish();
        assertThat(shown()).endsWith("\n");
    }

    @Test
    void bigCopyShowsAtOnce() {
        progress.expect(1, 100L << 20);
        progress.bytes(1);
        assertThat(shown()).startsWith("\r0/1 files  1 B/100 MiB");
    }

    @Test
    void aSlowCopyShowsItsRateInSmallerUnits() {
        progress.expect(1, 100L << 20);
        now.addAndGet(10_000_000_000L);
        progress.bytes(20_000); // 2000 B/s: "0.0 MB/s" before
        assertThat(shown()).isEqualTo("\r0/1 files  19.5 KiB/100 MiB  1.95 KiB/s  ETA 873:39");
    }

    @Test
    void modeStrings() {
        assertThat(FileInfo.modeString(FileInfo.S_IFDIR | 01777)).isEqualTo("drwxrwxrwt");
        assertThat(FileInfo.modeString(FileInfo.S_IFREG | 04755)).isEqualTo("-rwsr-xr-x");
        assertThat(FileInfo.modeString(FileInfo.S_IFREG | 02640)).isEqualTo("-rw-r-S---");
        assertThat(FileInfo.modeString(FileInfo.S_IFLNK | 0777)).isEqualTo("lrwxrwxrwx");
    }

    @Test
    void locationSyntax() {
        assertThat(Locations.volumeOf("mail:/a/b")).isEqualTo("mail");
        assertThat(Locations.volumeOf("mail:")).isEqualTo("mail");
        assertThat(Locations.volumeOf("./a:b")).isNull();
        assertThat(Locations.volumeOf("/tmp/x")).isNull();
        assertThat(Locations.volumeOf(":x")).isNull();
        assertThat(Locations.volumeOf("bad name:/x")).isNull();
    }
}
