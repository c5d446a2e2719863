package io.holdfast.server.scrub;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.common.Pacer;
import io.holdfast.protocol.LogEntry;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.storage.Brick;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A member's kept mark digests: what peers are told while computing, and paging by directory. */
class MarkDigestsTest {
    @TempDir
    Path tmp;

    private static long apply(Brick b, Request.Mutation m) throws Exception {
        long index = b.appliedIndex() + 1;
        b.apply(index, new LogEntry(index * 1000, m));
        return index;
    }

    @Test
    void answersWhileComputingThenPagesInDirectoryOrder() throws Exception {
        try (Brick b = Brick.open(tmp.resolve("brick"))) {
            for (int i = 0; i < 25; i++) {
                apply(b, new Request.Mkdir(Caller.ROOT, "/d" + i, 0755));
            }
            MarkDigests marks = new MarkDigests(tmp.resolve("scrub"));
            long future = b.appliedIndex() + 5;
            assertThat(((Response.Error) marks.answerTotal(future, b)).errno())
                    .isEqualTo(Errno.EAGAIN); // not applied yet
            long mark = apply(b, new Request.ScrubMark(Caller.ROOT));
            assertThat(((Response.Error) marks.answerTotal(mark, b)).errno())
                    .isEqualTo(Errno.EAGAIN); // held, not digested
            assertThat(((Response.Error) marks.answerTotal(mark - 1, b)).errno())
                    .isEqualTo(Errno.ENOENT); // never a mark

            assertThat(marks.computeHeld(b, new Pacer(1L << 30))).containsExactly(mark);
            Response total = marks.answerTotal(mark, b);
            assertThat(total).isInstanceOf(Response.Digest.class);
            assertThat(((Response.Digest) total).appliedIndex()).isEqualTo(mark);
            assertThat(marks.newestAbove(mark - 1)).isEqualTo(mark);
            assertThat(marks.newestAbove(mark)).isEqualTo(-1);

            // pages of 7 cover directory 0 (volume-wide), the root and the 25 directories once, in order
            List<Long> seen = new ArrayList<>();
            long after = -1;
            Response.DirDigests page;
            do {
                page = marks.page(mark, after, 7);
                assertThat(page.entries()).hasSizeLessThanOrEqualTo(7);
                page.entries().forEach(e -> seen.add(e.directory()));
                after = page.entries().isEmpty()
                        ? after
                        : page.entries().getLast().directory();
            } while (page.more());
            assertThat(seen).hasSize(27).isSorted().doesNotHaveDuplicates().startsWith(0L, 1L);
            assertThat(marks.page(mark, seen.get(10), 1).entries().getFirst().directory())
                    .isEqualTo(seen.get(11));
            assertThat(marks.page(mark, Long.MAX_VALUE, 5).entries()).isEmpty();
            assertThatThrownBy(() -> marks.page(mark, -1, 0)).isInstanceOf(HoldfastException.class);
            assertThatThrownBy(() -> marks.page(mark + 1, -1, 5))
                    .isInstanceOfSatisfying(
                            HoldfastException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT));
        }
    }

    @Test
    void keepsTheNewestFourAndForgetsFilesOfAnEarlierRun() throws Exception {
        try (Brick b = Brick.open(tmp.resolve("brick"))) {
            MarkDigests marks = new MarkDigests(tmp.resolve("scrub"));
            List<Long> all = new ArrayList<>();
            for (int i = 0; i < MarkDigests.KEEP + 2; i++) {
                all.add(apply(b, new Request.ScrubMark(Caller.ROOT)));
                marks.computeHeld(b, new Pacer(1L << 30));
            }
            for (long m : all) {
                boolean kept = all.indexOf(m) >= 2;
                assertThat(marks.total(m) != null)
                        .as("digest of mark %d kept", m)
                        .isEqualTo(kept);
            }
            try (var files = Files.list(tmp.resolve("scrub"))) {
                assertThat(files.count()).isEqualTo(MarkDigests.KEEP);
            }
            MarkDigests restarted = new MarkDigests(tmp.resolve("scrub"));
            assertThat(restarted.total(all.getLast())).isNull();
            try (var files = Files.list(tmp.resolve("scrub"))) {
                assertThat(files.count()).isZero();
            }
        }
    }
}
