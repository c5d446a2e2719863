package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.mirror.LocalChangeSource;
import io.holdfast.protocol.Response;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code holdfast mirror}: a tree replicated once, and a restarted capture never trusted with an old position. */
class MirrorCommandTest {
    @TempDir
    Path tmp;

    @Test
    void onceCopiesTheTreeAndASecondRunOnlyWhatChanged() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src/a/b"));
        Files.writeString(src.resolve("m1"), "one");
        Files.createSymbolicLink(tmp.resolve("src/link"), Path.of("a/b/m1"));
        Path dst = tmp.resolve("dst");
        Cli first = Cli.run("mirror", tmp.resolve("src").toString(), dst.toString(), "--once");
        assertThat(first.exit()).as(first.err()).isZero();
        assertThat(Files.readString(dst.resolve("a/b/m1"))).isEqualTo("one");
        assertThat(Files.readSymbolicLink(dst.resolve("link"))).isEqualTo(Path.of("a/b/m1"));
        assertThat(first.out()).contains("copied 1 files");

        Files.writeString(src.resolve("m2"), "two");
        Files.delete(src.resolve("m1"));
        Cli second = Cli.run("mirror", tmp.resolve("src").toString(), dst.toString(), "--once");
        assertThat(second.exit()).as(second.err()).isZero();
        assertThat(Files.readString(dst.resolve("a/b/m2"))).isEqualTo("two");
        assertThat(Files.exists(dst.resolve("a/b/m1"))).isFalse();
        assertThat(second.out()).contains("copied 1 files").contains("1 deletes");

        assertThat(Cli.run(
                                "mirror",
                                tmp.resolve("src").toString(),
                                tmp.resolve("src/a").toString(),
                                "--once")
                        .exit())
                .as("a target inside the source")
                .isEqualTo(2);
    }

    @Test
    void aPositionFromAnEarlierCaptureAsksForAFullSynchronisation() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("watched"));
        try (LocalChangeSource capture = LocalChangeSource.open(src)) {
            MirrorCommand.Restartable feed = new MirrorCommand.Restartable(capture, 1_000_000);
            Response.ChangePage old = feed.changes(999_999, 10, 0);
            assertThat(old.resyncNeeded(999_999)).isTrue();
            Files.writeString(src.resolve("f"), "x");
            long at = old.next(999_999);
            Response.ChangePage p = feed.changes(at, 10, 0);
            for (int i = 0; i < 100 && p.records().isEmpty(); i++) {
                p = feed.changes(at, 10, 500); // held up to 0.5 s each: the event reaches the queue
            }
            assertThat(p.resyncNeeded(at)).isFalse();
            assertThat(p.records()).isNotEmpty();
            assertThat(p.records().getFirst().index()).isGreaterThan(1_000_000);
            assertThat(p.records().getFirst().changes().getFirst().path()).isEqualTo("/f");
        }
    }
}
