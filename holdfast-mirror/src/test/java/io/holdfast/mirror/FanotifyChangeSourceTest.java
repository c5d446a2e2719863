package io.holdfast.mirror;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;

/** The contract for fanotify capture: needs root, Linux 5.17+, and a file system with file ids (ext4 here). */
class FanotifyChangeSourceTest extends LocalChangeSourceContract {
    @Override
    LocalChangeSource open(Path root, int capacity) throws IOException {
        return FanotifyChangeSource.open(root, capacity, Clock.systemUTC());
    }

    @Override
    boolean reportsInodes() {
        return true;
    }

    @Override
    Path queueLimit() {
        return Path.of("/proc/sys/fs/fanotify/max_queued_events");
    }

    @Override
    void holdReading(boolean hold) {
        ((FanotifyChangeSource) source).holdReading(hold);
    }

    @Override
    boolean readingHeld() {
        return ((FanotifyChangeSource) source).readingHeld();
    }

    @Override
    long overflows() {
        return ((FanotifyChangeSource) source).overflows();
    }
}
