package io.holdfast.client.nio;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.LogFormat;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.storage.Brick;
import io.holdfast.storage.LocalVolumeService;
import java.io.IOException;
import java.nio.file.FileSystem;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Listings with attributes ({@link Request.ReadDirPlus}): a listing followed by a {@code stat} of
 * every entry ({@code ls -l}, {@code find}, a FUSE readdir) reaches the volume once, the attributes
 * shown are the volume's, and a volume that cannot answer the query gets plain listings.
 */
@Timeout(60)
class ListingWithAttributesTest {
    private static final int FILES = 40;

    @TempDir
    Path dir;

    private Brick brick;
    private LocalVolumeService volume;
    /** Every query the file system sent. */
    private final List<Request.Query> asked = new CopyOnWriteArrayList<>();
    /** The log format the volume claims. */
    private volatile int format = LogFormat.newest();
    /** Whether the volume answers a listing with attributes as a member that does not know it. */
    private volatile boolean unknownQuery;

    private FileSystem fs;

    @BeforeEach
    void open() throws IOException {
        brick = Brick.open(dir.resolve("brick"));
        volume = new LocalVolumeService(brick, InstantSource.system());
        VolumeService counted = new LeasedVolume(volume) {
            @Override
            public CompletableFuture<Response> query(Request.Query q) {
                asked.add(q);
                if (unknownQuery && q instanceof Request.ReadDirPlus) {
                    return CompletableFuture.completedFuture(
                            new Response.Error(Errno.EBADMSG, "unknown request kind 51"));
                }
                return volume.query(q);
            }

            @Override
            public int logFormat() {
                return format;
            }
        };
        fs = GrantingLeases.openLeased(counted);
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

    /** Files, a directory, a symbolic link and a hard link made on the volume behind the client's back. */
    private void makeTree(String d) throws Exception {
        answer(new Request.Mkdir(Caller.ROOT, d, 0755));
        for (int i = 0; i < FILES; i++) {
            answer(new Request.Create(Caller.ROOT, d + "/f" + i, 0640, true));
        }
        answer(new Request.Mkdir(Caller.ROOT, d + "/sub", 0700));
        answer(new Request.Symlink(Caller.ROOT, d + "/link", "f1"));
        answer(new Request.Link(Caller.ROOT, d + "/f2", d + "/hard"));
    }

    private void answer(Request.Mutation m) throws Exception {
        Response r = volume.submit(m).get(10, TimeUnit.SECONDS);
        assertThat(r).as("%s", m).isNotInstanceOf(Response.Error.class);
    }

    private Attr onVolume(String path) throws Exception {
        return ((Response.AttrReply)
                        volume.query(new Request.GetAttr(path, false)).get(10, TimeUnit.SECONDS))
                .attr();
    }

    /** Lists {@code d} and reads every entry's attributes without following links; returns the names. */
    private List<Path> listAndStat(String d) throws Exception {
        List<Path> entries;
        try (Stream<Path> s = Files.list(fs.getPath(d))) {
            entries = s.toList();
        }
        for (Path p : entries) {
            Map<String, Object> a =
                    Files.readAttributes(p, "unix:ino,mode,nlink,size,ctime", LinkOption.NOFOLLOW_LINKS);
            Attr v = onVolume(p.toString());
            assertThat(a.get("ino")).as("%s", p).isEqualTo(v.inode());
            assertThat(a.get("mode")).as("%s", p).isEqualTo(v.stMode());
            assertThat(a.get("nlink")).as("%s", p).isEqualTo(v.nlink());
            assertThat(a.get("size")).as("%s", p).isEqualTo(v.size());
        }
        return entries;
    }

    private long attributeQueriesUnder(String d) {
        return asked.stream()
                .filter(q -> q instanceof Request.GetAttr g && g.path().startsWith(d + "/"))
                .count();
    }

    @Test
    void aListingAndAStatOfEveryEntryReachTheVolumeOnce() throws Exception {
        makeTree("/d");
        List<Path> entries = listAndStat("/d");
        assertThat(entries).hasSize(FILES + 3);
        assertThat(asked).filteredOn(q -> q instanceof Request.ReadDirPlus).hasSize(1);
        assertThat(asked).noneMatch(q -> q instanceof Request.ReadDir);
        assertThat(attributeQueriesUnder("/d"))
                .as("stats answered from the listing")
                .isZero();
        // the symbolic link's own attributes were kept; following it asks about its target
        assertThat(Files.isRegularFile(fs.getPath("/d/link"))).isTrue();
        assertThat(Files.isSymbolicLink(fs.getPath("/d/link"))).isTrue();
    }

    @Test
    void aChangeAfterTheListingIsSeen() throws Exception {
        makeTree("/d");
        listAndStat("/d");
        Files.setPosixFilePermissions(fs.getPath("/d/f3"), PosixFilePermissions.fromString("rw-r-----"));
        Files.writeString(fs.getPath("/d/f4"), "grown");
        listAndStat("/d"); // compares every entry with the volume again
        assertThat(Files.size(fs.getPath("/d/f4"))).isEqualTo(5);
    }

    @Test
    void aVolumeOfAnOlderFormatGetsPlainListings() throws Exception {
        format = LogFormat.LISTINGS_WITH_ATTRIBUTES - 1;
        makeTree("/d");
        listAndStat("/d");
        assertThat(asked).noneMatch(q -> q instanceof Request.ReadDirPlus);
        assertThat(asked).filteredOn(q -> q instanceof Request.ReadDir).isNotEmpty();
        assertThat(attributeQueriesUnder("/d")).as("one stat per entry").isEqualTo(FILES + 3);
    }

    @Test
    void aMemberThatDoesNotKnowTheQueryIsAskedOnceAndListingsStayPlain() throws Exception {
        unknownQuery = true;
        makeTree("/d");
        makeTree("/e");
        assertThat(listAndStat("/d")).hasSize(FILES + 3);
        assertThat(listAndStat("/e")).hasSize(FILES + 3);
        assertThat(asked).filteredOn(q -> q instanceof Request.ReadDirPlus).hasSize(1);
        assertThat(asked).filteredOn(q -> q instanceof Request.ReadDir).hasSize(2);
    }
}
