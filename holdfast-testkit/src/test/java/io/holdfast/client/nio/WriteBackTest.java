package io.holdfast.client.nio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Caller;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.storage.Brick;
import io.holdfast.storage.LocalVolumeService;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Write-back of root's attribute changes, over one brick in this process whose service grants
 * the read lease at once and never revokes it: another client's change made directly on the
 * volume then leaves this client's cache stale, as in the moment before a revocation reaches it.
 */
class WriteBackTest {
    @TempDir
    Path dir;

    private Brick brick;
    private LocalVolumeService volume;
    private final List<Request.Mutation> sent = new CopyOnWriteArrayList<>();
    /** Guards {@link #held}. */
    private final Object answering = new Object();
    /**
     * While not null, mutations are applied and answered only once it completes, in the order sent
     * (each waits for the one before): a volume slow to answer.
     */
    private CompletableFuture<?> held;

    /** While positive, every answer comes this many milliseconds after the volume applied the mutation. */
    private volatile int lateAnswerMillis;

    private FileSystem fs;

    @BeforeEach
    void open() throws IOException {
        brick = Brick.open(dir.resolve("brick"));
        volume = new LocalVolumeService(brick, InstantSource.system());
        VolumeService leased = new LeasedVolume(volume) {
            @Override
            public CompletableFuture<Response> submit(Request.Mutation m) {
                sent.add(m);
                int late = lateAnswerMillis;
                if (late > 0) {
                    return volume.submit(m)
                            .thenApplyAsync(r -> r, CompletableFuture.delayedExecutor(late, TimeUnit.MILLISECONDS));
                }
                synchronized (answering) {
                    if (held == null) {
                        return volume.submit(m);
                    }
                    CompletableFuture<Response> answer = held.thenCompose(v -> volume.submit(m));
                    held = answer;
                    return answer;
                }
            }
        };
        fs = GrantingLeases.openLeased(leased);
    }

    @AfterEach
    void close() throws IOException {
        try {
            fs.close();
        } finally {
            volume.close();
            brick.close();
        }
    }

    private Attr onVolume(String path) throws Exception {
        return ((Response.AttrReply)
                        volume.query(new Request.GetAttr(path, false)).get(10, TimeUnit.SECONDS))
                .attr();
    }

    /**
     * chmod, chown and utimens by root are answered from the cache at once, travel with the next
     * mutation, and the attributes this client showed (change time included) are exactly the ones
     * the volume applied.
     */
    @Test
    void rootsChangesAreShownAtOnceAndAreWhatTheVolumeApplies() throws Exception {
        Path f = fs.getPath("/f");
        Files.writeString(f, "data");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        Files.setAttribute(f, "unix:ids", new int[] {1000, 100});
        FileTime mtime = FileTime.from(Instant.parse("2020-01-02T03:04:05.000000006Z"));
        Files.setLastModifiedTime(f, mtime);
        Map<String, Object> shown = Files.readAttributes(f, "unix:mode,uid,gid,lastModifiedTime,ctime");
        assertThat((int) shown.get("mode") & 07777).isEqualTo(0600);
        assertThat(shown.get("uid")).isEqualTo(1000);
        assertThat(shown.get("gid")).isEqualTo(100);
        assertThat(shown.get("lastModifiedTime")).isEqualTo(mtime);
        // Whether the three changes were still queued (then the answer above is their prediction)
        // depends on the machine: an answer that arrives while a later change of the inode is on its
        // way is not learned, and the next read misses. Once all are answered, the last one's answer
        // is in the cache.
        awaitWrittenBack();
        long missesBefore = CacheStats.of(fs).misses();
        assertThat(Files.readAttributes(f, "unix:mode,uid,gid,lastModifiedTime,ctime"))
                .as("the same attributes once written back")
                .isEqualTo(shown);
        assertThat(CacheStats.of(fs).misses()).as("answered from the cache").isEqualTo(missesBefore);
        Files.createFile(fs.getPath("/g")); // a synchronous mutation: the queued changes go first
        Attr applied = onVolume("/f");
        assertThat(applied.mode()).isEqualTo(0600);
        assertThat(applied.uid()).isEqualTo(1000);
        assertThat(applied.gid()).isEqualTo(100);
        assertThat(applied.mtimeNanos()).isEqualTo(6L + mtime.toInstant().getEpochSecond() * 1_000_000_000L);
        assertThat(FileTime.from(applied.ctimeNanos(), TimeUnit.NANOSECONDS))
                .as("the change time this client showed is the one the volume applied")
                .isEqualTo(Files.getAttribute(f, "unix:ctime"));
        WriteBackStats stats = WriteBackStats.of(fs);
        assertThat(stats.writtenBack()).isEqualTo(3);
        assertThat(stats.pending()).isZero();
        assertThat(stats.failed()).isZero();
        assertThat(sent)
                .filteredOn(m -> m instanceof Request.SetAttr s && s.expectInode() != 0 || m instanceof Request.Batch)
                .as("written back")
                .hasSize((int) stats.requests());
    }

    /**
     * Root's unlinks of files are answered at once (the names are gone and the directory's times
     * moved, from the cache), travel in batches, and the directory's times this client showed are
     * exactly the ones the volume applied; an rmdir after them goes after them.
     */
    @Test
    void rootsUnlinksAreShownAtOnceAndAreWhatTheVolumeApplies() throws Exception {
        Path d = Files.createDirectory(fs.getPath("/d"));
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            files.add(Files.writeString(d.resolve("f" + i), "data " + i));
        }
        Files.createLink(d.resolve("link"), files.getFirst()); // f0 keeps a name
        awaitWrittenBack();
        try (var listing = Files.newDirectoryStream(d)) { // a whole listing: its names are known here
            assertThat(listing).hasSize(21);
        }
        for (Path f : files) {
            awaitCached(f);
        }
        awaitCached(d);
        long changed = ((FileTime) Files.getAttribute(d, "unix:ctime")).to(TimeUnit.NANOSECONDS);
        sent.clear();
        long missesBefore = CacheStats.of(fs).misses();
        for (Path f : files) {
            Files.delete(f);
            assertThat(Files.exists(f, LinkOption.NOFOLLOW_LINKS))
                    .as("gone at once")
                    .isFalse();
        }
        Map<String, Object> shown = Files.readAttributes(d, "unix:lastModifiedTime,ctime,nlink");
        assertThat(CacheStats.of(fs).misses()).as("all from the cache").isEqualTo(missesBefore);
        assertThat(((FileTime) shown.get("ctime")).to(TimeUnit.NANOSECONDS)).isGreaterThanOrEqualTo(changed);
        awaitWrittenBack();
        Attr applied = onVolume("/d");
        assertThat(FileTime.from(applied.mtimeNanos(), TimeUnit.NANOSECONDS)).isEqualTo(shown.get("lastModifiedTime"));
        assertThat(FileTime.from(applied.ctimeNanos(), TimeUnit.NANOSECONDS))
                .as("the times this client showed are the ones the volume applied")
                .isEqualTo(shown.get("ctime"));
        for (int i = 0; i < files.size(); i++) {
            Response r = volume.query(new Request.GetAttr("/d/f" + i, false)).get(10, TimeUnit.SECONDS);
            assertThat(r).as("/d/f%d removed", i).isInstanceOf(Response.Error.class);
        }
        assertThat(onVolume("/d/link").nlink())
                .as("the other name's link count")
                .isEqualTo(1);
        assertThat(Files.getAttribute(d.resolve("link"), "unix:nlink")).isEqualTo(1);
        WriteBackStats stats = WriteBackStats.of(fs);
        assertThat(stats.failed()).isZero();
        assertThat(sent)
                .as("written back, naming the inodes, in batches")
                .allSatisfy(m -> assertThat(m).isInstanceOfAny(Request.Unlink.class, Request.Batch.class))
                .hasSizeLessThanOrEqualTo(files.size());
        assertThat(sent.stream()
                        .mapToLong(m ->
                                m instanceof Request.Batch b ? b.mutations().size() : 1)
                        .sum())
                .isEqualTo(files.size());
        Files.delete(d.resolve("link"));
        awaitCached(fs.getPath("/"));
        sent.clear();
        Files.delete(d); // known empty (listed, and every name removed here): written back too
        assertThat(Files.exists(d, LinkOption.NOFOLLOW_LINKS))
                .as("gone at once")
                .isFalse();
        long misses = CacheStats.of(fs).misses();
        Map<String, Object> root = Files.readAttributes(fs.getPath("/"), "unix:nlink,lastModifiedTime,ctime");
        assertThat(CacheStats.of(fs).misses()).as("from the cache").isEqualTo(misses);
        awaitWrittenBack();
        Attr rootApplied = onVolume("/");
        assertThat(root.get("nlink")).isEqualTo(rootApplied.nlink());
        assertThat(root.get("ctime")).isEqualTo(FileTime.from(rootApplied.ctimeNanos(), TimeUnit.NANOSECONDS));
        assertThat(root.get("lastModifiedTime"))
                .isEqualTo(FileTime.from(rootApplied.mtimeNanos(), TimeUnit.NANOSECONDS));
        assertThat(sent)
                .anySatisfy(m -> assertThat(m)
                        .isInstanceOfSatisfying(
                                Request.Rmdir.class,
                                r -> assertThat(r.expectInode()).isNotZero()));
        assertThat(volume.query(new Request.GetAttr("/d", false)).get(10, TimeUnit.SECONDS))
                .isInstanceOf(Response.Error.class);
        assertThat(WriteBackStats.of(fs).failed()).isZero();
        assertThat(onVolume("/").nlink())
                .as("the root lost the link of d's '..'")
                .isEqualTo(2);
    }

    /**
     * While the volume does not answer, {@code rm -rf} of a directory of 200 files still returns:
     * the removals are queued (far more than the write window's 64 requests), the queue goes in at
     * most {@link HoldfastFileSystem#WRITE_BACK_MAX_BATCHES_IN_FLIGHT} requests while none is
     * answered, and once answers come, the rest goes as one batch. (Before, each written-back change
     * held one request of the write window until answered: the 65th removal waited for an answer.)
     */
    @Test
    void removalsDoNotWaitForASlowVolumeAndTravelInFewBatches() throws Exception {
        Path d = Files.createDirectory(fs.getPath("/many"));
        int n = 200; // over the write window's requests, under one batch's mutations
        assertThat(n)
                .isGreaterThan(HoldfastFileSystem.DEFAULT_WRITE_WINDOW_REQUESTS)
                .isLessThan(Request.Batch.MAX_MUTATIONS);
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            files.add(Files.createFile(d.resolve("f" + i)));
        }
        awaitWrittenBack();
        try (var listing = Files.newDirectoryStream(d)) { // a whole listing: d is known empty once emptied
            assertThat(listing).hasSize(n);
        }
        for (Path f : files) {
            awaitCached(f);
        }
        awaitCached(d);
        CompletableFuture<Void> gate = new CompletableFuture<>();
        synchronized (answering) {
            held = gate;
        }
        WriteBackStats before = WriteBackStats.of(fs);
        sent.clear();
        CompletableFuture<Void> removed = CompletableFuture.runAsync(() -> {
            try {
                for (Path f : files) {
                    Files.delete(f);
                }
                Files.delete(d);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        List<Request.Mutation> sentWhileHeld;
        try {
            removed.get(60, TimeUnit.SECONDS);
        } finally {
            // what went before the volume answered: once it does, the rest of the queue goes at once
            sentWhileHeld = List.copyOf(sent);
            gate.complete(null); // answer, so that a failure leaves nothing blocked
        }
        assertThat(WriteBackStats.of(fs).writtenBack() - before.writtenBack())
                .as("every removal written back")
                .isEqualTo(n + 1);
        assertThat(sentWhileHeld)
                .as("sent while no answer came: at most the batches allowed in flight")
                .hasSizeLessThanOrEqualTo(HoldfastFileSystem.WRITE_BACK_MAX_BATCHES_IN_FLIGHT);
        awaitWrittenBack();
        assertThat(WriteBackStats.of(fs).requests() - before.requests())
                .as("the changes queued meanwhile went in one more batch")
                .isLessThanOrEqualTo(HoldfastFileSystem.WRITE_BACK_MAX_BATCHES_IN_FLIGHT + 1);
        assertThat(sent.stream()
                        .mapToLong(m ->
                                m instanceof Request.Batch b ? b.mutations().size() : 1)
                        .sum())
                .isEqualTo(n + 1);
        assertThat(WriteBackStats.of(fs).failed()).isZero();
        assertThat(volume.query(new Request.GetAttr("/many", false)).get(10, TimeUnit.SECONDS))
                .as("applied: the directory and its files are gone")
                .isInstanceOf(Response.Error.class);
    }

    /**
     * A directory another client made is known to be empty once this client listed it whole and
     * removed what it held: its rmdir is written back. One that another client filled meanwhile,
     * unseen by this client's cache, is refused (nothing removed) and reported by the file system's
     * close.
     */
    @Test
    void anRmdirIsWrittenBackOnlyForADirectoryKnownEmptyAndARefusedOneRemovesNothing() throws Exception {
        assertThat(volume.submit(new Request.Mkdir(Caller.ROOT, "/e", 0755)).get())
                .isInstanceOf(Response.AttrReply.class);
        assertThat(volume.submit(new Request.Create(Caller.ROOT, "/e/x", 0644, true))
                        .get())
                .isInstanceOf(Response.AttrReply.class);
        Path e = fs.getPath("/e");
        awaitCached(e);
        try (var listing = Files.newDirectoryStream(e)) {
            assertThat(listing).hasSize(1);
        }
        awaitCached(e.resolve("x"));
        Files.delete(e.resolve("x"));
        awaitWrittenBack();
        sent.clear();
        Files.delete(e);
        awaitWrittenBack();
        assertThat(sent)
                .singleElement()
                .isInstanceOfSatisfying(
                        Request.Rmdir.class, r -> assertThat(r.expectInode()).isNotZero());
        assertThat(volume.query(new Request.GetAttr("/e", false)).get(10, TimeUnit.SECONDS))
                .isInstanceOf(Response.Error.class);

        Path f = Files.createDirectory(fs.getPath("/f"));
        awaitCached(f);
        // another client, unseen by this one's cache, makes a file in it
        assertThat(volume.submit(new Request.Create(Caller.ROOT, "/f/late", 0644, true))
                        .get())
                .isInstanceOf(Response.AttrReply.class);
        Files.delete(f); // this client's cache still knows it empty
        awaitWrittenBack();
        assertThat(WriteBackStats.of(fs).failed()).isEqualTo(1);
        assertThat(onVolume("/f/late").mode()).as("refused: nothing removed").isEqualTo(0644);
        assertThatThrownBy(() -> fs.close()).isInstanceOf(IOException.class).hasMessageContaining("/f");
    }

    /**
     * Another client replaced the file under this client's cache: the written-back unlink names the
     * inode it meant, so the volume refuses it (both files stay), and the next fsync of the file it
     * meant reports it, once. The lease's drop hooks run on the refusal, so a layer that cached the
     * unlink's effect (a FUSE mount's kernel cache) takes it back too.
     */
    @Test
    void aRefusedUnlinkRemovesNothingAndTheNextFsyncOfTheFileReportsIt() throws Exception {
        Path k = fs.getPath("/k");
        long mine = replacedBehindTheCache(k);
        CountDownLatch retracted = new CountDownLatch(1);
        try (AutoCloseable hook = HoldfastFiles.readLease(fs).orElseThrow().onDrop(retracted::countDown)) {
            Files.delete(k); // the file the cache knows: answered at once
            awaitWrittenBack();
            assertThat(retracted.await(30, TimeUnit.SECONDS))
                    .as("the drop hooks ran after the refusal")
                    .isTrue();
        }
        assertRefusedAndReportedOnce(k, mine);
        assertThat(Files.readString(fs.getPath("/k2"))).isEqualTo("mine");
    }

    /**
     * Writes "mine" to {@code p} and caches it; then another client, unseen by this one's cache,
     * moves it to {@code p}'s name + "2" and makes a new file (mode 0640) at {@code p}.
     *
     * @return the inode of "mine"
     */
    private long replacedBehindTheCache(Path p) throws Exception {
        Files.writeString(p, "mine");
        long mine = (long) Files.getAttribute(p, "unix:ino");
        awaitWrittenBack();
        awaitCached(p);
        assertThat(volume.submit(new Request.Rename(Caller.ROOT, p.toString(), p + "2", 0))
                        .get())
                .isInstanceOf(Response.AttrReply.class);
        assertThat(volume.submit(new Request.Create(Caller.ROOT, p.toString(), 0640, true))
                        .get())
                .isInstanceOf(Response.AttrReply.class);
        return mine;
    }

    /**
     * After {@link #replacedBehindTheCache} and a written-back change of {@code p}: it was refused,
     * the other client's files stay, and the next fsync of the file it meant reports it, once.
     */
    private void assertRefusedAndReportedOnce(Path p, long mine) throws Exception {
        assertThat(WriteBackStats.of(fs).failed()).isEqualTo(1);
        assertThat(onVolume(p.toString()).mode())
                .as("the other client's new file stays")
                .isEqualTo(0640);
        assertThat(onVolume(p + "2").inode()).as("the file it meant stays").isEqualTo(mine);
        try (FileChannel ch = FileChannel.open(fs.getPath(p + "2"), StandardOpenOption.WRITE)) {
            assertThatThrownBy(() -> ch.force(true))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining(p.toString());
            ch.force(true); // reported once
        }
    }

    /**
     * Maildir deliveries (create in tmp/, write, fsync, rename to new/): each rename is answered from
     * the cache at once, without waiting for the volume (which holds every answer here), and what the
     * client showed (names, the moved file's change time, both directories' times) is what the
     * volume applied. A rename whose source another client replaced meanwhile moves nothing and is
     * reported by the next fsync of the file.
     */
    @Test
    @Timeout(120) // a rename that waited for the volume would wait for ever here
    void rootsRenamesAreShownAtOnceAndAreWhatTheVolumeApplies() throws Exception {
        Path tmp = cachedDirectory("/tmp");
        Path fresh = cachedDirectory("/new");
        List<Path> delivered = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            Path t = tmp.resolve("m" + i);
            try (FileChannel ch = FileChannel.open(t, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(("message " + i).getBytes(StandardCharsets.UTF_8)));
                ch.force(true);
            }
            awaitCached(t);
            CompletableFuture<?> release = holdAnswers(); // the volume answers nothing until released
            sent.clear();
            Path n = fresh.resolve("m" + i);
            Files.move(t, n);
            assertThat(Files.exists(t, LinkOption.NOFOLLOW_LINKS))
                    .as("gone at once")
                    .isFalse();
            assertThat(Files.size(n)).as("from the cache").isEqualTo(("message " + i).length());
            assertThat(sent)
                    .as("nothing sent yet or sent without waiting")
                    .allSatisfy(m -> assertThat(m).isInstanceOfAny(Request.Rename.class, Request.Batch.class));
            release.complete(null);
            awaitWrittenBack();
            assertThat(sent.stream()
                            .flatMap(m -> m instanceof Request.Batch b ? b.mutations().stream() : Stream.of(m))
                            .filter(m -> m instanceof Request.Rename r && r.expectInode() != 0))
                    .as("the rename written back, naming the inode")
                    .hasSize(1);
            delivered.add(n);
        }
        Map<String, Object> shownNew = Files.readAttributes(fresh, "unix:lastModifiedTime,ctime");
        Map<String, Object> shownTmp = Files.readAttributes(tmp, "unix:lastModifiedTime,ctime");
        long shownFile = ((FileTime) Files.getAttribute(delivered.getLast(), "unix:ctime", LinkOption.NOFOLLOW_LINKS))
                .to(TimeUnit.NANOSECONDS);
        awaitWrittenBack();
        assertThat(WriteBackStats.of(fs).failed()).isZero();
        assertThat(shownNew.get("ctime"))
                .isEqualTo(FileTime.from(onVolume("/new").ctimeNanos(), TimeUnit.NANOSECONDS));
        assertThat(shownNew.get("lastModifiedTime"))
                .isEqualTo(FileTime.from(onVolume("/new").mtimeNanos(), TimeUnit.NANOSECONDS));
        assertThat(shownTmp.get("ctime"))
                .isEqualTo(FileTime.from(onVolume("/tmp").ctimeNanos(), TimeUnit.NANOSECONDS));
        assertThat(shownFile).isEqualTo(onVolume("/new/m4").ctimeNanos());
        for (int i = 0; i < 5; i++) {
            assertThat(volume.query(new Request.GetAttr("/tmp/m" + i, false)).get(10, TimeUnit.SECONDS))
                    .isInstanceOf(Response.Error.class);
            assertThat(onVolume("/new/m" + i).size()).isEqualTo(("message " + i).length());
        }

        // another client, unseen by this one's cache, replaces tmp/x: the rename names the inode it
        // saw, so it moves nothing
        Path x = tmp.resolve("x");
        long mine = replacedBehindTheCache(x);
        Files.move(x, fresh.resolve("x")); // answered at once from the cache
        awaitWrittenBack();
        assertThat(volume.query(new Request.GetAttr("/new/x", false)).get(10, TimeUnit.SECONDS))
                .isInstanceOf(Response.Error.class);
        assertRefusedAndReportedOnce(x, mine);
    }

    /**
     * Maildir deliveries whose rename follows the file's writes with nothing asked between (a FUSE
     * mount whose kernel caches names does not look the source up again before a rename): each
     * rename is still written back, naming the inode, and the cache keeps both directories' names,
     * so lookups of absent names there ask nothing. (Sent alone, a rename of an inode the cache does
     * not hold drops the whole cache.)
     */
    @Test
    void aRenameRightAfterTheFilesWritesIsWrittenBackAndKeepsTheCache() throws Exception {
        Path tmp = cachedDirectory("/tmp");
        Path fresh = cachedDirectory("/new");
        for (int i = 0; i < 3; i++) {
            Path t = tmp.resolve("m" + i);
            try (FileChannel ch = FileChannel.open(t, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(new byte[4096]));
                ch.write(ByteBuffer.wrap(("message " + i).getBytes(StandardCharsets.UTF_8)), 4096);
                ch.force(true);
            }
            sent.clear();
            Files.move(t, fresh.resolve("m" + i));
            awaitWrittenBack();
            assertThat(sent.stream()
                            .flatMap(m -> m instanceof Request.Batch b ? b.mutations().stream() : Stream.of(m))
                            .filter(m -> m instanceof Request.Rename r && r.expectInode() != 0))
                    .as("the rename written back, naming the inode")
                    .hasSize(1);
        }
        long misses = CacheStats.of(fs).misses();
        assertThat(Files.exists(fresh.resolve("absent"), LinkOption.NOFOLLOW_LINKS))
                .isFalse();
        assertThat(Files.exists(tmp.resolve("absent"), LinkOption.NOFOLLOW_LINKS))
                .isFalse();
        assertThat(CacheStats.of(fs).misses())
                .as("both directories' names still known here")
                .isEqualTo(misses);
        assertThat(onVolume("/new/m2").size()).isEqualTo(4096 + "message 2".length());
    }

    /**
     * Root's create of a name the cache knows absent returns without the volume (which holds every
     * answer here), with an inode number from the client range; what the client showed (the file's
     * number, mode, owner and times, the directory's times) is what the volume applied, and the data
     * written follows it. A create whose name another client took meanwhile is refused, changes
     * nothing of that client's file, and fails the next fsync of the file.
     */
    @Test
    @Timeout(120) // a create that waited for the volume would wait for ever here
    void rootsCreatesAreShownAtOnceAndAreWhatTheVolumeApplies() throws Exception {
        Path dir = cachedDirectory("/ctmp");
        Path m = dir.resolve("m");
        CompletableFuture<?> release = holdAnswers(); // the volume answers nothing until released
        Map<String, Object> shown;
        Map<String, Object> shownDir;
        try (FileChannel ch = FileChannel.open(m, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            shown = Files.readAttributes(m, "unix:ino,mode,uid,gid,size,lastAccessTime,ctime");
            shownDir = Files.readAttributes(dir, "unix:lastModifiedTime,ctime");
            assertThat(Request.Create.clientInode((long) shown.get("ino")))
                    .as("numbered by the client")
                    .isTrue();
            release.complete(null);
            ch.write(ByteBuffer.wrap("delivered".getBytes(StandardCharsets.UTF_8)));
            ch.force(true);
        }
        awaitWrittenBack();
        assertThat(WriteBackStats.of(fs).failed()).isZero();
        Attr applied = onVolume("/ctmp/m");
        assertThat(applied.inode()).isEqualTo(shown.get("ino"));
        assertThat(applied.mode() & 07777).isEqualTo((int) shown.get("mode") & 07777);
        assertThat(applied.uid()).isEqualTo(shown.get("uid"));
        assertThat(applied.gid()).isEqualTo(shown.get("gid"));
        // the write moved the change time since; the access time is still the create's
        assertThat(FileTime.from(applied.atimeNanos(), TimeUnit.NANOSECONDS)).isEqualTo(shown.get("lastAccessTime"));
        assertThat(shown.get("ctime")).isEqualTo(shown.get("lastAccessTime"));
        assertThat(applied.size()).isEqualTo("delivered".length());
        Attr appliedDir = onVolume("/ctmp");
        assertThat(FileTime.from(appliedDir.mtimeNanos(), TimeUnit.NANOSECONDS))
                .isEqualTo(shownDir.get("lastModifiedTime"));
        assertThat(FileTime.from(appliedDir.ctimeNanos(), TimeUnit.NANOSECONDS)).isEqualTo(shownDir.get("ctime"));
        assertThat(sent.stream()
                        .flatMap(x -> x instanceof Request.Batch b ? b.mutations().stream() : Stream.of(x))
                        .filter(x -> x instanceof Request.Create c && c.inode() != 0))
                .as("the create written back, numbered by the client")
                .hasSize(1);

        // another client, unseen by this one's cache, takes the name first
        assertThat(volume.submit(new Request.Create(Caller.ROOT, "/ctmp/taken", 0640, true))
                        .get())
                .isInstanceOf(Response.AttrReply.class);
        Path taken = dir.resolve("taken");
        try (FileChannel ch = FileChannel.open(taken, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap("mine".getBytes(StandardCharsets.UTF_8)));
            assertThatThrownBy(() -> ch.force(true)).isInstanceOf(IOException.class);
        } catch (IOException e) {
            // the close may report the failed writes too
        }
        awaitWrittenBack();
        assertThat(WriteBackStats.of(fs).failed()).isGreaterThanOrEqualTo(1);
        assertThat(onVolume("/ctmp/taken").mode())
                .as("the other client's file stays")
                .isEqualTo(0640);
        assertThat(onVolume("/ctmp/taken").size()).as("and keeps its content").isZero();
    }

    /**
     * Times, owner and mode set on a file whose writes are still on their way (tar's futimens,
     * fchown, fchmod after the writes) go without waiting for those writes' answers, travel after
     * them in order, and the cache then shows what the volume applied.
     */
    @Test
    void attributeChangesBehindTheFilesWritesDoNotWaitForThem() throws Exception {
        Path f = fs.getPath("/being-written");
        Files.writeString(f, "seed");
        awaitWrittenBack();
        awaitCached(f);
        FileTime mtime = FileTime.from(Instant.parse("2021-01-28T22:25:08Z"));
        CompletableFuture<?> release = holdAnswers(); // the volume answers nothing until released
        sent.clear();
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[10_000]), 0);
            CompletableFuture<Void> changes = CompletableFuture.runAsync(() -> {
                try {
                    Files.setLastModifiedTime(f, mtime);
                    Files.setAttribute(f, "unix:ids", new int[] {1000, 100});
                    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            try {
                changes.get(20, TimeUnit.SECONDS); // waiting for the held write would never end
            } finally {
                release.complete(null);
            }
            assertThat(sent).as("the write went first").first().isInstanceOf(Request.Write.class);
            ch.force(true);
        }
        awaitWrittenBack();
        Attr v = onVolume("/being-written");
        assertThat(v.size()).isEqualTo(10_000);
        assertThat(v.mtimeNanos()).as("set after the write").isEqualTo(mtime.to(TimeUnit.NANOSECONDS));
        assertThat(v.uid()).isEqualTo(1000);
        assertThat(v.mode()).isEqualTo(0644);
        Map<String, Object> shown = Files.readAttributes(f, "unix:size,lastModifiedTime,uid,gid,mode,ctime");
        assertThat(shown.get("size")).isEqualTo(10_000L);
        assertThat(shown.get("lastModifiedTime")).isEqualTo(mtime);
        assertThat(shown.get("uid")).isEqualTo(1000);
        assertThat((int) shown.get("mode") & 07777).isEqualTo(0644);
        assertThat(((FileTime) shown.get("ctime")).to(TimeUnit.NANOSECONDS)).isEqualTo(v.ctimeNanos());
    }

    /**
     * Closing a file waits for its create and its data (close-to-open), not for the mode, owner or
     * times set on it afterwards (tar's fchmod before close), which a later durability point covers.
     */
    @Test
    void closeWaitsForTheCreateAndTheDataNotForLaterAttributeChanges() throws Exception {
        Path dir = cachedDirectory("/closing");
        Path f = dir.resolve("f");
        FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        assertThat((long) Files.getAttribute(f, "unix:ino"))
                .as("created by the client: written back")
                .isGreaterThanOrEqualTo(Request.Create.CLIENT_INODE_BIT);
        ch.write(ByteBuffer.wrap("data".getBytes(StandardCharsets.UTF_8)));
        ch.force(false); // the create and the data are answered
        CompletableFuture<?> release = holdAnswers(); // the volume answers nothing until released
        try {
            Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
            CompletableFuture.runAsync(() -> {
                        try {
                            ch.close();
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                    })
                    .get(20, TimeUnit.SECONDS); // waiting for the held chmod would never end
        } finally {
            release.complete(null);
        }
        awaitWrittenBack();
        assertThat(onVolume("/closing/f").mode()).isEqualTo(0644);
        assertThat(onVolume("/closing/f").size()).isEqualTo(4);
    }

    /**
     * A mail delivery's create (written back, still queued) and its first bytes reach the volume as
     * one batch ending with the write, one log entry, which the delivery's {@code fsync} waits for.
     * The queue is made to wait deterministically: as many batches of earlier chmods as may be in
     * flight are held unanswered, so the create's linger defers it until the write joins.
     */
    @Test
    @Timeout(120)
    void aFilesCreateAndItsFirstBytesTravelInOneBatch() throws Exception {
        Path dir = Files.createDirectory(fs.getPath("/mail"));
        Path a = Files.writeString(dir.resolve("a"), "a");
        Path b = Files.writeString(dir.resolve("b"), "b");
        awaitWrittenBack();
        awaitCached(a);
        awaitCached(b);
        CompletableFuture<?> release = holdAnswers(); // the volume answers nothing until released
        sent.clear();
        CompletableFuture<Void> delivered;
        byte[] body = new byte[4096];
        new Random(7).nextBytes(body);
        Path m = dir.resolve("m");
        try {
            List<Path> earlier = List.of(a, b);
            for (int i = 0; i < HoldfastFileSystem.WRITE_BACK_MAX_BATCHES_IN_FLIGHT; i++) {
                Files.setPosixFilePermissions(earlier.get(i), PosixFilePermissions.fromString("rw-------"));
                awaitSent(i + 1);
            } // as many batches unanswered as may be: the next queue waits for an answer or company
            delivered = CompletableFuture.runAsync(() -> {
                try (FileChannel ch = FileChannel.open(m, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    ch.write(ByteBuffer.wrap(body));
                    ch.force(true);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            awaitSent(HoldfastFileSystem.WRITE_BACK_MAX_BATCHES_IN_FLIGHT + 1);
            assertThat(sent.get(HoldfastFileSystem.WRITE_BACK_MAX_BATCHES_IN_FLIGHT))
                    .as("the create and the write in one request")
                    .isInstanceOfSatisfying(Request.Batch.class, batch -> {
                        assertThat(batch.mutations())
                                .extracting(x -> x.getClass().getSimpleName())
                                .containsExactly("Create", "Write");
                        assertThat(batch.endingWrite().inode())
                                .isEqualTo(((Request.Create) batch.mutations().getFirst()).inode());
                    });
        } finally {
            release.complete(null);
        }
        delivered.get(30, TimeUnit.SECONDS);
        awaitWrittenBack();
        assertThat(WriteBackStats.of(fs).failed()).isZero();
        assertThat(sent).hasSize(HoldfastFileSystem.WRITE_BACK_MAX_BATCHES_IN_FLIGHT + 1);
        assertThat(onVolume("/mail/m").size()).isEqualTo(body.length);
        assertThat(((Response.Data) volume.query(
                                        new Request.Read(onVolume("/mail/m").inode(), 0, 8192))
                                .get(10, TimeUnit.SECONDS))
                        .bytes())
                .isEqualTo(body);
        assertThat(onVolume("/mail/a").mode() & 0777).isEqualTo(0600);
    }

    /**
     * A file's size and times while its writes and the times set after them (tar's write, then
     * futimens) are on their way are answered at once, predicted from the writes stamped at the
     * client's time, and are exactly what the volume applies.
     */
    @Test
    @Timeout(120) // a stat that waited for the held volume would wait for ever here
    void aFilesAttributesWhileItsWritesAreOnTheirWayAreShownAtOnceAndAreWhatTheVolumeApplies() throws Exception {
        Path dir = cachedDirectory("/untar");
        Path f = dir.resolve("f");
        FileTime mtime = FileTime.from(Instant.parse("2022-11-06T18:15:16Z"));
        CompletableFuture<?> release = holdAnswers(); // the volume answers nothing until released
        Map<String, Object> whileWriting;
        Map<String, Object> afterTimes;
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            try {
                ch.write(ByteBuffer.wrap(new byte[3000]));
                ch.write(ByteBuffer.wrap(new byte[1000]));
                whileWriting = Files.readAttributes(f, "unix:size,lastModifiedTime,ctime");
                Files.setLastModifiedTime(f, mtime); // sends the buffered write, then the times
                afterTimes = Files.readAttributes(f, "unix:size,lastModifiedTime,ctime,mode");
                assertThat(sent).as("the volume has answered nothing yet").isNotEmpty();
            } finally {
                release.complete(null);
            }
            ch.force(true);
        }
        awaitWrittenBack();
        assertThat(whileWriting.get("size")).isEqualTo(4000L);
        assertThat(whileWriting.get("lastModifiedTime")).isEqualTo(whileWriting.get("ctime"));
        assertThat(afterTimes.get("size")).isEqualTo(4000L);
        assertThat(afterTimes.get("lastModifiedTime")).isEqualTo(mtime);
        assertThat(sent.stream()
                        .flatMap(x -> x instanceof Request.Batch b ? b.mutations().stream() : Stream.of(x))
                        .filter(x -> x instanceof Request.Write w && w.clientNanos() != 0))
                .as("the write, stamped at the client's time")
                .hasSize(1);
        Attr applied = onVolume("/untar/f");
        assertThat(applied.size()).isEqualTo(4000L);
        assertThat(FileTime.from(applied.mtimeNanos(), TimeUnit.NANOSECONDS)).isEqualTo(mtime);
        assertThat(FileTime.from(applied.ctimeNanos(), TimeUnit.NANOSECONDS))
                .as("the change time shown is the one applied")
                .isEqualTo(afterTimes.get("ctime"));
        assertThat(applied.mode() & 07777).isEqualTo((int) afterTimes.get("mode") & 07777);
    }

    /**
     * What tar does for each file (create, write, set the times, owner and mode, close), file after
     * file in one directory, asks the volume nothing: every answer is predicted, so the directory's
     * attributes and names stay known for the next create, and the volume ends with what was shown.
     */
    @Test
    void filesWrittenAsTarWritesThemNeedNoQuery() throws Exception {
        Path dir = cachedDirectory("/tar");
        FileTime mtime = FileTime.from(Instant.parse("2022-11-06T18:15:16Z"));
        long misses = CacheStats.of(fs).misses();
        for (int i = 0; i < 20; i++) {
            Path f = dir.resolve("f" + i);
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(new byte[1000 + 5000 * i]));
                Files.setLastModifiedTime(f, mtime);
                Files.setAttribute(f, "unix:ids", new int[] {0, 0});
                Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
                assertThat(Files.size(f)).isEqualTo(1000 + 5000 * i);
            }
        }
        assertThat(CacheStats.of(fs).misses() - misses)
                .as("queries sent to the volume")
                .isZero();
        awaitWrittenBack();
        assertThat(WriteBackStats.of(fs).failed()).isZero();
        for (int i = 0; i < 20; i++) {
            Attr v = onVolume("/tar/f" + i);
            Map<String, Object> shown =
                    Files.readAttributes(dir.resolve("f" + i), "unix:size,lastModifiedTime,mode,ctime");
            assertThat(v.size()).isEqualTo(1000 + 5000 * i).isEqualTo(shown.get("size"));
            assertThat(FileTime.from(v.mtimeNanos(), TimeUnit.NANOSECONDS)).isEqualTo(mtime);
            assertThat(v.mode() & 07777).isEqualTo(0644);
            assertThat(FileTime.from(v.ctimeNanos(), TimeUnit.NANOSECONDS)).isEqualTo(shown.get("ctime"));
        }
    }

    /**
     * tar's files on a volume slower to answer than the write-back linger (each answer 10 ms late,
     * as a loaded volume commits): one request per file. A file's times, owner and mode, queued
     * while its {@code close} waited for the file's create, travel with the next file's create and
     * bytes instead of as a request of their own (before: two requests per file, 40 here).
     */
    @Test
    @Timeout(120)
    void tarOnAVolumeSlowerThanTheLingerSendsOneRequestPerFile() throws Exception {
        Path dir = cachedDirectory("/slow");
        FileTime mtime = FileTime.from(Instant.parse("2023-05-01T10:00:00Z"));
        int files = 20;
        lateAnswerMillis = 10;
        sent.clear();
        for (int i = 0; i < files; i++) {
            Path f = dir.resolve("f" + i);
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(new byte[1000 + i]));
                Files.setLastModifiedTime(f, mtime);
                Files.setAttribute(f, "unix:ids", new int[] {0, 0});
                Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r-----"));
            } // waits for the create: longer than the linger
        }
        awaitWrittenBack();
        // one request per file, and one for the last file's attributes; a file whose next create
        // comes over 2 ms after the answer (this thread descheduled on a loaded machine) costs one
        // more: allow half the files that; the old client sent two per file whatever the load
        assertThat(sent).as("requests for %d files", files).hasSizeLessThanOrEqualTo(files + 1 + files / 2);
        assertThat(WriteBackStats.of(fs).failed()).isZero();
        for (int i = 0; i < files; i++) {
            Attr v = onVolume("/slow/f" + i);
            assertThat(v.size()).isEqualTo(1000 + i);
            assertThat(FileTime.from(v.mtimeNanos(), TimeUnit.NANOSECONDS)).isEqualTo(mtime);
            assertThat(v.mode() & 07777).isEqualTo(0640);
        }
    }

    /** Makes directory {@code path}, waits until the volume has it and this client's cache holds it. */
    private Path cachedDirectory(String path) throws Exception {
        Path d = Files.createDirectory(fs.getPath(path));
        awaitWrittenBack();
        awaitCached(d);
        return d;
    }

    /**
     * Makes the volume hold every mutation sent from now on, answering them in order only once the
     * returned future completes.
     */
    private CompletableFuture<?> holdAnswers() {
        synchronized (answering) {
            held = new CompletableFuture<>();
            return held;
        }
    }

    /** Waits until {@code n} requests have been sent to the volume. */
    private void awaitSent(int n) {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (sent.size() < n) {
            assertThat(System.nanoTime() - deadline)
                    .as("%d requests sent within 30 s", n)
                    .isNegative();
            Thread.onSpinWait();
        }
    }

    private void awaitWrittenBack() {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (WriteBackStats.of(fs).pending() != 0) {
            assertThat(System.nanoTime() - deadline)
                    .as("written back within 30 s")
                    .isNegative();
            Thread.onSpinWait();
        }
    }

    /**
     * Reads {@code p}'s attributes until the cache answers them (an answer that arrived while one of
     * this client's changes to it was on its way is not kept, so on a busy machine it may take more).
     */
    private void awaitCached(Path p) throws IOException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            long misses = CacheStats.of(fs).misses();
            Files.readAttributes(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            if (CacheStats.of(fs).misses() == misses) {
                return;
            }
            assertThat(System.nanoTime() - deadline)
                    .as("%s cached within 30 s", p)
                    .isNegative();
        }
    }

    /**
     * Changes of files deep in the tree (paths of 30 KiB, allowed since a volume path may be
     * deeper than PATH_MAX; 80 of them are more than a frame) travel in batches cut at {@link
     * HoldfastFileSystem#BATCH_PATH_BYTES}, so that no batch outgrows a frame: all are applied,
     * none fails.
     */
    @Test
    void deepPathsAreWrittenBackInBatchesThatFitAFrame() throws Exception {
        Path dir = fs.getPath("/");
        for (int i = 0; i < 80; i++) {
            dir = Files.createDirectory(
                    dir.resolve(String.valueOf((char) ('a' + i % 26)).repeat(250)));
        }
        assertThat(dir.toString().length()).isGreaterThan(20_000);
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < 80; i++) {
            files.add(Files.createFile(dir.resolve("f" + i)));
        }
        sent.clear();
        for (Path f : files) {
            Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        }
        Files.createFile(dir.resolve("last")); // written back too, with a 30 KiB path
        awaitWrittenBack();
        WriteBackStats stats = WriteBackStats.of(fs);
        assertThat(stats.failed()).isZero();
        assertThat(stats.pending()).isZero();
        assertThat(sent).as("cut by bytes, not by count").hasSizeGreaterThanOrEqualTo(2);
        for (Request.Mutation m : sent) {
            assertThat(Codec.encode(m).length).isLessThanOrEqualTo(Limits.MAX_FRAME_BYTES);
        }
        for (Path f : files) {
            assertThat(onVolume(((HoldfastPath) f).volumePath()).mode()).isEqualTo(0600);
        }
    }

    /**
     * Another client replaced the file under this client's cache: the written-back chmod names the
     * inode it meant, so the volume refuses it (it changes neither file), and the next fsync of the
     * file reports it, once.
     */
    @Test
    void aRefusedChangeChangesNothingAndTheNextFsyncOfTheFileReportsIt() throws Exception {
        Path g = fs.getPath("/g");
        Files.writeString(g, "mine");
        long mine = (long) Files.getAttribute(g, "unix:ino");
        FileChannel ch = FileChannel.open(g, StandardOpenOption.WRITE);
        ch.write(ByteBuffer.wrap("M".getBytes()), 0);
        ch.force(false);
        // the premise: this client's cache holds /g (an answer that arrived while one of this
        // client's changes to it was on its way is not kept, so on a busy machine it may take a
        // second read)
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            long misses = CacheStats.of(fs).misses();
            Files.getPosixFilePermissions(g);
            if (CacheStats.of(fs).misses() == misses) {
                break;
            }
            assertThat(System.nanoTime() - deadline).as("/g cached within 30 s").isNegative();
        }
        // another client, unseen by this one's cache: moves the file away and makes a new one
        assertThat(volume.submit(new Request.Rename(Caller.ROOT, "/g", "/h", 0)).get())
                .isInstanceOf(Response.AttrReply.class);
        assertThat(volume.submit(new Request.Create(Caller.ROOT, "/g", 0640, true))
                        .get())
                .isInstanceOf(Response.AttrReply.class);
        Files.setPosixFilePermissions(g, PosixFilePermissions.fromString("rwxrwxrwx")); // answered from the cache
        assertThatThrownBy(() -> ch.force(true)).isInstanceOf(IOException.class).hasMessageContaining("/g");
        assertThat(WriteBackStats.of(fs).failed()).isEqualTo(1);
        ch.close(); // reported once
        assertThat(onVolume("/g").mode()).as("the other client's new file").isEqualTo(0640);
        assertThat(onVolume("/h").inode()).isEqualTo(mine);
        assertThat(onVolume("/h").mode()).as("refused: changes nothing").isEqualTo(0644);
        try (FileChannel again = FileChannel.open(fs.getPath("/h"), StandardOpenOption.WRITE)) {
            again.force(true); // reported once: nothing left for this inode
        }
        assertThat(Files.readString(fs.getPath("/h"))).isEqualTo("Mine");
    }
}
