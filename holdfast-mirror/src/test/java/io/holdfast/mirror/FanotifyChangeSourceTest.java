package io.holdfast.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.protocol.Response;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;

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

    @Test
    void aKernelQueueOverflowIsAGapEveryReaderMustResyncOver() throws IOException {
        Path limitFile = Path.of("/proc/sys/fs/fanotify/max_queued_events");
        assumeTrue(Files.isReadable(limitFile), "no " + limitFile + " (Linux before 5.13)");
        // readAllLines: Files.readString reads one byte of a procfs file here (it reports size 0)
        int limit = Integer.parseInt(Files.readAllLines(limitFile).getFirst().trim());
        assumeTrue(limit <= 100_000, "the kernel queues " + limit + " fanotify events: too many to overflow here");
        open(FanotifyChangeSource.DEFAULT_CAPACITY);
        FanotifyChangeSource fanotify = (FanotifyChangeSource) source;
        Files.createDirectory(root.resolve("before"));
        tail.await("MKDIR /before");
        long position = tail.position;
        fanotify.holdReading(true);
        long held = System.nanoTime() + 10_000_000_000L;
        while (!fanotify.readingHeld()) {
            assertThat(System.nanoTime()).as("waiting for the reader to hold").isLessThan(held);
            Thread.onSpinWait();
        }
        // one event per new name (distinct names are never merged): more than the kernel queues
        for (int i = 0; i < limit + 2_000; i++) {
            Files.createFile(root.resolve("f" + i));
        }
        fanotify.holdReading(false);
        long deadline = System.nanoTime() + 60_000_000_000L;
        Response.ChangePage page = source.changes(position, 1024, 0);
        while (!page.resyncNeeded(position)) {
            assertThat(System.nanoTime()).as("waiting for the overflow").isLessThan(deadline);
            page = source.changes(position, 1024, 200);
        }
        assertThat(fanotify.overflows()).isPositive();
        assertThat(page.records()).isEmpty();
        assertThat(page.trimmedThrough()).isGreaterThan(position);
        // after resynchronising, reading goes on after the gap
        Files.createDirectory(root.resolve("after"));
        long resumed = page.trimmedThrough();
        long deadline2 = System.nanoTime() + 60_000_000_000L;
        boolean seen = false;
        while (!seen) {
            assertThat(System.nanoTime()).as("waiting for MKDIR /after").isLessThan(deadline2);
            Response.ChangePage next = source.changes(resumed, 1024, 200);
            assertThat(next.resyncNeeded(resumed)).isFalse();
            seen = next.records().stream()
                    .anyMatch(r -> describe(r.changes().getFirst()).equals("MKDIR /after"));
            resumed = next.next(resumed);
        }
    }
}
