package io.holdfast.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The catch-up bench's settings and work directory; nothing here starts a node. */
class CatchUpBenchTest {
    @TempDir
    Path tmp;

    @Test
    void settingsAreCheckedAndSizeTheDiskSpaceNeeded() {
        CatchUpBench.Settings s = new CatchUpBench.Settings(null, 1L << 30, List.of(8L << 20, 32L << 20), 20, 20_000);
        assertThat(s.bytesNeeded()).isEqualTo((1L << 30) * (12 + 3 * 2) + (1L << 30));
        assertThat(s.withDir(tmp).dir()).isEqualTo(tmp);
        assertThat(s.withDir(tmp).ratesBytesPerSecond()).isEqualTo(s.ratesBytesPerSecond());
        assertThatIllegalArgumentException()
                .isThrownBy(() -> new CatchUpBench.Settings(tmp, 0, List.of(1L), 20, 1))
                .withMessageContaining("data size");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> new CatchUpBench.Settings(tmp, 1, List.of(), 20, 1))
                .withMessageContaining("positive rates");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> new CatchUpBench.Settings(tmp, 1, List.of(0L), 20, 1))
                .withMessageContaining("positive rates");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> new CatchUpBench.Settings(tmp, 1, List.of(1L), 3601, 1))
                .withMessageContaining("baseline");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> new CatchUpBench.Settings(tmp, 1, List.of(1L), 20, 0))
                .withMessageContaining("snapshot threshold");
    }

    @Test
    void theWorkDirectoryIsNewOrEmptyOrAFreshTemporaryOne() throws IOException {
        Path fresh = CatchUpBenchRun.prepareWorkDirectory(tmp.resolve("new/dir"));
        assertThat(fresh).isDirectory().isEqualTo(tmp.resolve("new/dir").toAbsolutePath());
        assertThat(CatchUpBenchRun.prepareWorkDirectory(fresh))
                .as("empty: taken")
                .isEqualTo(fresh);
        Files.writeString(fresh.resolve("x"), "x");
        assertThatIllegalArgumentException()
                .isThrownBy(() -> CatchUpBenchRun.prepareWorkDirectory(fresh))
                .withMessageContaining("is not empty");
        Path temp = CatchUpBenchRun.prepareWorkDirectory(null);
        try {
            assertThat(temp).isEmptyDirectory();
            assertThat(temp.getFileName().toString()).startsWith("holdfast-catchup-");
        } finally {
            Files.delete(temp);
        }
    }
}
