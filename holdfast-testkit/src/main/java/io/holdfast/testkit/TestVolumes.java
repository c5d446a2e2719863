package io.holdfast.testkit;

import io.holdfast.client.nio.HoldfastFileSystemProvider;
import io.holdfast.protocol.VolumeService;
import java.io.IOException;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Opens Holdfast file systems over in-process volume services (a {@link
 * io.holdfast.storage.LocalVolumeService} over one brick, a MiniCluster's volume), each under a
 * fresh {@code holdfast://test-N:7000/vol} URI so that they never share the provider's cache.
 * Thread-safe.
 */
public final class TestVolumes {
    private static final AtomicInteger COUNTER = new AtomicInteger();

    private TestVolumes() {}

    /**
     * A new file system over {@code service}; {@code extra} env entries are added (e.g. {@link
     * HoldfastFileSystemProvider#ENV_CALLER}). The caller closes it.
     *
     * @throws IOException if the provider refuses the environment
     */
    public static FileSystem open(VolumeService service, Map<String, ?> extra) throws IOException {
        Map<String, Object> env = new HashMap<>(extra);
        env.put(HoldfastFileSystemProvider.ENV_VOLUME_SERVICE, service);
        URI uri = URI.create("holdfast://test-" + COUNTER.incrementAndGet() + ":7000/vol");
        return FileSystems.newFileSystem(uri, env);
    }

    /**
     * A new file system over {@code service} with the provider's default environment.
     *
     * @throws IOException if the provider refuses it
     */
    public static FileSystem open(VolumeService service) throws IOException {
        return open(service, Map.of());
    }
}
