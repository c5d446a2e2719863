package io.holdfast.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.protocol.Change;
import io.holdfast.protocol.Change.Kind;
import io.holdfast.protocol.ChangeRecord;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ChangeQueueTest {
    private static final Instant T = Instant.parse("2026-12-06T10:00:00.123456789Z");

    private final ChangeQueue queue = new ChangeQueue(1000, InstantSource.fixed(T));

    private static Change write(String path) {
        return new Change(Kind.WRITE, 7, path, null, 0, 0);
    }

    private static List<String> paths(Response.ChangePage page) {
        return page.records().stream()
                .map(r -> r.index() + " " + r.changes().getFirst().kind() + " "
                        + r.changes().getFirst().path())
                .toList();
    }

    @Test
    void numbersRecordsFromOneAndPagesThem() throws IOException {
        for (int i = 0; i < 5; i++) {
            queue.append(Change.of(Kind.CREATE, i, "/f" + i));
        }
        Response.ChangePage first = queue.changes(0, 2, 0);
        assertThat(paths(first)).containsExactly("1 CREATE /f0", "2 CREATE /f1");
        assertThat(first.more()).isTrue();
        assertThat(first.appliedIndex()).isEqualTo(5);
        assertThat(first.trimmedThrough()).isZero();
        assertThat(first.records().getFirst().timeNanos()).isEqualTo(T.getEpochSecond() * 1_000_000_000L + T.getNano());
        Response.ChangePage rest = queue.changes(first.next(0), 10, 0);
        assertThat(paths(rest)).containsExactly("3 CREATE /f2", "4 CREATE /f3", "5 CREATE /f4");
        assertThat(rest.more()).isFalse();
        assertThat(rest.next(first.next(0))).isEqualTo(5);
        Response.ChangePage none = queue.changes(5, 10, 0);
        assertThat(none.records()).isEmpty();
        assertThat(none.resyncNeeded(5)).isFalse();
    }

    @Test
    void consecutiveWritesOfOnePathAreCoalescedIntoTheNewest() throws IOException {
        queue.append(Change.of(Kind.CREATE, 7, "/a"));
        queue.append(write("/a"));
        Response.ChangePage seen = queue.changes(0, 10, 0);
        queue.append(write("/a"));
        queue.append(write("/a"));
        queue.append(write("/b"));
        queue.append(write("/a"));
        assertThat(paths(queue.changes(0, 10, 0)))
                .containsExactly("1 CREATE /a", "4 WRITE /a", "5 WRITE /b", "6 WRITE /a");
        // a reader that had read the replaced record (2) reads its replacement next
        assertThat(paths(queue.changes(seen.next(0), 10, 0))).containsExactly("4 WRITE /a", "5 WRITE /b", "6 WRITE /a");
        // a WRITE of the same path but another inode (a new file under the name) is not merged
        queue.append(new Change(Kind.WRITE, 8, "/a", null, 0, 0));
        assertThat(queue.changes(6, 10, 0).records()).hasSize(1);
    }

    @Test
    void aReaderBehindTheBoundMustResync() throws IOException {
        ChangeQueue small = new ChangeQueue(3, InstantSource.fixed(T));
        for (int i = 1; i <= 5; i++) {
            small.append(Change.of(Kind.MKDIR, 0, "/d" + i));
        }
        for (long behind : new long[] {0, 1}) {
            Response.ChangePage page = small.changes(behind, 10, 0);
            assertThat(page.resyncNeeded(behind)).isTrue();
            assertThat(page.records()).isEmpty();
            assertThat(page.trimmedThrough()).isEqualTo(2);
            assertThat(page.appliedIndex()).isEqualTo(5);
        }
        Response.ChangePage kept = small.changes(2, 10, 0);
        assertThat(kept.resyncNeeded(2)).isFalse();
        assertThat(paths(kept)).containsExactly("3 MKDIR /d3", "4 MKDIR /d4", "5 MKDIR /d5");
    }

    @Test
    void lostEventsAreAGapEveryEarlierReaderMustResyncOver() throws IOException {
        queue.append(Change.of(Kind.MKDIR, 0, "/a"));
        queue.lost();
        queue.append(Change.of(Kind.MKDIR, 0, "/b"));
        Response.ChangePage atOne = queue.changes(1, 10, 0);
        assertThat(atOne.resyncNeeded(1)).isTrue();
        assertThat(atOne.trimmedThrough()).isEqualTo(2);
        assertThat(atOne.records()).isEmpty();
        // after resynchronising the reader continues after the applied index... or after the gap
        assertThat(paths(queue.changes(2, 10, 0))).containsExactly("3 MKDIR /b");
        // a WRITE after a gap may replace one before it: whoever read that one resyncs anyway
        queue.append(write("/c"));
        queue.lost();
        queue.append(write("/c"));
        assertThat(queue.changes(4, 10, 0).resyncNeeded(4)).isTrue();
        assertThat(paths(queue.changes(5, 10, 0))).containsExactly("6 WRITE /c");
    }

    @Test
    void aPositionThisQueueNeverGaveMustResync() throws IOException {
        queue.append(Change.of(Kind.MKDIR, 0, "/a"));
        Response.ChangePage page = queue.changes(42, 10, 1000);
        assertThat(page.resyncNeeded(42)).isTrue();
        assertThat(page.appliedIndex()).isEqualTo(1);
        assertThat(page.records()).isEmpty();
        assertThat(queue.changes(Long.MAX_VALUE, 10, 0).resyncNeeded(Long.MAX_VALUE - 1))
                .isTrue();
    }

    @Test
    void aWaitingReaderIsAnsweredByTheNextAppend() throws Exception {
        queue.append(Change.of(Kind.MKDIR, 0, "/a"));
        CompletableFuture<Response.ChangePage> held = CompletableFuture.supplyAsync(() -> {
            try {
                return queue.changes(1, 10, 5_000);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        // the reader is held until a record after 1 exists
        while (!queue.hasWaitingReaders()) {
            assertThat(held).isNotDone();
            Thread.onSpinWait();
        }
        queue.append(Change.of(Kind.MKDIR, 0, "/b"));
        assertThat(paths(held.get(10, TimeUnit.SECONDS))).containsExactly("2 MKDIR /b");
    }

    @Test
    void aWaitWithoutNewRecordsEndsEmpty() throws IOException {
        queue.append(Change.of(Kind.MKDIR, 0, "/a"));
        long start = System.nanoTime();
        Response.ChangePage page = queue.changes(1, 10, 50);
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(50));
        assertThat(page.records()).isEmpty();
        assertThat(page.more()).isFalse();
        assertThat(page.next(1)).isEqualTo(1);
    }

    @Test
    void argumentsOutOfRangeAreRefused() {
        assertThatThrownBy(() -> queue.changes(-1, 10, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> queue.changes(0, 0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> queue.changes(0, 1025, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> queue.changes(0, 10, 5_001)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ChangeQueue(0, InstantSource.fixed(T)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aFailureReachesEveryReaderAndCloseEndsReading() throws Exception {
        CompletableFuture<Response.ChangePage> held = CompletableFuture.supplyAsync(() -> {
            try {
                return queue.changes(0, 10, 5_000);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        while (!queue.hasWaitingReaders()) {
            Thread.onSpinWait();
        }
        queue.fail(new IOException("the watched directory /x was removed"));
        assertThatThrownBy(() -> held.get(10, TimeUnit.SECONDS))
                .hasRootCauseMessage("the watched directory /x was removed");
        assertThatThrownBy(() -> queue.changes(0, 10, 0)).isInstanceOf(IOException.class);
        queue.close();
        assertThatThrownBy(() -> queue.changes(0, 10, 0)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void recordsHoldOneChangeEach() throws IOException {
        queue.append(Change.of(Kind.MKDIR, 0, "/a"));
        assertThat(queue.changes(0, 10, 0).records())
                .extracting(ChangeRecord::changes)
                .allSatisfy(c -> assertThat(c).hasSize(1));
    }
}
