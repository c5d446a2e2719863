package io.holdfast.client.nio;

import io.holdfast.protocol.DirEntry;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

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
        return new Iterator<>() {
            private int index;
            private Path next;

            @Override
            public boolean hasNext() {
                while (next == null && !closed) {
                    if (index == page.size()) {
                        if (!more || page.isEmpty()) {
                            return false;
                        }
                        fetch(page.getLast().name());
                        index = 0;
                        continue;
                    }
                    Path p = dir.resolve(page.get(index++).name());
                    try {
                        if (filter == null || filter.accept(p)) {
                            next = p;
                        }
                    } catch (IOException e) {
                        throw new DirectoryIteratorException(e);
                    }
                }
                return next != null;
            }

            @Override
            public Path next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                Path p = next;
                next = null;
                return p;
            }
        };
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
