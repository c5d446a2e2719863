package io.holdfast.server.scrub;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Pacer;
import io.holdfast.server.ScrubSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rebuild attempt counts only once the member's group is ready: a scrubber that ran before
 * Ratis had loaded its log used to wait {@link Rebuild#RETRY_NANOS} (5 min) before trying again.
 */
class RebuildTest {
    @TempDir
    Path tmp;

    private Quarantine quarantined(Path brickDir, ScrubSettings settings, ScrubGroup group) throws IOException {
        Files.createDirectories(brickDir.resolve("scrub"));
        Files.writeString(brickDir.resolve("scrub").resolve("quarantine"), "block 3 of inode 9 is corrupt");
        Quarantine q = new Quarantine(brickDir, "127.0.0.1:1", settings, group, new Findings());
        assertThat(q.quarantined()).isTrue();
        return q;
    }

    @Test
    void aGroupThatIsNotReadyIsAskedAgainAtOnce() throws Exception {
        Path brickDir = tmp.resolve("brick");
        AtomicInteger lookups = new AtomicInteger();
        ScrubGroup group = new ScrubGroup(
                () -> {
                    if (lookups.incrementAndGet() == 1) {
                        throw new IllegalStateException(
                                "log is uninitialized"); // what Ratis said before it loaded the log
                    }
                    throw new IOException("not part of the group yet");
                },
                null);
        Quarantine q = quarantined(brickDir, ScrubSettings.DEFAULT, group);
        Rebuild rebuild = new Rebuild(
                null, brickDir, ScrubSettings.DEFAULT, group, q, new Findings(), new Pacer(1 << 20), () -> null);

        assertThat(rebuild.rebuildIfQuarantined()).isFalse();
        assertThat(rebuild.rebuildIfQuarantined()).isFalse();
        assertThat(rebuild.rebuildIfQuarantined()).isFalse();
        assertThat(lookups).hasValue(3); // no attempt was counted, so none waits out the retry interval
        assertThat(q.quarantined()).isTrue();
    }

    @Test
    void noRebuildWhenTurnedOff() throws Exception {
        Path brickDir = tmp.resolve("brick");
        AtomicInteger lookups = new AtomicInteger();
        ScrubGroup group = new ScrubGroup(
                () -> {
                    lookups.incrementAndGet();
                    throw new IOException("not part of the group yet");
                },
                null);
        ScrubSettings off = ScrubSettings.DEFAULT.withRebuild(false);
        Rebuild rebuild = new Rebuild(
                null,
                brickDir,
                off,
                group,
                quarantined(brickDir, off, group),
                new Findings(),
                new Pacer(1 << 20),
                () -> null);

        assertThat(rebuild.rebuildIfQuarantined()).isFalse();
        assertThat(lookups).hasValue(0);
    }
}
