package io.holdfast.client.nio;

import io.holdfast.common.FilteredPathIterator;
import io.holdfast.protocol.DirEntry;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;

/**
 * The entries of one directory, fetched a page of {@link #PAGE_ENTRIES} at a time as the
 * iterator advances, so a huge directory is never held in memory at once. Entries added or
 * removed while iterating may or may not be seen, as with {@code readdir(3)}.
 *
 * <p>Not thread-safe (as the {@link DirectoryStream} contract allows).
 */
final class HoldfastDirectoryStream implements DirectoryStream<Path> {
    /** Entries asked for per ReadDir request. */
    static final int PAGE_ENTRIES = 1024;

    private final HoldfastPath dir;
    private final String volumePath;
    private final Filter<? super Path> filter;
    private List<DirEntry> page;
    private boolean more;
    /** The next entry of {@link #page} to give out. */
    private int index;

    private boolean closed;
    private boolean iterated;

    HoldfastDirectoryStream(HoldfastPath dir, String volumePath, Response.DirPage first, Filter<? super Path> filter) {
        this.dir = dir;
        this.volumePath = volumePath;
        this.filter = filter;
        this.page = first.entries();
        this.more = first.more();
    }

    @Override
    public Iterator<Path> iterator() {
        if (closed) {
            throw new IllegalStateException("directory stream closed");
        }
        if (iterated) {
            throw new IllegalStateException("iterator already obtained");
        }
        iterated = true;
        return new FilteredPathIterator(this::nextEntry, filter);
    }

    /** The next entry's path, fetching the next page when this one is used up; null at the end or once closed. */
    private Path nextEntry() {
        while (!closed) {
            if (index < page.size()) {
                return dir.resolve(page.get(index++).name());
            }
            if (!more || page.isEmpty()) {
                return null;
            }
            fetch(page.getLast().name());
            index = 0;
        }
        return null;
    }

    private void fetch(String after) {
        try {
            Response r = dir.getFileSystem().query(new Request.ReadDir(volumePath, after, PAGE_ENTRIES));
            if (r instanceof Response.DirPage d) {
                page = d.entries();
                more = d.more();
                return;
            }
            Errors.ok(r, dir.toString(), null);
            throw Errors.unexpected(r, dir.toString());
        } catch (IOException e) {
            throw new DirectoryIteratorException(e);
        }
    }

    @Override
    public void close() {
        closed = true;
    }
}
