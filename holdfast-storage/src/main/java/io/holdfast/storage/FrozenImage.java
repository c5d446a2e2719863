package io.holdfast.storage;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * A brick's state frozen at one applied index by {@link Brick#freeze}: a RocksDB snapshot of the
 * metadata (a {@link ReadView}, in memory) and a directory {@code frozen/<index>/data/} in the
 * brick directory holding a hard link of every data file. The brick
 * goes on applying entries meanwhile; a data file is copied before its first write while an image
 * shares it, so the image's bytes never change (see {@link Brick#freeze}).
 *
 * <p>The image is what a snapshot is written from without the brick's lock:
 * {@link #writeSnapshot} gives exactly the stream {@link Brick#writeSnapshot} gave at
 * {@link #index()}. {@link #close()} releases the RocksDB snapshot and deletes the directory; a
 * crash leaves the directory behind, and {@link Brick#open} deletes it, so an image is never used
 * after a restart. Closing or restoring the brick releases the RocksDB snapshot: writing the
 * stream then fails ({@code ENOENT}).
 *
 * <p>Thread safety: {@link #writeSnapshot} may run on any thread, concurrently with the brick's
 * applies; one writer at a time per image, and not concurrently with {@link #close()}.
 */
public final class FrozenImage implements AutoCloseable {
    private final Path dir;
    private final long index;
    private final long generation;
    private final ReadView view;

    FrozenImage(Path dir, long index, long generation, ReadView view) {
        this.dir = Objects.requireNonNull(dir, "dir");
        this.index = index;
        this.generation = generation;
        this.view = Objects.requireNonNull(view, "view");
    }

    /** The brick state's generation at the freeze ({@code BrickState.generation}). */
    long generation() {
        return generation;
    }

    /** Fsyncs every data file of the image (for {@link Brick#checkpoint(FrozenImage)}). */
    void fsyncData() throws IOException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir.resolve("data"))) {
            for (Path f : files) {
                try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                    ch.force(true);
                }
            }
        }
    }

    /** The applied index the image holds the state after. */
    public long index() {
        return index;
    }

    /** The image's directory ({@code <brick>/frozen/<index>}). */
    public Path dir() {
        return dir;
    }

    /**
     * Writes the snapshot stream of this image to {@code out} (flushed, not closed): the format of
     * {@link Brick#writeSnapshot}, version {@value Snapshots#SNAPSHOT_VERSION}, byte for byte what
     * the brick would have written at {@link #index()}. Reads the image only: no lock of the brick.
     *
     * @throws IOException if the image cannot be read (e.g. closed) or {@code out} fails
     */
    public void writeSnapshot(OutputStream out) throws IOException {
        Objects.requireNonNull(out, "out");
        Snapshots.writeFrozen(dir, view, out);
    }

    /**
     * Releases the image's RocksDB snapshot and deletes its directory; the brick's data files it
     * shared are no longer copied on their next write. Idempotent.
     *
     * @throws IOException if the directory cannot be deleted
     */
    @Override
    public void close() throws IOException {
        view.close();
        BrickState.deleteTree(dir);
        try {
            Files.deleteIfExists(dir.getParent()); // frozen/, once it holds no image
        } catch (DirectoryNotEmptyException e) {
            // another image is there
        }
    }

    @Override
    public String toString() {
        return "frozen image at index " + index + " in " + dir;
    }
}
