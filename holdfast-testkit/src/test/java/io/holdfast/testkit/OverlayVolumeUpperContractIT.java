package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.client.nio.HoldfastFileSystemProvider;
import io.holdfast.common.Caller;
import io.holdfast.overlay.OverlayFileSystem;
import io.holdfast.protocol.VolumeService;
import java.io.IOException;
import java.nio.file.FileSystem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/**
 * The file system contract against an overlay whose lower layer is a local directory and whose
 * upper layer (and work directory, which must be on the upper's file system) is a directory on a
 * volume replicated by a real three-node MiniCluster, through the NIO provider. One cluster serves
 * the whole class; each test has its own lower directory, upper directory and work directory, and
 * works in a directory that exists in both layers (a merged directory), beside lower content it
 * must not disturb. After the last test every member must hold the same state.
 */
class OverlayVolumeUpperContractIT extends FileSystemContract {
    @TempDir
    static Path clusterRoot;

    private static MiniCluster cluster;
    private static VolumeService volume;
    private static final AtomicInteger TESTS = new AtomicInteger();

    @TempDir
    Path temp;

    private FileSystem volumeFs;
    private OverlayFileSystem overlay;

    @BeforeAll
    static void startCluster() throws IOException {
        cluster = MiniCluster.start(clusterRoot, 3, 100_000);
        volume = cluster.createVolume("overlay-upper", 0, 1, 2);
    }

    @AfterAll
    static void stopCluster() throws IOException {
        try {
            if (cluster != null) {
                var d = cluster.awaitConvergence("overlay-upper", Duration.ofSeconds(60));
                System.out.println(
                        "overlay-upper volume converged at applied index " + d.appliedIndex() + " digest " + d.hex());
            }
        } finally {
            if (cluster != null) {
                cluster.close();
            }
        }
    }

    @Override
    protected void openFileSystem() throws IOException {
        Path lower = Files.createDirectories(temp.resolve("lower/work"));
        Files.writeString(lower.resolve("lower-file"), "from the lower layer");
        volumeFs = TestVolumes.open(volume, Map.of(HoldfastFileSystemProvider.ENV_CALLER, Caller.ROOT));
        Path test = Files.createDirectory(volumeFs.getPath("/t" + TESTS.incrementAndGet()));
        Path upper = Files.createDirectories(test.resolve("upper/work"));
        overlay = OverlayFileSystem.open(lower.getParent(), upper.getParent(), test.resolve("ovl-work"));
        assertThat(overlay.upper().getFileSystem()).isSameAs(volumeFs);
    }

    @Override
    protected void closeFileSystem() throws IOException {
        try {
            if (overlay != null) {
                overlay.close();
                // the lower layer's own file is untouched, whatever the test did beside it
                assertThat(overlay.lower().resolve("work/lower-file")).hasContent("from the lower layer");
            }
        } finally {
            if (volumeFs != null) {
                volumeFs.close();
            }
        }
    }

    @Override
    protected Path root() {
        return overlay.getPath("/work");
    }

    @Override
    protected boolean isHoldfast() {
        return true;
    }
}
