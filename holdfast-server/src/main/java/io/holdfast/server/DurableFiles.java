package io.holdfast.server;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Small files replaced durably: the content goes to a sibling temporary file, which is fsynced
 * before it is renamed over the file, and the directory is fsynced after. Without the first
 * fsync a crash can leave the new name on an empty file (the rename reached the disk, the
 * data did not): found by {@code CrashRecoveryIT} for a brick's identity, which then refused
 * the brick.
 */
public final class DurableFiles {
    private DurableFiles() {}

    /**
     * Replaces {@code file} with {@code content} (UTF-8) atomically and durably.
     *
     * @throws IOException if writing, syncing or renaming fails; the file then keeps its old
     *     content
     */
    public static void replace(Path file, String content) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (FileChannel ch = FileChannel.open(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer b = ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        }
    }
}
