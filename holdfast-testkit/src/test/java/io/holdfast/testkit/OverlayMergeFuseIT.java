package io.holdfast.testkit;

import static io.holdfast.testkit.Shell.run;
import static io.holdfast.testkit.Shell.sh;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.fuse.FuseMount;
import io.holdfast.fuse.FuseOptions;
import io.holdfast.overlay.MergeProgress;
import io.holdfast.overlay.MergeReport;
import io.holdfast.overlay.OverlayFileSystem;
import io.holdfast.overlay.OverlayMerge;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code holdfast overlay merge}'s engine on layers written by ordinary tools through a FUSE mount
 * of the overlay ({@code cp -a}, {@code tar}, {@code rm -r}, {@code mv}, {@code ln}, {@code chmod},
 * {@code echo >>}), merged into a new base while the overlay stays mounted and is written during the
 * merge (from the merge's first progress report, on its thread, so at a known point): the new base
 * equals what the mount shows ({@code diff -r}, and {@code find -printf} of types, modes, sizes,
 * modification times and link targets); then, unmounted, the upper layer is emptied and the base
 * still shows the same tree.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class OverlayMergeFuseIT {
    @TempDir
    Path tmp;

    private static final String LISTING = "find . -printf '%p %y %m %s %T@ %l\\n' | sort";

    @Test
    void aMergeWhileMountedAndWrittenEqualsWhatTheMountShows() throws Exception {
        assumeTrue(FuseMount.isAvailable(), "FUSE is not available here");
        Path lower = Files.createDirectory(tmp.resolve("lower"));
        Path upper = Files.createDirectory(tmp.resolve("upper"));
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Path work = tmp.resolve("work");
        Path newBase = tmp.resolve("newbase");
        String m = mnt.toString();
        sh("cd " + lower + " && mkdir -p etc/conf.d var/spool old && for i in $(seq 1 20); do echo lower $i > f$i;"
                + " done && echo a > etc/conf.d/a && echo b > etc/conf.d/b && echo s > var/spool/s"
                + " && echo o > old/o && ln -s f1 link");
        String view;
        MergeReport report;
        try (OverlayFileSystem overlay = OverlayFileSystem.open(lower, upper, work);
                FuseMount mount = FuseMount.mount(
                        overlay.root(), mnt, FuseOptions.defaults().withFsName("holdfast-overlay"))) {
            assertThat(mount.isClosed()).isFalse();
            sh("mkdir " + tmp + "/src && cd " + tmp + "/src && mkdir -p t/u && head -c 300000 /dev/urandom > t/big"
                    + " && echo 2 > t/u/two && ln t/big t/big-link && ln -s u/two t/sym && chmod 0750 t/u");
            sh("cp -a " + tmp + "/src/t " + m + "/copied");
            sh("cd " + tmp + "/src && tar cf - t | (cd " + m + " && tar xf -)");
            sh("cd " + m + " && rm f1 f2 && rm -r old && echo more >> f3 && mv etc etc2 && chmod 600 f4"
                    + " && rm -r var && mkdir var && echo fresh > var/new && rm link && ln -s f5 link");
            AtomicBoolean written = new AtomicBoolean();
            report = OverlayMerge.builder(lower, upper)
                    .work(work)
                    .into(newBase)
                    .bytesPerSecond(0)
                    .operationsPerSecond(0)
                    .listener(p -> writeOnce(written, p, m))
                    .build()
                    .run();
            assertThat(written).isTrue();
            view = sh("cd " + m + " && " + LISTING);
            assertThat(run("diff -r --no-dereference " + m + " " + newBase)).isZero();
        }
        assertThat(report.clean()).as("%s", report).isTrue();
        assertThat(report.passes()).isGreaterThanOrEqualTo(2);
        assertThat(sh("cd " + newBase + " && " + LISTING)).isEqualTo(view);
        assertThat(sh("stat -c %i " + newBase + "/t/big " + newBase + "/t/big-link | uniq | wc -l")
                        .strip())
                .isEqualTo("1");
        assertThat(sh("cat " + newBase + "/f3")).isEqualTo("lower 3\nmore\n");

        // unmounted: empty the upper layer; the base alone is the tree
        MergeReport emptied = OverlayMerge.builder(lower, upper)
                .work(work)
                .into(newBase)
                .bytesPerSecond(0)
                .operationsPerSecond(0)
                .emptyUpper(true)
                .build()
                .run();
        assertThat(emptied.clean()).isTrue();
        assertThat(sh("find " + upper + " -mindepth 1 | wc -l").strip()).isEqualTo("0");
        assertThat(sh("cd " + newBase + " && " + LISTING)).isEqualTo(view);
    }

    /** Writes through the mount once, during the merge: appends, deletes (a lower file), creates. */
    private static void writeOnce(AtomicBoolean written, MergeProgress p, String m) {
        if (p.phase().equals("merge") && written.compareAndSet(false, true)) {
            try {
                sh("cd " + m + " && echo during >> copied/u/two && rm f6 && echo late > late && rm -r t/u");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while writing through the mount", e);
            }
        }
    }
}
