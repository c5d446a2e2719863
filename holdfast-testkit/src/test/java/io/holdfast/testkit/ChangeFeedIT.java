package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.client.HoldfastClient;
import io.holdfast.protocol.Change;
import io.holdfast.protocol.Change.Kind;
import io.holdfast.protocol.ChangeRecord;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The change feed on a three-node volume: what ordinary file operations through the NIO provider
 * change, in order and by name, read from the leader with a long poll and from every member.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ChangeFeedIT {
    private static final String VOLUME = "feed";
    private static final Duration DEADLINE = Duration.ofSeconds(60);

    @TempDir
    static Path clusterRoot;

    private static MiniCluster cluster;
    private static VolumeService volume;

    @BeforeAll
    static void startCluster() throws Exception {
        cluster = MiniCluster.start(clusterRoot, 3, 100_000);
        volume = cluster.createVolume(VOLUME, 0, 1, 2);
    }

    @AfterAll
    static void stopCluster() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    private static FileSystem fileSystem() throws Exception {
        return FileSystems.newFileSystem(
                URI.create("holdfast://" + cluster.addresses().get(1) + "/" + VOLUME), cluster.clientEnv());
    }

    /** Every change after {@code after} up to the feed's applied index, following pages. */
    private static List<ChangeRecord> readAll(long after) {
        List<ChangeRecord> out = new ArrayList<>();
        while (true) {
            Response.ChangePage p = Volumes.expect(
                    Response.ChangePage.class, Volumes.call(volume.changes(after, 100, 0)), "change page");
            assertThat(p.resyncNeeded(after)).isFalse();
            out.addAll(p.records());
            after = p.next(after);
            if (!p.more()) {
                return out;
            }
        }
    }

    @Test
    void fileOperationsShowUpInOrderByName() throws Exception {
        long start = Volumes.expect(Response.ChangePage.class, Volumes.call(volume.changes(0, 1, 0)), "change page")
                .appliedIndex();
        try (FileSystem fs = fileSystem()) {
            Path dir = Files.createDirectories(fs.getPath("/mail/tmp"));
            Files.createDirectories(fs.getPath("/mail/new"));
            Path tmp = dir.resolve("1.msg");
            Files.write(tmp, new byte[4096]);
            Files.move(tmp, fs.getPath("/mail/new/1.msg"));
            Files.delete(fs.getPath("/mail/new/1.msg"));
            // what the provider sends is its business (it may batch); the feed must say what happened, in order
            MiniCluster.await(
                    DEADLINE,
                    () -> readAll(start).stream()
                            .flatMap(r -> r.changes().stream())
                            .anyMatch(c -> c.kind() == Kind.UNLINK),
                    "the unlink in the feed");
        }
        List<Change> changes = readAll(start).stream()
                .flatMap(r -> r.changes().stream())
                .filter(c -> c.kind() != Kind.SETATTR) // the provider's own attribute changes are not the point
                .toList();
        assertThat(changes.stream().map(c -> c.kind() + " " + c.path() + (c.from() == null ? "" : " <- " + c.from())))
                .containsSubsequence(
                        "MKDIR /mail",
                        "MKDIR /mail/tmp",
                        "MKDIR /mail/new",
                        "CREATE /mail/tmp/1.msg",
                        "WRITE /mail/tmp/1.msg",
                        "RENAME /mail/new/1.msg <- /mail/tmp/1.msg",
                        "UNLINK /mail/new/1.msg");
        long created = changes.stream()
                .filter(c -> c.kind() == Kind.CREATE)
                .findFirst()
                .orElseThrow()
                .inode();
        assertThat(changes.stream()
                        .filter(c -> c.kind() == Kind.RENAME)
                        .findFirst()
                        .orElseThrow()
                        .inode())
                .isEqualTo(created);
    }

    /** A read held by the leader is answered by the next applied entry, not by its wait running out. */
    @Test
    void aHeldReadIsAnsweredByTheNextChange() throws Exception {
        try (FileSystem fs = fileSystem()) {
            Files.createDirectories(fs.getPath("/poll"));
            MiniCluster.await(
                    DEADLINE,
                    () -> readAll(0).stream()
                            .flatMap(r -> r.changes().stream())
                            .anyMatch(c -> "/poll".equals(c.path())),
                    "the mkdir in the feed");
            // held reads that come back empty (their wait ran out, or an entry without a record) are asked again
            long after = readAll(0).getLast().index();
            List<ChangeRecord> got = new ArrayList<>();
            CompletableFuture<Void> poller = CompletableFuture.runAsync(() -> {
                long at = after;
                while (got.isEmpty()) {
                    Response.ChangePage p = (Response.ChangePage) Volumes.call(volume.changes(at, 10, 500));
                    got.addAll(p.records());
                    at = p.next(at);
                }
            });
            Files.createFile(fs.getPath("/poll/new-file"));
            poller.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
            assertThat(got.getFirst().changes().getFirst())
                    .extracting(Change::kind, Change::path)
                    .containsExactly(Kind.CREATE, "/poll/new-file");
        }
    }

    /** Any member answers, from its own changelog: the records they all hold are the same. */
    @Test
    void everyMemberKeepsTheSameRecords() throws Exception {
        try (FileSystem fs = fileSystem()) {
            for (int i = 0; i < 20; i++) {
                Files.writeString(fs.getPath("/member-" + i), "x".repeat(i));
            }
        }
        cluster.awaitConvergence(VOLUME, DEADLINE);
        HoldfastClient client = cluster.client(); // the cluster's own: not closed here
        Map<String, Response> pages = client.probe().queryMembers(VOLUME, new Request.Changes(0, 1024, 0));
        assertThat(pages).hasSize(3);
        List<List<ChangeRecord>> records = pages.values().stream()
                .map(r -> Volumes.expect(Response.ChangePage.class, r, "member page")
                        .records())
                .toList();
        int common = records.stream().mapToInt(List::size).min().orElseThrow();
        assertThat(common).isGreaterThanOrEqualTo(20);
        for (List<ChangeRecord> r : records) {
            assertThat(r.subList(0, common)).isEqualTo(records.getFirst().subList(0, common));
        }
    }
}
