package io.holdfast.testkit;

import io.holdfast.overlay.OverlayFileSystem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/**
 * The contract against an overlay of two local directories: each test works in a directory that
 * exists in both layers (a merged directory), beside lower content it must not disturb.
 */
class OverlayContractTest extends FileSystemContract {
    @TempDir
    Path temp;

    private OverlayFileSystem overlay;

    @Override
    protected void openFileSystem() throws IOException {
        Path lower = Files.createDirectories(temp.resolve("lower/work"));
        Path upper = Files.createDirectories(temp.resolve("upper/work"));
        Files.writeString(lower.resolve("lower-file"), "from the lower layer");
        overlay = OverlayFileSystem.open(lower.getParent(), upper.getParent(), temp.resolve("ovl-work"));
    }

    @Override
    protected void closeFileSystem() throws IOException {
        if (overlay != null) {
            overlay.close();
        }
    }

    @Override
    protected Path root() {
        return overlay.getPath("/work");
    }
}
