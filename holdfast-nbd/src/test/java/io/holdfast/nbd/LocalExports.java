package io.holdfast.nbd;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/** Exports the regular files of a local directory by file name (tests). */
final class LocalExports implements ExportProvider {
    private final Path dir;
    private final boolean readOnly;

    LocalExports(Path dir, boolean readOnly) {
        this.dir = dir;
        this.readOnly = readOnly;
    }

    @Override
    public BlockDevice open(String name) throws IOException {
        if (name.isEmpty() || name.contains("/") || name.startsWith(".")) {
            throw new NoSuchFileException(name);
        }
        Path p = dir.resolve(name);
        if (!Files.isRegularFile(p)) {
            throw new NoSuchFileException(name);
        }
        FileChannel ch = readOnly
                ? FileChannel.open(p, StandardOpenOption.READ)
                : FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE);
        return new FileChannelDevice(name, ch, readOnly);
    }

    @Override
    public List<String> list() {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }
}
