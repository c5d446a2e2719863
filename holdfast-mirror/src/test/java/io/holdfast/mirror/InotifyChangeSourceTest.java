package io.holdfast.mirror;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;

/** The contract for the inotify fallback, and what is its own: one watch per directory. */
class InotifyChangeSourceTest extends LocalChangeSourceContract {
    @Override
    LocalChangeSource open(Path root, int capacity) throws IOException {
        return InotifyChangeSource.open(root, capacity, Clock.systemUTC());
    }

    @Override
    boolean reportsInodes() {
        return false;
    }

    @Override
    Path queueLimit() {
        return Path.of("/proc/sys/fs/inotify/max_queued_events");
    }

    @Override
    void holdReading(boolean hold) {
        ((InotifyChangeSource) source).holdReading(hold);
    }

    @Override
    boolean readingHeld() {
        return ((InotifyChangeSource) source).readingHeld();
    }

    @Override
    long overflows() {
        return ((InotifyChangeSource) source).overflows();
    }

    @Test
    void anEntryMadeBetweenTheWatchAndTheWalkIsReportedOnce() throws IOException {
        open(FanotifyChangeSource.DEFAULT_CAPACITY);
        // the race of mkdir -p on a busy machine, made certain: y is made after x's watch is added
        // (so x's watch queues its IN_CREATE) and before x is walked (so the walk finds it too)
        ((InotifyChangeSource) source).afterWatch(path -> {
            if (path.equals("/x")) {
                try {
                    Files.createDirectory(root.resolve("x/y"));
                    Files.createDirectory(root.resolve("x/y/z"));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        });
        Files.createDirectory(root.resolve("x"));
        tail.await("MKDIR /x", "MKDIR /x/y", "MKDIR /x/y/z");
        Files.createDirectory(root.resolve("marker"));
        tail.await("MKDIR /marker");
        assertThat(tail.seen).containsExactly("MKDIR /x", "MKDIR /x/y", "MKDIR /x/y/z", "MKDIR /marker");
    }

    @Test
    void watchesFollowTheDirectoriesOfTheTree() throws IOException {
        Files.createDirectories(root.resolve("p/q/r"));
        open(FanotifyChangeSource.DEFAULT_CAPACITY);
        InotifyChangeSource inotify = (InotifyChangeSource) source;
        assertThat(inotify.watchCount()).isEqualTo(4);
        Files.createDirectory(root.resolve("p/s"));
        tail.await("MKDIR /p/s");
        assertThat(inotify.watchCount()).isEqualTo(5);
        // moved out: p and everything under it stops being watched
        Files.move(root.resolve("p"), outside.resolve("p"));
        tail.await("RMDIR /p");
        assertThat(inotify.watchCount()).isEqualTo(1);
        Files.writeString(outside.resolve("p/q/after"), "not ours");
        Files.createDirectory(root.resolve("marker"));
        tail.await("MKDIR /marker");
        assertThat(tail.seen).containsExactly("MKDIR /p/s", "RMDIR /p", "MKDIR /marker");
    }
}
