package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.client.nio.HoldfastFiles;
import io.holdfast.georep.Failover;
import io.holdfast.georep.GeoOptions;
import io.holdfast.georep.GeoReplicator;
import io.holdfast.georep.GeoStateException;
import io.holdfast.georep.PrimaryReachableException;
import io.holdfast.georep.ReverseReport;
import io.holdfast.georep.VolumeChangeSource;
import io.holdfast.protocol.VolumeService;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failover and failback end to end (issue 15, item 4): a three-node volume replicated to a local
 * directory; promote refused while the volume answers, then forced; changes on both sides at the
 * same time, conflicts of every kind among them; the reverse pass brings the DR changes back to the
 * volume as a delta; failback re-bases the session and forward replication resumes without a full
 * synchronisation, the two trees then equal.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class GeoFailoverIT {
    private static final Set<String> STATE = Set.of(".holdfast-georep");
    private static final String SESSION = "fo";

    @TempDir
    static Path root;

    private static MiniCluster primary;

    @BeforeAll
    static void start() throws Exception {
        primary = MiniCluster.start(root.resolve("primary"), 3, 100_000);
        primary.createVolume("mail", 0, 1, 2);
    }

    @AfterAll
    static void stop() throws Exception {
        if (primary != null) {
            primary.close();
        }
    }

    private static FileSystem fs() throws Exception {
        return FileSystems.newFileSystem(
                URI.create("holdfast://" + primary.addresses().get(0) + "/mail"), primary.clientEnv());
    }

    static Map<String, String> files(Path root) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.toList()) {
                String rel = root.relativize(p).toString();
                if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && !rel.startsWith(".holdfast-georep")) {
                    out.put(rel, Files.readString(p));
                }
            }
        }
        return out;
    }

    @Test
    void promoteReverseAndFailbackWithConflictsAndNoFullCopy() throws Exception {
        VolumeService volume = primary.client().volume("mail");
        VolumeChangeSource feed = new VolumeChangeSource(volume, Duration.ofSeconds(30));
        GeoOptions options = GeoOptions.defaults(SESSION);
        Path dr = Files.createDirectories(root.resolve("dr"));
        try (FileSystem fs = fs()) {
            Path p = fs.getPath("/");
            Files.createDirectories(p.resolve("a"));
            Files.writeString(p.resolve("a/keep.txt"), "keep");
            Files.writeString(p.resolve("a/both.txt"), "base");
            Files.writeString(p.resolve("a/drdel.txt"), "DR deletes me");
            Files.writeString(p.resolve("a/pdel.txt"), "the primary deletes me");
            Files.writeString(p.resolve("a/ren.txt"), "renamed at DR, changed at the primary");
            Files.createDirectories(p.resolve("dir"));
            Files.writeString(p.resolve("dir/f1"), "f1");
            Files.writeString(p.resolve("typ"), "a file that becomes a directory at DR");
            Files.writeString(p.resolve("pmod.txt"), "p");
            Files.createDirectories(p.resolve("maildir/cur"));
            for (int i = 0; i < 50; i++) {
                Files.writeString(p.resolve("maildir/cur/" + i), "message " + i);
            }
            GeoReplicator forward = new GeoReplicator(feed, p, dr, options);
            forward.runOnce();
            TreeWorkload.assertSameTree(p, dr, STATE, "the DR copy");
            long copiedByFullSync = forward.status().filesCopied();

            // the old primary answers: refused, nothing changed
            Path state = dr.resolve(".holdfast-georep/state");
            String stateBefore = Files.readString(state);
            assertThatThrownBy(() -> Failover.promote(
                            dr, SESSION, Failover.feedProbe(feed), false, true, InstantSource.system()))
                    .isInstanceOf(PrimaryReachableException.class)
                    .hasMessageContaining("still reachable");
            assertThat(Files.readString(state)).isEqualTo(stateBefore);

            Failover.Promotion promotion =
                    Failover.promote(dr, SESSION, Failover.feedProbe(feed), true, true, InstantSource.system());
            long split = promotion.splitIndex();
            System.out.println("promoted: " + promotion);
            assertThat(split).isEqualTo(forward.status().position());
            assertThatThrownBy(() -> new GeoReplicator(feed, p, dr, options).runOnce())
                    .isInstanceOf(GeoStateException.class)
                    .hasMessageContaining("promoted");

            // both sides written at the same time
            CompletableFuture<Void> atDr = CompletableFuture.runAsync(() -> {
                try {
                    Files.writeString(dr.resolve("a/both.txt"), "DR version");
                    Files.delete(dr.resolve("a/drdel.txt"));
                    Files.writeString(dr.resolve("a/pdel.txt"), "DR changed it");
                    Files.createDirectory(dr.resolve("b"));
                    Files.move(dr.resolve("a/ren.txt"), dr.resolve("b/renamed.txt"));
                    Files.move(dr.resolve("dir"), dr.resolve("dir2"));
                    Files.delete(dr.resolve("typ"));
                    Files.createDirectory(dr.resolve("typ"));
                    Files.writeString(dr.resolve("typ/inner"), "inner");
                    Files.writeString(dr.resolve("same.txt"), "DR's new file");
                    for (int i = 0; i < 10; i++) {
                        Files.writeString(dr.resolve("maildir/cur/dr-" + i), "delivered at DR " + i);
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Files.writeString(p.resolve("a/both.txt"), "primary version");
            Files.writeString(p.resolve("a/drdel.txt"), "the primary changed it");
            Files.delete(p.resolve("a/pdel.txt"));
            Files.writeString(p.resolve("a/ren.txt"), "the primary changed the renamed file");
            Files.writeString(p.resolve("dir/pnew"), "added at the primary");
            Files.writeString(p.resolve("typ"), "the primary changed the file");
            Files.writeString(p.resolve("same.txt"), "the primary's new file");
            Files.writeString(p.resolve("pmod.txt"), "modified at the primary");
            atDr.get(60, TimeUnit.SECONDS);
            HoldfastFiles.sync(fs); // the primary's written-back removals are committed: a durability point

            ReverseReport dry = Failover.reverse(feed, p, dr, options, true);
            assertThat(Files.readString(p.resolve("a/both.txt"))).isEqualTo("primary version");
            ReverseReport report = Failover.reverse(feed, p, dr, options, false);
            System.out.print(report.toText());
            System.out.println(report.toJson());
            assertThat(report.conflicts()).isEqualTo(dry.conflicts());
            String s = ReverseReport.CONFLICT_SUFFIX + split;
            assertThat(report.primarySource()).isEqualTo("feed");
            assertThat(report.conflicts())
                    .extracting(c -> c.path() + " | " + c.dr() + " | " + c.primaryCopy())
                    .containsExactly(
                            "/a/both.txt | modified | /a/both.txt" + s,
                            "/a/drdel.txt | deleted | /a/drdel.txt" + s,
                            "/a/pdel.txt | modified | null",
                            "/a/ren.txt | renamed to /b/renamed.txt | /a/ren.txt" + s,
                            "/same.txt | new | /same.txt" + s,
                            "/typ | type changed | /typ" + s);
            assertThat(report.renames()).isEqualTo(1); // dir -> dir2, with its contents
            assertThat(Failover.lastReport(dr, false)).get().isEqualTo(report.toText());

            Map<String, String> want = new TreeMap<>();
            for (int i = 0; i < 50; i++) {
                want.put("maildir/cur/" + i, "message " + i);
            }
            for (int i = 0; i < 10; i++) {
                want.put("maildir/cur/dr-" + i, "delivered at DR " + i);
            }
            want.put("a/keep.txt", "keep");
            want.put("a/both.txt", "DR version");
            want.put("a/both.txt" + s, "primary version");
            want.put("a/drdel.txt" + s, "the primary changed it");
            want.put("a/pdel.txt", "DR changed it");
            want.put("a/ren.txt" + s, "the primary changed the renamed file");
            want.put("b/renamed.txt", "renamed at DR, changed at the primary");
            want.put("dir2/f1", "f1");
            want.put("dir2/pnew", "added at the primary");
            want.put("typ/inner", "inner");
            want.put("typ" + s, "the primary changed the file");
            want.put("same.txt", "DR's new file");
            want.put("same.txt" + s, "the primary's new file");
            want.put("pmod.txt", "modified at the primary");
            assertThat(files(p)).isEqualTo(want);

            // a rerun with nothing changed applies nothing
            ReverseReport again = Failover.reverse(feed, p, dr, options, false);
            assertThat(again.applied()).isZero();
            assertThat(again.conflicts()).isEmpty();

            // failback: the DR site quiesced, a last delta, the session re-based at the split
            Files.writeString(dr.resolve("a/last.txt"), "written at DR just before failback");
            Failover.Failback back = Failover.failback(feed, p, dr, options);
            assertThat(back.rebasedAt()).isEqualTo(split);
            assertThat(back.lastPass().puts()).isEqualTo(2); // a/last.txt and the times of a
            assertThat(Failover.promotion(dr)).isEmpty();

            GeoReplicator resumed = new GeoReplicator(feed, p, dr, options);
            resumed.runOnce();
            System.out.println("forward again after failback: " + resumed.status());
            assertThat(resumed.status().resyncs()).as("no full synchronisation").isZero();
            assertThat(resumed.status().filesCopied())
                    .as("only the old primary's own changes and the conflict copies travel")
                    .isLessThan(copiedByFullSync);
            TreeWorkload.assertSameTree(p, dr, STATE, "the DR copy");
            Files.writeString(p.resolve("after.txt"), "forward replication works again");
            resumed.runOnce();
            assertThat(Files.readString(dr.resolve("after.txt"))).isEqualTo("forward replication works again");
            assertThat(resumed.status().resyncs()).isZero();
        }
    }
}
