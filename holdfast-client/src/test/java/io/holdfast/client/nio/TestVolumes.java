package io.holdfast.client.nio;

import io.holdfast.protocol.VolumeService;
import java.io.IOException;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Opens Holdfast file systems over in-process volume services, each under a fresh URI, for the
 * client's own tests (the testkit has the same helper for the contract tests, which cannot live
 * here: the testkit depends on the client).
 */
final class TestVolumes {
    private static final AtomicInteger COUNTER = new AtomicInteger();

    private TestVolumes() {}

    /** A new file system over {@code service}; {@code extra} env entries are added. */
    static FileSystem open(VolumeService service, Map<String, ?> extra) throws IOException {
        Map<String, Object> env = new HashMap<>(extra);
        env.put(HoldfastFileSystemProvider.ENV_VOLUME_SERVICE, service);
        URI uri = URI.create("holdfast://test-" + COUNTER.incrementAndGet() + ":7000/vol");
        return FileSystems.newFileSystem(uri, env);
    }

    static FileSystem open(VolumeService service) throws IOException {
        return open(service, Map.of());
    }

    /** A file system that sends every write as it comes (tests of the write window count requests). */
    static FileSystem uncoalesced(VolumeService service) throws IOException {
        return open(service, Map.of(HoldfastFileSystemProvider.ENV_COALESCE_BYTES, 0));
    }
}
