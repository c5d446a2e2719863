package io.holdfast.client.nio;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.DirEntry;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The cache's bookkeeping of complete directories, with the volume's answers written out by hand. */
class MetadataCacheTest {
    private static final byte[] DATA = {1, 2, 3};

    private static Response attr(long inode, FileType type) {
        return new Response.AttrReply(new Attr(inode, type, 0644, 1, 0, 0, 0, 0, 5, 5, 0));
    }

    /**
     * A file created (not exclusively) in a directory this client made, while a write of another
     * file was on its way, is listed: the create's answer says the name exists now, whether or not
     * it was known to be absent when sent.
     */
    @Test
    void aNameCreatedWhileAWriteIsInFlightIsListed() {
        MetadataCache cache = new MetadataCache(() -> true);
        MetadataCache.Change mkdir = cache.begin(new Request.Mkdir(Caller.ROOT, "/d", 0755));
        cache.end(mkdir, attr(10, FileType.DIRECTORY));

        MetadataCache.Change write = cache.begin(new Request.Write(Caller.ROOT, 5, 0, DATA, Checksums.crc32c(DATA)));
        MetadataCache.Change create = cache.begin(new Request.Create(Caller.ROOT, "/d/f", 0644, false));
        cache.end(write, attr(5, FileType.FILE));
        cache.end(create, attr(11, FileType.FILE));

        Response listing = cache.get(new Request.ReadDir("/d", "", 100));
        assertThat(listing).isEqualTo(new Response.DirPage(List.of(new DirEntry("f", 11, FileType.FILE)), false));
        // once its attributes are dropped, a lookup of the name asks the volume, not "does not exist"
        MetadataCache.Change touch = cache.begin(new Request.Write(Caller.ROOT, 11, 0, DATA, Checksums.crc32c(DATA)));
        Response stat = cache.get(new Request.GetAttr("/d/f", false));
        assertThat(stat).isNull();
        cache.end(touch, null);
    }

    /** The same create answered before the write still on its way. */
    @Test
    void aNameCreatedBeforeAnEarlierWriteIsAnsweredIsListed() {
        MetadataCache cache = new MetadataCache(() -> true);
        MetadataCache.Change mkdir = cache.begin(new Request.Mkdir(Caller.ROOT, "/d", 0755));
        cache.end(mkdir, attr(10, FileType.DIRECTORY));

        MetadataCache.Change write = cache.begin(new Request.Write(Caller.ROOT, 5, 0, DATA, Checksums.crc32c(DATA)));
        MetadataCache.Change create = cache.begin(new Request.Create(Caller.ROOT, "/d/f", 0644, false));
        cache.end(create, attr(11, FileType.FILE));
        cache.end(write, attr(5, FileType.FILE));

        Response listing = cache.get(new Request.ReadDir("/d", "", 100));
        assertThat(listing).isEqualTo(new Response.DirPage(List.of(new DirEntry("f", 11, FileType.FILE)), false));
    }
}
