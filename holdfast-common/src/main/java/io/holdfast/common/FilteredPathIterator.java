package io.holdfast.common;

import java.io.IOException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The iterator of a {@link DirectoryStream}: the paths a source gives, less those the stream's
 * {@link DirectoryStream.Filter} rejects, as {@link DirectoryStream#iterator()} specifies. An
 * {@link IOException} of the filter is thrown as a {@link DirectoryIteratorException} from
 * {@link #hasNext()} or {@link #next()}. Each file system's stream brings its own source: a
 * list, a paged listing, another stream's iterator; a source that returns {@code null} once
 * its stream is closed ends the iteration there, as the contract asks.
 *
 * <p>Reads the source only as far as {@link #hasNext()} needs (one accepted path ahead). Not
 * thread-safe (as the {@link DirectoryStream} contract allows).
 */
public final class FilteredPathIterator implements Iterator<Path> {
    private final Supplier<? extends Path> source;
    private final DirectoryStream.Filter<? super Path> filter;
    private Path next;

    /**
     * An iterator over the paths of {@code source} that {@code filter} accepts.
     *
     * @param source gives the next path of the directory on each call, {@code null} at the end
     *     (called again after that only if {@link #hasNext()} is); may throw
     *     {@link DirectoryIteratorException} for an I/O error of the listing
     * @param filter the stream's filter; {@code null} accepts every path
     * @throws NullPointerException if {@code source} is null
     */
    public FilteredPathIterator(Supplier<? extends Path> source, DirectoryStream.Filter<? super Path> filter) {
        this.source = Objects.requireNonNull(source, "source");
        this.filter = filter;
    }

    /**
     * Whether another accepted path follows; reads the source until one is found or it ends.
     *
     * @throws DirectoryIteratorException if the filter (or the source) failed with an I/O error
     */
    @Override
    public boolean hasNext() {
        while (next == null) {
            Path p = source.get();
            if (p == null) {
                return false;
            }
            try {
                if (filter == null || filter.accept(p)) {
                    next = p;
                }
            } catch (IOException e) {
                throw new DirectoryIteratorException(e);
            }
        }
        return true;
    }

    /**
     * The next accepted path.
     *
     * @throws NoSuchElementException if there is none
     * @throws DirectoryIteratorException if the filter (or the source) failed with an I/O error
     */
    @Override
    public Path next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        Path p = next;
        next = null;
        return p;
    }
}
