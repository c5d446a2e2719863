package io.holdfast.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.abort;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.protocol.Change;
import io.holdfast.protocol.ChangeRecord;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every {@link LocalChangeSource} does, on a real directory of the machine's file system:
 * run for fanotify and for inotify by the subclasses. Skipped (with the reason) where the kind of
 * capture cannot work. Each step waits (with a deadline) for its changes to arrive before the
 * next, so the kernel cannot merge events of different steps and the expected order is exact.
 */
abstract class LocalChangeSourceContract {
    private static final long DEADLINE_MILLIS = 20_000;

    @TempDir
    Path temp;

    Path root;
    Path outside;
    LocalChangeSource source;
    Tail tail;

    /**
     * Opens the source under test on {@code root}.
     *
     * @throws ChangeCaptureUnavailableException if it cannot work here (the test is then skipped)
     */
    abstract LocalChangeSource open(Path root, int capacity) throws IOException;

    /** Whether {@link Change#inode()} carries inode numbers. */
    abstract boolean reportsInodes();

    /** The sysctl file with the kernel's queue limit of this kind of capture. */
    abstract Path queueLimit();

    /** Holds or releases the source's reader thread. */
    abstract void holdReading(boolean hold);

    /** Whether the source's reader thread holds now. */
    abstract boolean readingHeld();

    /** The kernel queue overflows the source has seen. */
    abstract long overflows();

    @BeforeEach
    void setUp() throws IOException {
        root = Files.createDirectory(temp.resolve("tree"));
        outside = Files.createDirectory(temp.resolve("elsewhere"));
    }

    @AfterEach
    void tearDown() {
        if (source != null) {
            source.close();
        }
    }

    void open(int capacity) throws IOException {
        try {
            source = open(root, capacity);
        } catch (ChangeCaptureUnavailableException e) {
            abort(getClass().getSimpleName() + ": capture is unavailable here (" + e.reason() + "): " + e.getMessage());
        }
        tail = new Tail(source);
    }

    /** A reader that keeps its position and everything it has read. */
    static final class Tail {
        final LocalChangeSource source;
        long position;
        final List<String> seen = new ArrayList<>();
        /** Every change read, repeated WRITEs included. */
        final List<Change> changes = new ArrayList<>();

        Tail(LocalChangeSource source) {
            this.source = source;
        }

        /** Reads until the changes read so far end with {@code expected}, or fails at the deadline. */
        void await(String... expected) throws IOException {
            long deadline = System.nanoTime() + DEADLINE_MILLIS * 1_000_000;
            List<String> want = List.of(expected);
            while (!endsWith(want)) {
                if (System.nanoTime() > deadline) {
                    fail("waited " + DEADLINE_MILLIS + " ms for " + want + "; read " + seen);
                }
                Response.ChangePage page = source.changes(position, 1024, 200);
                assertThat(page.resyncNeeded(position))
                        .as("no overflow or trim in this test (read %s)", seen)
                        .isFalse();
                for (ChangeRecord r : page.records()) {
                    for (Change c : r.changes()) {
                        String d = describe(c);
                        // A WRITE record may be replaced by a newer one after this reader read it (the
                        // queue coalesces into its newest record): the same WRITE then reads twice.
                        if (c.kind() != Change.Kind.WRITE
                                || seen.isEmpty()
                                || !seen.getLast().equals(d)) {
                            seen.add(d);
                        }
                        changes.add(c);
                    }
                }
                position = page.next(position);
            }
        }

        private boolean endsWith(List<String> want) {
            return seen.size() >= want.size()
                    && seen.subList(seen.size() - want.size(), seen.size()).equals(want);
        }
    }

    static String describe(Change c) {
        return c.kind() + " " + (c.from() == null ? "" : c.from() + " -> ") + c.path();
    }

    private static long inode(Path p) throws IOException {
        return ((Number) Files.getAttribute(p, "unix:ino", LinkOption.NOFOLLOW_LINKS)).longValue();
    }

    @Test
    void reportsTheTreeChangesInOrderWithPathsRelativeToTheRoot() throws IOException {
        open(FanotifyChangeSource.DEFAULT_CAPACITY);
        Files.createDirectory(root.resolve("a"));
        tail.await("MKDIR /a");
        Files.writeString(root.resolve("a/f"), "hello");
        tail.await("CREATE /a/f", "WRITE /a/f");
        long fileInode = inode(root.resolve("a/f"));
        Files.setPosixFilePermissions(root.resolve("a/f"), PosixFilePermissions.fromString("rw-------"));
        tail.await("SETATTR /a/f");
        Files.move(root.resolve("a/f"), root.resolve("a/g"));
        tail.await("RENAME /a/f -> /a/g");
        Files.move(root.resolve("a"), root.resolve("b"));
        tail.await("RENAME /a -> /b");
        // later events inside the renamed directory carry its new name
        Files.writeString(root.resolve("b/g"), " again", StandardOpenOption.APPEND);
        tail.await("WRITE /b/g");
        Files.createDirectory(root.resolve("b/c"));
        tail.await("MKDIR /b/c");
        Files.writeString(root.resolve("b/c/h"), "x");
        tail.await("CREATE /b/c/h", "WRITE /b/c/h");
        // moves in from outside the tree: a file, then a directory with content
        Files.writeString(outside.resolve("x"), "from outside");
        Files.move(outside.resolve("x"), root.resolve("x"));
        tail.await("CREATE /x");
        Files.createDirectory(outside.resolve("d"));
        Files.writeString(outside.resolve("d/inner"), "inner");
        Files.move(outside.resolve("d"), root.resolve("d"));
        tail.await("MKDIR /d");
        Files.writeString(root.resolve("d/inner"), "changed");
        tail.await("WRITE /d/inner");
        // moves out of the tree
        Files.move(root.resolve("b/g"), outside.resolve("g"));
        tail.await("UNLINK /b/g");
        Files.move(root.resolve("d"), outside.resolve("d2"));
        tail.await("RMDIR /d");
        // deletes
        Files.delete(root.resolve("b/c/h"));
        tail.await("UNLINK /b/c/h");
        Files.delete(root.resolve("b/c"));
        tail.await("RMDIR /b/c");
        Files.delete(root.resolve("x"));
        tail.await("UNLINK /x");
        Files.delete(root.resolve("b"));
        tail.await("RMDIR /b");

        assertThat(tail.seen)
                .containsExactly(
                        "MKDIR /a",
                        "CREATE /a/f",
                        "WRITE /a/f",
                        "SETATTR /a/f",
                        "RENAME /a/f -> /a/g",
                        "RENAME /a -> /b",
                        "WRITE /b/g",
                        "MKDIR /b/c",
                        "CREATE /b/c/h",
                        "WRITE /b/c/h",
                        "CREATE /x",
                        "MKDIR /d",
                        "WRITE /d/inner",
                        "UNLINK /b/g",
                        "RMDIR /d",
                        "UNLINK /b/c/h",
                        "RMDIR /b/c",
                        "UNLINK /x",
                        "RMDIR /b");
        // the file's inode number travels with its changes (fanotify: ext4 handles encode it)
        List<Change> ofTheFile =
                tail.changes.stream().filter(c -> c.path().startsWith("/a/")).toList();
        assertThat(ofTheFile).hasSizeGreaterThanOrEqualTo(4);
        assertThat(ofTheFile).allSatisfy(c -> assertThat(c.inode()).isEqualTo(reportsInodes() ? fileInode : 0));
    }

    /** Runs {@code command} with sh in the root, as a user of the tree would, and checks it succeeded. */
    private void sh(String command) throws IOException {
        Process p = new ProcessBuilder("sh", "-c", command)
                .directory(root.toFile())
                .redirectErrorStream(true)
                .start();
        try {
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor()).as("%s: %s", command, output).isZero();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    @Test
    void ordinaryToolsAreSeenAsTheirSystemCalls() throws IOException {
        open(FanotifyChangeSource.DEFAULT_CAPACITY);
        sh("mkdir -p x/y");
        tail.await("MKDIR /x", "MKDIR /x/y");
        sh("printf hello > x/y/h");
        tail.await("CREATE /x/y/h", "WRITE /x/y/h");
        sh("ln -s h x/y/l");
        tail.await("CREATE /x/y/l");
        sh("chmod 600 x/y/h");
        tail.await("SETATTR /x/y/h");
        sh("mv x z");
        tail.await("RENAME /x -> /z");
        // -c: utimensat by name (plain touch also opens the file for writing; fanotify may then merge
        // the ATTRIB and the CLOSE_WRITE into one event, reported write first)
        sh("touch -c z/y/h");
        tail.await("SETATTR /z/y/h");
        sh("cp z/y/h z/copy");
        tail.await("CREATE /z/copy", "WRITE /z/copy");
        sh("rm z/y/l z/copy");
        tail.await("UNLINK /z/y/l", "UNLINK /z/copy");
        sh("rm -r z");
        tail.await("UNLINK /z/y/h", "RMDIR /z/y", "RMDIR /z");
        assertThat(tail.seen)
                .containsExactly(
                        "MKDIR /x",
                        "MKDIR /x/y",
                        "CREATE /x/y/h",
                        "WRITE /x/y/h",
                        "CREATE /x/y/l",
                        "SETATTR /x/y/h",
                        "RENAME /x -> /z",
                        "SETATTR /z/y/h",
                        "CREATE /z/copy",
                        "WRITE /z/copy",
                        "UNLINK /z/y/l",
                        "UNLINK /z/copy",
                        "UNLINK /z/y/h",
                        "RMDIR /z/y",
                        "RMDIR /z");
    }

    @Test
    void activityElsewhereOnTheSameFileSystemIsNotReported() throws IOException {
        // a sibling whose name starts with the root's must not count as inside it
        Path sibling = Files.createDirectory(temp.resolve("tree2"));
        open(FanotifyChangeSource.DEFAULT_CAPACITY);
        for (int i = 0; i < 20; i++) {
            Files.writeString(outside.resolve("noise" + i), "noise");
            Files.createDirectory(sibling.resolve("dir" + i));
            Files.move(outside.resolve("noise" + i), sibling.resolve("dir" + i + "/moved"));
        }
        Files.writeString(root.resolve("marker"), "m");
        tail.await("CREATE /marker", "WRITE /marker");
        assertThat(tail.seen).containsExactly("CREATE /marker", "WRITE /marker");
    }

    @Test
    void consecutiveWritesOfOneFileAreCoalesced() throws IOException {
        open(FanotifyChangeSource.DEFAULT_CAPACITY);
        Path f = root.resolve("log");
        Files.writeString(f, "0");
        tail.await("CREATE /log", "WRITE /log");
        for (int i = 1; i <= 50; i++) {
            Files.writeString(f, Integer.toString(i), StandardOpenOption.APPEND);
        }
        Files.createDirectory(root.resolve("after"));
        tail.await("MKDIR /after");
        assertThat(tail.seen).containsExactly("CREATE /log", "WRITE /log", "MKDIR /after");
        // fifty appends, each a MODIFY and a CLOSE_WRITE (100 events), read as one WRITE record after
        // the first on a quiet machine (two if the first CLOSE_WRITE was read apart from its MODIFY); a
        // loaded machine lets the capture thread read between appends, and a record already handed
        // out is not replaced: 5 were seen with both cores busy. Far fewer than the events, either way.
        assertThat(tail.changes.stream().filter(c -> c.kind() == Change.Kind.WRITE))
                .hasSizeBetween(2, 20);
    }

    @Test
    void aReaderBehindTheBoundedQueueMustResync() throws IOException {
        open(4);
        for (int i = 0; i < 10; i++) {
            Files.createDirectory(root.resolve("d" + i));
        }
        long deadline = System.nanoTime() + DEADLINE_MILLIS * 1_000_000;
        Response.ChangePage behind = source.changes(0, 1024, 0);
        while (!behind.resyncNeeded(0) || behind.appliedIndex() < 10) {
            assertThat(System.nanoTime()).as("waiting for ten records").isLessThan(deadline);
            source.changes(behind.appliedIndex(), 1024, 200);
            behind = source.changes(0, 1024, 0);
        }
        assertThat(behind.records()).isEmpty();
        assertThat(behind.trimmedThrough()).isEqualTo(6);
        // one who continues after the trimmed part reads the four kept, newest last
        Response.ChangePage kept = source.changes(behind.trimmedThrough(), 1024, 0);
        assertThat(kept.resyncNeeded(behind.trimmedThrough())).isFalse();
        assertThat(kept.records())
                .extracting(r -> describe(r.changes().getFirst()))
                .containsExactly("MKDIR /d6", "MKDIR /d7", "MKDIR /d8", "MKDIR /d9");
        assertThat(kept.records()).extracting(ChangeRecord::index).containsExactly(7L, 8L, 9L, 10L);
    }

    @Test
    void aPositionFromAnotherInstanceMustResync() throws IOException {
        open(FanotifyChangeSource.DEFAULT_CAPACITY);
        Files.createDirectory(root.resolve("one"));
        tail.await("MKDIR /one");
        long position = tail.position;
        long epoch = source.epoch();
        source.close();
        open(FanotifyChangeSource.DEFAULT_CAPACITY);
        tail = new Tail(source);
        assertThat(source.epoch()).isNotEqualTo(epoch);
        Response.ChangePage page = source.changes(position, 10, 0);
        assertThat(page.resyncNeeded(position)).isTrue();
        assertThat(page.appliedIndex()).isZero();
        assertThat(page.records()).isEmpty();
    }

    @Test
    void closeStopsPromptlyAndLaterCallsFail() throws IOException {
        open(FanotifyChangeSource.DEFAULT_CAPACITY);
        long start = System.nanoTime();
        source.close();
        assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(5_000);
        assertThatThrownBy(() -> source.changes(0, 1, 0)).isInstanceOf(IllegalStateException.class);
        source.close(); // idempotent
    }

    @Test
    void removingTheRootStopsCaptureWithAClearError() throws IOException {
        open(FanotifyChangeSource.DEFAULT_CAPACITY);
        Files.delete(root);
        long deadline = System.nanoTime() + DEADLINE_MILLIS * 1_000_000;
        while (true) {
            assertThat(System.nanoTime()).as("waiting for the failure").isLessThan(deadline);
            try {
                source.changes(0, 10, 200);
            } catch (IOException e) {
                assertThat(e).hasMessageContaining("removed").hasMessageContaining(root.toString());
                break;
            }
        }
    }

    @Test
    void aNonDirectoryIsRefused() throws IOException {
        Path file = Files.writeString(temp.resolve("file"), "f", StandardCharsets.UTF_8);
        assertThatThrownBy(() -> open(file, 10)).isInstanceOf(NotDirectoryException.class);
    }

    @Test
    void aKernelQueueOverflowIsAGapEveryReaderMustResyncOver() throws IOException {
        Path limitFile = queueLimit();
        assumeTrue(Files.isReadable(limitFile), "no " + limitFile);
        // readAllLines: Files.readString reads one byte of a procfs file here (it reports size 0)
        int limit = Integer.parseInt(Files.readAllLines(limitFile).getFirst().trim());
        assumeTrue(limit <= 100_000, "the kernel queues " + limit + " events: too many to overflow here");
        open(FanotifyChangeSource.DEFAULT_CAPACITY);
        Files.createDirectory(root.resolve("before"));
        tail.await("MKDIR /before");
        long position = tail.position;
        holdReading(true);
        long held = System.nanoTime() + 10_000_000_000L;
        while (!readingHeld()) {
            assertThat(System.nanoTime()).as("waiting for the reader to hold").isLessThan(held);
            Thread.onSpinWait();
        }
        // one event per new name (distinct names are never merged): more than the kernel queues
        for (int i = 0; i < limit + 2_000; i++) {
            Files.createFile(root.resolve("f" + i));
        }
        Files.createDirectory(root.resolve("during")); // its own event is lost
        holdReading(false);
        long deadline = System.nanoTime() + 60_000_000_000L;
        Response.ChangePage page = source.changes(position, 1024, 0);
        while (!page.resyncNeeded(position)) {
            assertThat(System.nanoTime()).as("waiting for the overflow").isLessThan(deadline);
            page = source.changes(position, 1024, 200);
        }
        assertThat(overflows()).isPositive();
        assertThat(page.records()).isEmpty();
        assertThat(page.trimmedThrough()).isGreaterThan(position);
        // after resynchronising, reading goes on after the gap, in directories made during it too
        Files.writeString(root.resolve("during/after"), "x");
        long resumed = page.trimmedThrough();
        long deadline2 = System.nanoTime() + 60_000_000_000L;
        boolean seen = false;
        while (!seen) {
            assertThat(System.nanoTime()).as("waiting for CREATE /during/after").isLessThan(deadline2);
            Response.ChangePage next = source.changes(resumed, 1024, 200);
            assertThat(next.resyncNeeded(resumed)).isFalse();
            seen = next.records().stream()
                    .anyMatch(r -> describe(r.changes().getFirst()).equals("CREATE /during/after"));
            resumed = next.next(resumed);
        }
    }
}
