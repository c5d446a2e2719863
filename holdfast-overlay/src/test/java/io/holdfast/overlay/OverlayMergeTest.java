package io.holdfast.overlay;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.nio.file.LinkOption.NOFOLLOW_LINKS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.common.SpecialFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link OverlayMerge}: layers made by the overlay itself (a workload through {@link
 * OverlayFileSystem}), merged in place or into a new base, compared with what the overlay shows
 * (the model) entry by entry: type, mode, owner, modification time, content, link target, device,
 * user extended attributes and hard-link groups. Kills are injected at chosen operations through
 * the merge's hook; pacing is measured on a fake clock.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class OverlayMergeTest {
    private static final FileTime OLD = FileTime.from(Instant.parse("2001-02-03T04:05:06Z"));

    @TempDir
    Path base;

    /** One set of layers in a directory of its own. */
    record Layers(Path lower, Path upper, Path work, Path newBase) {
        static Layers in(Path dir) throws IOException {
            return new Layers(
                    Files.createDirectories(dir.resolve("lower")),
                    Files.createDirectories(dir.resolve("upper")),
                    dir.resolve("work"),
                    dir.resolve("new"));
        }

        OverlayMerge.Builder merge(boolean into) {
            OverlayMerge.Builder b = OverlayMerge.builder(lower, upper)
                    .work(work)
                    .bytesPerSecond(0)
                    .operationsPerSecond(0)
                    .durable(false);
            return into ? b.into(newBase) : b;
        }

        Path target(boolean into) {
            return into ? newBase : lower;
        }
    }

    /** A kill, as the hook throws it: nothing catches it but the test. */
    static final class Killed extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Killed(String where) {
            super("killed at " + where);
        }
    }

    private static boolean isRoot() {
        return ProcessHandle.current().info().user().orElse("").equals("root");
    }

    // ------------------------------------------------------------------ the union cases

    /** The lower layer of the union cases. */
    private static void lowerTree(Path lower) throws IOException {
        Files.writeString(lower.resolve("keep.txt"), "keep");
        Files.writeString(lower.resolve("mod.txt"), "lower mod");
        Files.writeString(lower.resolve("del.txt"), "delete me");
        Files.createDirectories(lower.resolve("deldir/b"));
        Files.writeString(lower.resolve("deldir/a"), "a");
        Files.writeString(lower.resolve("deldir/b/c"), "c");
        Files.createDirectories(lower.resolve("opq"));
        Files.writeString(lower.resolve("opq/old1"), "old1");
        Files.writeString(lower.resolve("opq/old2"), "old2");
        Files.createDirectories(lower.resolve("ren/sub"));
        Files.writeString(lower.resolve("ren/r1"), "r1");
        Files.writeString(lower.resolve("ren/sub/r2"), "r2");
        Files.writeString(lower.resolve("meta.txt"), "meta");
        Files.createSymbolicLink(lower.resolve("lnk"), Path.of("keep.txt"));
        Files.createDirectories(lower.resolve("dirmeta"));
        Files.writeString(lower.resolve("dirmeta/in"), "in");
        Files.writeString(lower.resolve("ftd"), "file to directory");
        Files.createDirectories(lower.resolve("dtf"));
        Files.writeString(lower.resolve("dtf/y"), "y");
        Files.createDirectories(lower.resolve("deep/a/b/c"));
        Files.writeString(lower.resolve("deep/a/b/c/file"), "deep");
        Files.writeString(lower.resolve("deep/a/sibling"), "sibling");
        Files.setLastModifiedTime(lower.resolve("deep/a"), OLD);
    }

    /** Named union cases: each is done through the overlay, then checked in the merged base. */
    private record UnionCase(String name, OverlayStep step, Consumer<Path> check) {}

    @FunctionalInterface
    private interface OverlayStep {
        void run(Path root) throws IOException;
    }

    private static final List<UnionCase> CASES = List.of(
            new UnionCase(
                    "new file",
                    r -> Files.writeString(r.resolve("new.txt"), "new"),
                    b -> assertThat(read(b.resolve("new.txt"))).isEqualTo("new")),
            new UnionCase(
                    "new directory with files",
                    r -> {
                        Files.createDirectory(r.resolve("newdir"));
                        Files.writeString(r.resolve("newdir/n1"), "n1");
                        Files.writeString(r.resolve("newdir/n2"), "n2");
                    },
                    b -> assertThat(list(b.resolve("newdir"))).containsExactly("n1", "n2")),
            new UnionCase(
                    "modified lower file",
                    r -> Files.writeString(r.resolve("mod.txt"), " + upper", StandardOpenOption.APPEND),
                    b -> assertThat(read(b.resolve("mod.txt"))).isEqualTo("lower mod + upper")),
            new UnionCase(
                    "deleted lower file",
                    r -> Files.delete(r.resolve("del.txt")),
                    b -> assertThat(Files.exists(b.resolve("del.txt"), NOFOLLOW_LINKS))
                            .isFalse()),
            new UnionCase(
                    "deleted lower directory tree",
                    r -> deleteTree(r.resolve("deldir")),
                    b -> assertThat(Files.exists(b.resolve("deldir"), NOFOLLOW_LINKS))
                            .isFalse()),
            new UnionCase(
                    "directory deleted and made again (opaque)",
                    r -> {
                        deleteTree(r.resolve("opq"));
                        Files.createDirectory(r.resolve("opq"));
                        Files.writeString(r.resolve("opq/new"), "new in opq");
                    },
                    b -> assertThat(list(b.resolve("opq"))).containsExactly("new")),
            new UnionCase("renamed lower directory", r -> Files.move(r.resolve("ren"), r.resolve("renamed")), b -> {
                assertThat(Files.exists(b.resolve("ren"), NOFOLLOW_LINKS)).isFalse();
                assertThat(read(b.resolve("renamed/sub/r2"))).isEqualTo("r2");
            }),
            new UnionCase(
                    "mode, times and extended attribute of a lower file",
                    r -> {
                        Path m = r.resolve("meta.txt");
                        Files.setAttribute(m, "unix:mode", 0600);
                        Files.setLastModifiedTime(m, OLD);
                        Files.getFileAttributeView(m, UserDefinedFileAttributeView.class)
                                .write("k", UTF_8.encode("v"));
                    },
                    b -> {
                        assertThat(mode(b.resolve("meta.txt"))).isEqualTo(0600);
                        assertThat(mtime(b.resolve("meta.txt"))).isEqualTo(OLD);
                        assertThat(xattrs(b.resolve("meta.txt"))).containsEntry("k", "v");
                    }),
            new UnionCase(
                    "symbolic link replaced",
                    r -> {
                        Files.delete(r.resolve("lnk"));
                        Files.createSymbolicLink(
                                r.resolve("lnk"), r.getFileSystem().getPath("mod.txt"));
                    },
                    b -> assertThat(readLink(b.resolve("lnk"))).isEqualTo("mod.txt")),
            new UnionCase(
                    "new symbolic link",
                    r -> Files.createSymbolicLink(
                            r.resolve("newlnk"), r.getFileSystem().getPath("nowhere")),
                    b -> assertThat(readLink(b.resolve("newlnk"))).isEqualTo("nowhere")),
            new UnionCase(
                    "directory mode",
                    r -> Files.setAttribute(r.resolve("dirmeta"), "unix:mode", 0700),
                    b -> assertThat(mode(b.resolve("dirmeta"))).isEqualTo(0700)),
            new UnionCase(
                    "lower file replaced by a directory",
                    r -> {
                        Files.delete(r.resolve("ftd"));
                        Files.createDirectory(r.resolve("ftd"));
                        Files.writeString(r.resolve("ftd/x"), "x");
                    },
                    b -> assertThat(read(b.resolve("ftd/x"))).isEqualTo("x")),
            new UnionCase(
                    "lower directory replaced by a file",
                    r -> {
                        deleteTree(r.resolve("dtf"));
                        Files.writeString(r.resolve("dtf"), "now a file");
                    },
                    b -> assertThat(read(b.resolve("dtf"))).isEqualTo("now a file")),
            new UnionCase(
                    "deep lower file modified (parents copied up)",
                    r -> Files.writeString(r.resolve("deep/a/b/c/file"), "deep changed"),
                    b -> {
                        assertThat(read(b.resolve("deep/a/b/c/file"))).isEqualTo("deep changed");
                        assertThat(read(b.resolve("deep/a/sibling"))).isEqualTo("sibling");
                    }),
            new UnionCase(
                    "hard links kept together",
                    r -> {
                        Files.writeString(r.resolve("h1"), "linked");
                        Files.createLink(r.resolve("h2"), r.resolve("h1"));
                        Files.createDirectory(r.resolve("hd"));
                        Files.createLink(r.resolve("hd/h3"), r.resolve("h1"));
                    },
                    b -> {
                        assertThat(ino(b.resolve("h2"))).isEqualTo(ino(b.resolve("h1")));
                        assertThat(ino(b.resolve("hd/h3"))).isEqualTo(ino(b.resolve("h1")));
                    }),
            new UnionCase(
                    "a FIFO",
                    r -> SpecialFiles.mknod(r.resolve("fifo"), 0010640, 0),
                    b -> assertThat(mode(b.resolve("fifo"))).isEqualTo(0640)),
            new UnionCase(
                    "owner (as root)",
                    r -> {
                        Files.writeString(r.resolve("owned.txt"), "owned");
                        if (isRoot()) {
                            Files.setAttribute(r.resolve("owned.txt"), "unix:gid", 5678);
                            Files.setAttribute(r.resolve("owned.txt"), "unix:uid", 1234);
                        }
                    },
                    b -> {
                        if (isRoot()) {
                            assertThat(uncheckedAttr(b.resolve("owned.txt"), "unix:uid"))
                                    .isEqualTo(1234);
                        }
                    }),
            new UnionCase(
                    "large file (several chunks)",
                    r -> Files.write(r.resolve("big.bin"), randomBytes(3 << 20, 7)),
                    b -> assertThat(size(b.resolve("big.bin"))).isEqualTo(3 << 20)));

    /** Lower tree, then every union case through an overlay; the overlay closed again. */
    private static void makeLayers(Layers l, WhiteoutFormat format) throws IOException {
        lowerTree(l.lower());
        if (format == WhiteoutFormat.AUFS) {
            Files.createDirectories(l.work());
            Files.writeString(l.work().resolve("format"), "AUFS\n");
        }
        try (OverlayFileSystem fs = OverlayFileSystem.open(l.lower(), l.upper(), l.work())) {
            assumeTrue(fs.whiteoutFormat() == format, "the upper layer cannot hold the " + format + " format");
            for (UnionCase c : CASES) {
                c.step().run(fs.root());
            }
        }
    }

    /** What the overlay shows: the tree the merge must produce. */
    private static Map<String, String> model(Layers l) throws IOException {
        try (OverlayFileSystem fs = OverlayFileSystem.open(l.lower(), l.upper(), l.work())) {
            return snapshot(fs.root());
        }
    }

    @ParameterizedTest(name = "{0}, into a new base: {1}")
    @CsvSource({"KERNEL, false", "KERNEL, true", "AUFS, false", "AUFS, true"})
    void everyUnionCaseMergesToWhatTheOverlayShowed(WhiteoutFormat format, boolean into) throws IOException, Exception {
        Layers l = Layers.in(base);
        makeLayers(l, format);
        Map<String, String> model = model(l);
        Map<String, String> upperBefore = identity(l.upper());
        Map<String, String> lowerBefore = identity(l.lower());

        MergeReport r = l.merge(into).build().run();

        assertThat(r.clean()).as("%s", r).isTrue();
        assertSameTree(l.target(into), model);
        for (UnionCase c : CASES) {
            try {
                c.check().accept(l.target(into));
            } catch (AssertionError e) {
                throw new AssertionError("union case '" + c.name() + "': " + e.getMessage(), e);
            }
        }
        assertThat(r.opaqueReplacements()).isEqualTo(format == WhiteoutFormat.KERNEL ? 4 : 3);
        assertThat(r.linksMade()).isEqualTo(2);
        assertThat(identity(l.upper())).isEqualTo(upperBefore);
        if (into) {
            assertThat(identity(l.lower())).as("LOWER untouched").isEqualTo(lowerBefore);
            assertThat(r.lowerFilesCopied()).isPositive();
        }

        // a second run finds everything done
        MergeReport again = l.merge(into).build().run();
        assertThat(again.complete()).isTrue();
        assertThat(again.passes()).isEqualTo(1);
        assertThat(again.filesCopied() + again.linksMade() + again.deletes() + again.attributeUpdates())
                .isZero();
        assertThat(again.skipped()).isPositive();
        assertSameTree(l.target(into), model);
    }

    @ParameterizedTest
    @EnumSource(WhiteoutFormat.class)
    void emptyingTheUpperLayerLeavesABaseThatStandsAlone(WhiteoutFormat format) throws Exception {
        Layers l = Layers.in(base);
        makeLayers(l, format);
        Map<String, String> model = model(l);

        MergeReport r = l.merge(false).emptyUpper(true).build().run();

        assertThat(r.clean()).as("%s", r).isTrue();
        assertThat(r.upperEntriesKept()).isZero();
        assertThat(list(l.upper())).isEmpty();
        assertSameTree(l.lower(), model);
        // the same layers mounted again show the same tree (but for the root's times: the upper root's)
        Map<String, String> again = new TreeMap<>(model(l));
        again.remove("/");
        Map<String, String> before = new TreeMap<>(model);
        before.remove("/");
        assertThat(again).isEqualTo(before);
    }

    @Test
    void emptyingKeepsWhatChangedAfterItWasMerged() throws Exception {
        Layers l = Layers.in(base);
        makeLayers(l, WhiteoutFormat.KERNEL);
        AtomicInteger changes = new AtomicInteger();
        OverlayMerge.Hook hook = new OverlayMerge.Hook() {
            @Override
            public void beforeOperation(String op, String rel) throws IOException {
                if (op.equals("empty") && changes.getAndIncrement() == 0) {
                    Files.writeString(l.upper().resolve("new.txt"), "changed after the merge");
                }
            }
        };

        MergeReport r = l.merge(false).emptyUpper(true).hook(hook).build().run();

        assertThat(r.upperEntriesKept()).isPositive();
        assertThat(read(l.upper().resolve("new.txt"))).isEqualTo("changed after the merge");
        assertThat(read(l.lower().resolve("new.txt"))).isEqualTo("new");
        // the next run merges it, and empties the rest
        MergeReport next = l.merge(false).emptyUpper(true).build().run();
        assertThat(next.clean()).isTrue();
        assertThat(read(l.lower().resolve("new.txt"))).isEqualTo("changed after the merge");
        assertThat(list(l.upper())).isEmpty();
    }

    // ------------------------------------------------------------------ kills and resumes

    /** Operations of an uninterrupted merge of the union cases. */
    private int countOperations(WhiteoutFormat format, boolean into) throws Exception {
        Layers l = Layers.in(base.resolve("count"));
        makeLayers(l, format);
        AtomicInteger ops = new AtomicInteger();
        OverlayMerge.Hook hook = new OverlayMerge.Hook() {
            @Override
            public void beforeOperation(String op, String rel) {
                ops.incrementAndGet();
            }
        };
        assertThat(l.merge(into).hook(hook).build().run().clean()).isTrue();
        return ops.get();
    }

    @ParameterizedTest(name = "into a new base: {0}")
    @CsvSource({"false", "true"})
    void killedAtAnyOperationTheRerunEndsWithTheModel(boolean into) throws Exception {
        int total = countOperations(WhiteoutFormat.KERNEL, into);
        assertThat(total).isGreaterThan(40);
        for (int killAt = 1; killAt <= total; killAt++) {
            Layers l = Layers.in(base.resolve("kill" + killAt));
            makeLayers(l, WhiteoutFormat.KERNEL);
            Map<String, String> model = model(l);
            Map<String, String> lowerBefore = identity(l.lower());
            int at = killAt;
            AtomicInteger ops = new AtomicInteger();
            AtomicInteger landed = new AtomicInteger();
            OverlayMerge.Hook killer = new OverlayMerge.Hook() {
                @Override
                public void beforeOperation(String op, String rel) {
                    if (ops.incrementAndGet() == at) {
                        throw new Killed(op + " /" + rel);
                    }
                }

                @Override
                public void landed(String rel) {
                    landed.incrementAndGet();
                }
            };
            assertThatThrownBy(() -> l.merge(into).hook(killer).build().run()).isInstanceOf(Killed.class);

            MergeReport r = l.merge(into).build().run();

            assertThat(r.clean()).as("kill at %d: %s", at, r).isTrue();
            assertSameTree(l.target(into), model);
            assertThat(temps(l.target(into)))
                    .as("temporary files after kill at %d", at)
                    .isEmpty();
            // at most the one file that had landed but was not yet journaled is copied again
            assertThat(r.filesCopied() + r.linksMade() + landed.get())
                    .as("kill at %d", at)
                    .isLessThanOrEqualTo(CASES_UPPER_FILES + 1);
            if (into) {
                assertThat(identity(l.lower())).isEqualTo(lowerBefore);
            }
        }
    }

    /** Non-directories in the upper layer of the union cases that the merge writes. */
    private static final int CASES_UPPER_FILES = 19;

    @Test
    void aKillInTheMiddleOfACopyLeavesNoTemporaryFileBehind() throws Exception {
        Layers l = Layers.in(base);
        makeLayers(l, WhiteoutFormat.KERNEL);
        Map<String, String> model = model(l);
        OverlayMerge.Hook killer = new OverlayMerge.Hook() {
            @Override
            public void chunkWritten(String rel, long bytesSoFar) {
                if (rel.equals("big.bin")) {
                    throw new Killed("after " + bytesSoFar + " bytes of big.bin");
                }
            }
        };
        assertThatThrownBy(() -> l.merge(false).hook(killer).build().run()).isInstanceOf(Killed.class);
        assertThat(temps(l.lower())).containsExactly(OverlayMerge.TEMP_PREFIX + "big.bin");
        assertThat(Files.exists(l.lower().resolve("big.bin"))).isFalse();

        MergeReport r = l.merge(false).build().run();

        assertThat(r.clean()).isTrue();
        assertThat(temps(l.lower())).isEmpty();
        assertSameTree(l.lower(), model);
    }

    @Test
    void aRecordedFileMissingFromTheBaseIsCopiedAgain() throws Exception {
        Layers l = Layers.in(base);
        Files.writeString(l.upper().resolve("a"), "a");
        Files.writeString(l.upper().resolve("b"), "bb");
        assertThat(l.merge(false).build().run().filesCopied()).isEqualTo(2);
        // as after a power failure that kept the journal's record but not the rename
        Files.delete(l.lower().resolve("a"));
        Files.writeString(l.lower().resolve("b"), "b");

        MergeReport r = l.merge(false).build().run();

        assertThat(r.filesCopied()).isEqualTo(2);
        assertThat(read(l.lower().resolve("a"))).isEqualTo("a");
        assertThat(read(l.lower().resolve("b"))).isEqualTo("bb");
    }

    @Test
    void countsOfTheCasesAreRight() throws Exception {
        Layers l = Layers.in(base);
        makeLayers(l, WhiteoutFormat.KERNEL);
        MergeReport r = l.merge(false).build().run();
        assertThat(r.filesCopied() + r.linksMade()).isEqualTo(CASES_UPPER_FILES);
    }

    // ------------------------------------------------------------------ changes during the merge

    @Test
    void aFileChangedBetweenLandingAndTheJournalIsMergedAgain() throws Exception {
        Layers l = Layers.in(base);
        Files.writeString(l.upper().resolve("a"), "first");
        Files.writeString(l.upper().resolve("b"), "b");
        AtomicInteger calls = new AtomicInteger();
        OverlayMerge.Hook hook = new OverlayMerge.Hook() {
            @Override
            public void landed(String rel) throws IOException {
                if (rel.equals("a") && calls.getAndIncrement() == 0) {
                    Files.writeString(l.upper().resolve("a"), "second, longer");
                }
            }
        };

        MergeReport r = l.merge(false).hook(hook).build().run();

        assertThat(r.clean()).isTrue();
        assertThat(r.passes()).isEqualTo(3); // copy; copy a again; nothing left
        assertThat(read(l.lower().resolve("a"))).isEqualTo("second, longer");
        assertThat(r.filesCopied()).isEqualTo(3);
    }

    @Test
    void aFileChangedWhileItIsCopiedIsCopiedAgain() throws Exception {
        Layers l = Layers.in(base);
        Files.write(l.upper().resolve("big"), randomBytes(3 << 20, 1));
        byte[] last = randomBytes(3 << 20, 2);
        AtomicInteger calls = new AtomicInteger();
        OverlayMerge.Hook hook = new OverlayMerge.Hook() {
            @Override
            public void chunkWritten(String rel, long bytesSoFar) throws IOException {
                if (calls.getAndIncrement() == 0) {
                    Files.write(l.upper().resolve("big"), last);
                }
            }
        };

        MergeReport r = l.merge(false).hook(hook).build().run();

        assertThat(r.retries()).isEqualTo(1);
        assertThat(r.clean()).isTrue();
        assertThat(Files.readAllBytes(l.lower().resolve("big"))).isEqualTo(last);
    }

    @Test
    void aFileThatNeverStopsChangingIsReportedNotLost() throws Exception {
        Layers l = Layers.in(base);
        Files.writeString(l.upper().resolve("busy"), "0");
        AtomicInteger n = new AtomicInteger();
        OverlayMerge.Hook hook = new OverlayMerge.Hook() {
            @Override
            public void chunkWritten(String rel, long bytesSoFar) throws IOException {
                Files.writeString(l.upper().resolve("busy"), Integer.toString(n.incrementAndGet()));
            }
        };

        MergeReport r = l.merge(false).maxPasses(2).hook(hook).build().run();

        assertThat(r.complete()).isFalse();
        assertThat(r.stillChanging()).containsExactly("/busy");
        assertThat(r.passes()).isEqualTo(2);
        // the next run, with the writer gone, merges it
        MergeReport next = l.merge(false).build().run();
        assertThat(next.clean()).isTrue();
        assertThat(read(l.lower().resolve("busy"))).isEqualTo(Integer.toString(n.get()));
    }

    @Test
    void changesThroughTheMountedOverlayDuringTheMergeAreMerged() throws Exception {
        Layers l = Layers.in(base);
        lowerTree(l.lower());
        try (OverlayFileSystem fs = OverlayFileSystem.open(l.lower(), l.upper(), l.work())) {
            Path root = fs.root();
            Files.writeString(root.resolve("mod.txt"), "changed");
            Files.writeString(root.resolve("gone-later.txt"), "upper only");
            AtomicInteger step = new AtomicInteger();
            OverlayMerge.Hook user = new OverlayMerge.Hook() {
                @Override
                public void landed(String rel) throws IOException {
                    if (step.getAndIncrement() == 0) {
                        Files.delete(root.resolve("keep.txt")); // a new whiteout
                        Files.delete(root.resolve("gone-later.txt")); // merged already, no whiteout
                        Files.writeString(root.resolve("late.txt"), "late"); // a new file
                        deleteTree(root.resolve("opq"));
                        Files.createDirectory(root.resolve("opq")); // a new opaque directory
                    }
                }
            };
            Map<String, String> model;
            MergeReport r = l.merge(true).hook(user).build().run();
            model = snapshot(root);

            assertThat(r.clean()).as("%s", r).isTrue();
            assertSameTree(l.newBase(), model);
            assertThat(Files.exists(l.newBase().resolve("keep.txt"))).isFalse();
            assertThat(Files.exists(l.newBase().resolve("gone-later.txt"))).isFalse();
            assertThat(read(l.newBase().resolve("late.txt"))).isEqualTo("late");
            assertThat(list(l.newBase().resolve("opq"))).isEmpty();
        }
    }

    // ------------------------------------------------------------------ a damaged lower layer

    @Test
    void aDamagedLowerLayerIsReportedPathByPathAndTheRestMerged() throws Exception {
        Layers l = Layers.in(base);
        lowerTree(l.lower());
        Files.writeString(l.upper().resolve("new.txt"), "new");
        FaultyFileSystem faulty = new FaultyFileSystem(l.lower());
        faulty.failReads.add("keep.txt");
        faulty.failListings.add("deldir");
        faulty.failStats.add("meta.txt");
        List<MergeReport.Problem> told = new ArrayList<>();

        MergeReport r = OverlayMerge.builder(faulty.root(), l.upper())
                .work(l.work())
                .into(l.newBase())
                .bytesPerSecond(0)
                .operationsPerSecond(0)
                .listener(new OverlayMerge.ProgressListener() {
                    @Override
                    public void progress(MergeProgress p) {}

                    @Override
                    public void problem(MergeReport.Problem p) {
                        told.add(p);
                    }
                })
                .build()
                .run();

        assertThat(r.complete()).isTrue();
        assertThat(r.clean()).isFalse();
        assertThat(r.errors())
                .extracting(MergeReport.Problem::path, MergeReport.Problem::layer, MergeReport.Problem::operation)
                .containsExactlyInAnyOrder(
                        org.assertj.core.groups.Tuple.tuple("/deldir", "lower", "readdir"),
                        org.assertj.core.groups.Tuple.tuple("/keep.txt", "lower", "read"),
                        org.assertj.core.groups.Tuple.tuple("/meta.txt", "lower", "stat"));
        assertThat(told).hasSize(3);
        assertThat(faulty.writeAttempts).hasValue(0);
        assertThat(read(l.newBase().resolve("new.txt"))).isEqualTo("new");
        assertThat(read(l.newBase().resolve("mod.txt"))).isEqualTo("lower mod");
        assertThat(Files.exists(l.newBase().resolve("keep.txt"))).isFalse();
        assertThat(temps(l.newBase())).isEmpty();

        // repaired, a rerun copies what failed and nothing else
        MergeReport again = l.merge(true).build().run();
        assertThat(again.clean()).isTrue();
        assertThat(again.lowerFilesCopied()).isEqualTo(4); // keep.txt, meta.txt, deldir/a, deldir/b/c
        assertThat(read(l.newBase().resolve("keep.txt"))).isEqualTo("keep");
    }

    // ------------------------------------------------------------------ pacing

    /** A clock that only moves when the pacer sleeps. */
    static final class FakeClock {
        final AtomicLong nanos = new AtomicLong(1_000_000_000L);
        final AtomicLong sleeps = new AtomicLong();

        long now() {
            return nanos.get();
        }

        void sleep(long n) {
            sleeps.incrementAndGet();
            nanos.addAndGet(n);
        }
    }

    @Test
    void theByteRateIsHonoured() throws Exception {
        Layers l = Layers.in(base);
        for (int i = 0; i < 8; i++) {
            Files.write(l.upper().resolve("f" + i), randomBytes(256 * 1024, i));
        }
        FakeClock clock = new FakeClock();
        long rate = 512 * 1024;

        MergeReport r = l.merge(false)
                .bytesPerSecond(rate)
                .clock(clock::now, clock::sleep)
                .build()
                .run();

        assertThat(r.bytesCopied()).isEqualTo(8 * 256 * 1024);
        double seconds = r.elapsedNanos() / 1e9;
        double least = (r.bytesCopied() - 64 * 1024) / (double) rate; // the burst is 64 KiB
        assertThat(seconds).isBetween(least, least + 0.5);
        assertThat(clock.sleeps.get()).isPositive();
    }

    @Test
    void theOperationRateIsHonoured() throws Exception {
        Layers l = Layers.in(base);
        for (int i = 0; i < 100; i++) {
            Files.writeString(l.upper().resolve("f" + i), "x");
        }
        FakeClock clock = new FakeClock();
        AtomicInteger ops = new AtomicInteger();
        OverlayMerge.Hook counter = new OverlayMerge.Hook() {
            @Override
            public void beforeOperation(String op, String rel) {
                ops.incrementAndGet();
            }
        };

        MergeReport r = l.merge(false)
                .operationsPerSecond(50)
                .hook(counter)
                .clock(clock::now, clock::sleep)
                .build()
                .run();

        assertThat(r.filesCopied()).isEqualTo(100);
        assertThat(ops.get()).isEqualTo(101); // 100 copies and the root's attributes
        double seconds = r.elapsedNanos() / 1e9;
        double least = (ops.get() - 5) / 50.0; // the burst is a tenth of a second: 5 operations
        assertThat(seconds).isBetween(least, least + 0.5);
    }

    @Test
    void progressHasTotalsAndAnEstimate() throws Exception {
        Layers l = Layers.in(base);
        for (int i = 0; i < 4; i++) {
            Files.write(l.upper().resolve("f" + i), randomBytes(1 << 20, i));
        }
        FakeClock clock = new FakeClock();
        List<MergeProgress> seen = new ArrayList<>();
        List<MergeProgress> phases = new ArrayList<>();
        l.merge(false)
                .bytesPerSecond(1 << 20)
                .clock(clock::now, clock::sleep)
                .listener(new OverlayMerge.ProgressListener() {
                    @Override
                    public void progress(MergeProgress p) {
                        seen.add(p);
                    }

                    @Override
                    public void phaseStarted(MergeProgress p) {
                        phases.add(p);
                    }
                })
                .build()
                .run();
        assertThat(phases).extracting(MergeProgress::pass).containsExactly(1, 2);
        assertThat(phases.get(0).filesToDo()).isEqualTo(4);
        assertThat(phases.get(0).bytesToDo()).isEqualTo(4 << 20);
        assertThat(phases.get(1).filesToDo()).isZero();
        MergeProgress half =
                seen.stream().filter(p -> p.bytesDone() == 2 << 20).findFirst().orElseThrow();
        assertThat(half.etaSeconds()).isBetween(1L, 3L); // 2 MiB left at about 1 MiB/s
    }

    // ------------------------------------------------------------------ the journal and bad input

    @Test
    void theJournalCutsATornEndAndRefusesCorruptionAndOtherMerges() throws Exception {
        Path j = base.resolve("j");
        try (MergeJournal journal = MergeJournal.open(j, "/l", "/u", "/t")) {
            journal.fileMerged("a\tb%c\nd", "1:2:3", 7);
            journal.whiteoutApplied("w");
        }
        Files.writeString(j, "F\tx\thalf", StandardOpenOption.APPEND); // a killed write
        try (MergeJournal journal = MergeJournal.open(j, "/l", "/u", "/t")) {
            assertThat(journal.upper("a\tb%c\nd").key).isEqualTo("1:2:3");
            assertThat(journal.upper("w").kind).isEqualTo('W');
            assertThat(journal.upper("x")).isNull();
        }
        assertThat(Files.readString(j)).endsWith("\n");
        assertThatThrownBy(() -> MergeJournal.open(j, "/l", "/u", "/other"))
                .hasMessageContaining("belongs to another merge");
        List<String> lines = new ArrayList<>(Files.readAllLines(j));
        lines.set(1, lines.get(1).replace("1:2:3", "1:2:4"));
        Files.write(j, lines);
        assertThatThrownBy(() -> MergeJournal.open(j, "/l", "/u", "/t"))
                .hasMessageContaining("corrupt merge journal")
                .hasMessageContaining("line 2");
        Files.writeString(j, MergeJournal.encode("holdfast-overlay-merge", "2", "/l", "/u", "/t"));
        assertThatThrownBy(() -> MergeJournal.open(j, "/l", "/u", "/t")).hasMessageContaining("newer");
    }

    @Test
    void badArgumentsAreRefusedAndChangeNothing() throws Exception {
        Layers l = Layers.in(base);
        Files.writeString(l.upper().resolve("a"), "a");
        assertThatThrownBy(() -> OverlayMerge.builder(l.lower(), l.upper())
                        .bytesPerSecond(-1)
                        .build())
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> OverlayMerge.builder(l.lower(), l.upper())
                        .into(l.upper().resolve("x"))
                        .build())
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> OverlayMerge.builder(l.lower(), l.upper())
                        .work(l.lower().resolve("w"))
                        .build())
                .isInstanceOf(IllegalArgumentException.class);
        Files.createDirectories(l.newBase());
        Files.writeString(l.newBase().resolve("something"), "s");
        assertThatThrownBy(() -> l.merge(true).build().run()).hasMessageContaining("not empty");
        assertThat(list(l.newBase())).containsExactly("something");
        assertThat(list(l.lower())).isEmpty();
        OverlayMerge once = l.merge(false).build();
        once.run();
        assertThatThrownBy(once::run).isInstanceOf(IllegalStateException.class);
    }

    // ------------------------------------------------------------------ helpers

    /** Asserts that the tree at {@code root} equals {@code model}, naming only the entries that differ. */
    static void assertSameTree(Path root, Map<String, String> model) throws IOException {
        Map<String, String> actual = snapshot(root);
        List<String> diffs = new ArrayList<>();
        Set<String> keys = new TreeSet<>(actual.keySet());
        keys.addAll(model.keySet());
        for (String k : keys) {
            if (!Objects.equals(actual.get(k), model.get(k))) {
                diffs.add(k + ": expected " + model.get(k) + ", was " + actual.get(k));
            }
        }
        assertThat(diffs).as("differences of %s from the model", root).isEmpty();
    }

    /** Every entry below {@code root} (not atimes, not nlink): type, mode, owner, mtime, content, link groups. */
    static Map<String, String> snapshot(Path root) throws IOException {
        return snapshot(root, false);
    }

    /** The snapshot with inode numbers and change times: equal only if nothing in the tree was written. */
    static Map<String, String> identity(Path root) throws IOException {
        return snapshot(root, true);
    }

    private static Map<String, String> snapshot(Path root, boolean identity) throws IOException {
        Map<String, String> out = new TreeMap<>();
        Map<Object, List<String>> byIno = new TreeMap<>((a, b) -> a.toString().compareTo(b.toString()));
        walk(root, "", out, byIno, identity);
        for (List<String> group : byIno.values()) {
            if (group.size() > 1) {
                for (String p : group) {
                    out.put(p, out.get(p) + " links=" + group);
                }
            }
        }
        return out;
    }

    private static void walk(
            Path p, String rel, Map<String, String> out, Map<Object, List<String>> byIno, boolean identity)
            throws IOException {
        Map<String, Object> a =
                Files.readAttributes(p, "unix:mode,uid,gid,size,rdev,lastModifiedTime,ino,ctime", NOFOLLOW_LINKS);
        int mode = (Integer) a.get("mode");
        StringBuilder b = new StringBuilder();
        if (identity) {
            b.append("ino=")
                    .append(a.get("ino"))
                    .append(" ctime=")
                    .append(a.get("ctime"))
                    .append(' ');
        }
        b.append(Integer.toOctalString(mode))
                .append(' ')
                .append(a.get("uid"))
                .append(':')
                .append(a.get("gid"));
        b.append(" mtime=").append(a.get("lastModifiedTime"));
        String name = rel.isEmpty() ? "/" : rel;
        switch (mode & 0170000) {
            case 0100000 -> {
                b.append(" size=").append(a.get("size")).append(" sha=").append(sha256(Files.readAllBytes(p)));
                byIno.computeIfAbsent(a.get("ino"), k -> new ArrayList<>()).add(name);
            }
            case 0120000 -> b.append(" -> ").append(Files.readSymbolicLink(p));
            case 0040000 -> {}
            default -> b.append(" rdev=").append(a.get("rdev"));
        }
        if ((mode & 0170000) == 0100000 || (mode & 0170000) == 0040000) {
            b.append(' ').append(xattrs(p));
        }
        out.put(name, b.toString());
        if ((mode & 0170000) == 0040000) {
            List<String> names = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(p)) {
                ds.forEach(c -> names.add(c.getFileName().toString()));
            }
            names.sort(null);
            for (String n : names) {
                walk(p.resolve(n), rel.isEmpty() ? n : rel + "/" + n, out, byIno, identity);
            }
        }
    }

    static Map<String, String> xattrs(Path p) {
        try {
            UserDefinedFileAttributeView v =
                    Files.getFileAttributeView(p, UserDefinedFileAttributeView.class, NOFOLLOW_LINKS);
            Map<String, String> out = new TreeMap<>();
            for (String n : v.list()) {
                if (n.startsWith("overlay.")) {
                    continue;
                }
                ByteBuffer buf = ByteBuffer.allocate(v.size(n));
                v.read(n, buf);
                out.put(n, new String(buf.array(), 0, buf.position(), UTF_8));
            }
            return out;
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static List<String> temps(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith(OverlayMerge.TEMP_PREFIX))
                    .toList();
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (Files.isDirectory(p, NOFOLLOW_LINKS)) {
            List<Path> children;
            try (Stream<Path> s = Files.list(p)) {
                children = s.toList();
            }
            for (Path c : children) {
                deleteTree(c);
            }
        }
        Files.delete(p);
    }

    static List<String> list(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static String readLink(Path p) {
        try {
            return Files.readSymbolicLink(p).toString();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static Object uncheckedAttr(Path p, String attr) {
        try {
            return Files.getAttribute(p, attr, NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static int mode(Path p) {
        return (Integer) uncheckedAttr(p, "unix:mode") & 07777;
    }

    private static Object ino(Path p) {
        return uncheckedAttr(p, "unix:ino");
    }

    private static long size(Path p) {
        return (Long) uncheckedAttr(p, "unix:size");
    }

    private static FileTime mtime(Path p) {
        return (FileTime) uncheckedAttr(p, "lastModifiedTime");
    }

    static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
