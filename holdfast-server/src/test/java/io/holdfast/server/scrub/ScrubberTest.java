package io.holdfast.server.scrub;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.protocol.Request;
import org.junit.jupiter.api.Test;

/** Which queries are the scrubber's: file-system reads never pass through it. */
class ScrubberTest {
    @Test
    void scrubQueriesAreTheScrubbersAndFileSystemQueriesAreNot() {
        assertThat(Scrubber.handles(new Request.ScrubRead(5, 0))).isTrue();
        assertThat(Scrubber.handles(new Request.MarkDigest(7))).isTrue();
        assertThat(Scrubber.handles(new Request.MarkDirectories(7, -1, 10))).isTrue();
        assertThat(Scrubber.handles(new Request.ScrubControl(Request.ScrubControl.Action.STATUS, 0)))
                .isTrue();
        assertThat(Scrubber.handles(new Request.SnapshotRead(0, 0, 4096))).isTrue();

        assertThat(Scrubber.handles(new Request.GetAttr("/a", true))).isFalse();
        assertThat(Scrubber.handles(new Request.Read(5, 0, 4096))).isFalse();
        assertThat(Scrubber.handles(new Request.ReadDir("/", "", 10))).isFalse();
        assertThat(Scrubber.handles(new Request.GetDigest())).isFalse();
    }
}
