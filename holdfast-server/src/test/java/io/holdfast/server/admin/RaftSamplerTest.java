package io.holdfast.server.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Seeing a snapshot that Ratis is receiving, from its chunk files in the group's tmp directory. */
class RaftSamplerTest {
    @TempDir
    Path tmp;

    @Test
    void aTransferIsTheFreshChunkFilesUnderSnapshotDirectories() throws Exception {
        Instant now = Instant.parse("2026-01-01T00:00:00Z");
        assertThat(RaftSampler.transferBytes(tmp.resolve("missing"), now)).isEqualTo(-1);
        assertThat(RaftSampler.transferBytes(tmp, now)).isEqualTo(-1);
        Files.writeString(tmp.resolve("unrelated"), "x");
        assertThat(RaftSampler.transferBytes(tmp, now)).isEqualTo(-1);

        Path chunks = Files.createDirectories(tmp.resolve("snapshot-1a2b/sm"));
        Files.write(chunks.resolve("snapshot.1_200"), new byte[3000]);
        Files.write(chunks.resolve("snapshot.1_200.md5"), new byte[48]);
        for (Path f : new Path[] {chunks.resolve("snapshot.1_200"), chunks.resolve("snapshot.1_200.md5")}) {
            Files.setLastModifiedTime(f, FileTime.from(now.plusSeconds(1)));
        }
        assertThat(RaftSampler.transferBytes(tmp, now)).isEqualTo(3048);
        // untouched since: an abandoned transfer, not one in progress
        assertThat(RaftSampler.transferBytes(tmp, now.plusSeconds(60))).isEqualTo(-1);
    }
}
