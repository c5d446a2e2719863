package io.holdfast.testkit;

import io.holdfast.client.nio.HoldfastFileSystemProvider;
import io.holdfast.common.Caller;
import io.holdfast.protocol.VolumeService;
import java.io.IOException;
import java.nio.file.FileSystem;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/**
 * The file system contract against a volume replicated on a real three-node MiniCluster,
 * through the NIO provider. One cluster serves the whole class (each test works in its own
 * directory); after the last test every member must hold the same state.
 */
class RaftVolumeContractIT extends FileSystemContract {
    @TempDir
    static Path clusterRoot;

    private static MiniCluster cluster;
    private static VolumeService volume;
    private FileSystem fs;

    @BeforeAll
    static void startCluster() throws IOException {
        cluster = MiniCluster.start(clusterRoot, 3, 100_000);
        volume = cluster.createVolume("contract", 0, 1, 2);
    }

    @AfterAll
    static void stopCluster() throws IOException {
        try {
            if (cluster != null) {
                var d = cluster.awaitConvergence("contract", Duration.ofSeconds(60));
                System.out.println(
                        "contract volume converged at applied index " + d.appliedIndex() + " digest " + d.hex());
            }
        } finally {
            if (cluster != null) {
                cluster.close();
            }
        }
    }

    @Override
    protected void openFileSystem() throws IOException {
        fs = TestVolumes.open(volume, Map.of(HoldfastFileSystemProvider.ENV_CALLER, Caller.ROOT));
    }

    @Override
    protected void closeFileSystem() throws IOException {
        if (fs != null) {
            fs.close();
        }
    }

    @Override
    protected Path root() {
        return fs.getPath("/");
    }

    @Override
    protected boolean isHoldfast() {
        return true;
    }
}
