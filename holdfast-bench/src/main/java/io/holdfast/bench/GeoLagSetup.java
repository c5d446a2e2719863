package io.holdfast.bench;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.nio.HoldfastFileSystemProvider;
import io.holdfast.georep.GeoOptions;
import io.holdfast.georep.GeoReplicator;
import io.holdfast.georep.GeoStatus;
import io.holdfast.georep.VolumeChangeSource;
import io.holdfast.testkit.MiniCluster;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Geo-replication over a simulated WAN, for {@code holdfast bench lag --replicator georep}: an
 * embedded three-node cluster ({@link MiniCluster}, TLS, on loopback) with a volume {@value
 * #VOLUME}, a {@link DelayProxy} in front of each node, and a {@link GeoReplicator} whose client
 * (the change feed and the reads of file contents) dials the nodes only through the proxies, so
 * every request it makes pays the round trip; the worker writes a local target directory. The
 * deliveries measured by {@link ReplicationLag} are written to {@link #source()}, a file system on
 * the volume whose client dials the nodes directly (the mail server at the primary site).
 *
 * <p>{@link #stopWorker()} and {@link #startWorker()} stop and start the worker (a link cut); its
 * position is kept at the target, so it resumes. Not thread-safe; close it once.
 */
public final class GeoLagSetup implements AutoCloseable {
    /** The replicated volume. */
    public static final String VOLUME = "mail";
    /** How long one request of the change feed may take (long polls included). */
    static final Duration FEED_TIMEOUT = Duration.ofSeconds(30);

    private final MiniCluster cluster;
    private final List<DelayProxy> proxies = new ArrayList<>();
    private final Path target;
    private final GeoOptions options;
    private final Consumer<String> progress;
    private FileSystem writerFs;
    private HoldfastClient workerClient;
    private FileSystem workerFs;
    private GeoReplicator worker;
    private Thread workerThread;
    private final String compression;

    private GeoLagSetup(
            MiniCluster cluster, Path target, GeoOptions options, String compression, Consumer<String> progress) {
        this.compression = compression;
        this.cluster = cluster;
        this.target = target;
        this.options = options;
        this.progress = progress;
    }

    /**
     * Starts the cluster in {@code dir/cluster}, the proxies, and the worker replicating to {@code
     * dir/target}.
     *
     * @param oneWay delay the proxies add in each direction (half the round-trip time)
     * @param bytesPerSecond the proxies' bandwidth limit per direction, 0 for none
     * @param options the worker's options (its session name, page size, fsync, bandwidth limit)
     * @throws IOException if a node, the volume or the worker cannot be started
     */
    public static GeoLagSetup start(
            Path dir, Duration oneWay, long bytesPerSecond, GeoOptions options, Consumer<String> progress)
            throws IOException, InterruptedException {
        return start(dir, oneWay, bytesPerSecond, options, "none", progress);
    }

    /**
     * As {@link #start(Path, Duration, long, GeoOptions, Consumer)}, the worker's client asking for
     * compressed replies or not.
     *
     * @param compression the worker client's {@link HoldfastClient#COMPRESSION_OPTION}: {@code zstd}
     *     or {@code none}
     * @throws IOException if a node, the volume or the worker cannot be started
     * @throws IllegalArgumentException if {@code compression} is neither
     */
    public static GeoLagSetup start(
            Path dir,
            Duration oneWay,
            long bytesPerSecond,
            GeoOptions options,
            String compression,
            Consumer<String> progress)
            throws IOException, InterruptedException {
        Objects.requireNonNull(options, "options");
        if (!compression.equals("zstd") && !compression.equals("none")) {
            throw new IllegalArgumentException("compression must be zstd or none, got " + compression);
        }
        MiniCluster cluster = MiniCluster.start(dir.resolve("cluster"), 3, 100_000, true);
        GeoLagSetup s = new GeoLagSetup(
                cluster,
                Files.createDirectories(dir.resolve("target")),
                options,
                compression,
                Objects.requireNonNull(progress));
        try {
            s.open(oneWay, bytesPerSecond);
            return s;
        } catch (IOException | RuntimeException | InterruptedException e) {
            s.close();
            throw e;
        }
    }

    private void open(Duration oneWay, long bytesPerSecond) throws IOException, InterruptedException {
        progress.accept("cluster of 3 nodes up; creating volume " + VOLUME);
        cluster.createVolume(VOLUME, 0, 1, 2);
        Map<String, String> dial = new HashMap<>();
        for (String address : cluster.addresses()) {
            int colon = address.lastIndexOf(':');
            DelayProxy p = DelayProxy.start(
                    new InetSocketAddress(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1))),
                    oneWay,
                    bytesPerSecond);
            proxies.add(p);
            dial.put(address, p.hostPort());
        }
        String first = cluster.addresses().get(0);
        writerFs = FileSystems.newFileSystem(URI.create("holdfast://" + first + "/" + VOLUME), cluster.clientEnv());
        Map<String, Object> env = new HashMap<>(cluster.clientEnv());
        env.put(HoldfastClient.ROUTES_OPTION, dial);
        env.put(HoldfastClient.COMPRESSION_OPTION, compression);
        int colon = first.lastIndexOf(':');
        workerClient =
                HoldfastClient.connect(first.substring(0, colon), Integer.parseInt(first.substring(colon + 1)), env);
        Map<String, Object> fsEnv = new HashMap<>(env);
        fsEnv.put(HoldfastFileSystemProvider.ENV_VOLUME_SERVICE, workerClient.volume(VOLUME));
        // another authority than the writer's: the provider keeps one file system per authority and volume
        String second = cluster.addresses().get(1);
        workerFs = FileSystems.newFileSystem(URI.create("holdfast://" + second + "/" + VOLUME), fsEnv);
        progress.accept(String.format(
                "worker reaches the nodes through delay proxies (%d ms one way, RTT %d ms%s)",
                oneWay.toMillis(),
                2 * oneWay.toMillis(),
                bytesPerSecond > 0 ? String.format(", %.1f MiB/s", bytesPerSecond / 1048576.0) : ""));
        startWorker();
    }

    /** The volume's root as the primary site's mail server sees it (no proxy). */
    public Path source() {
        return writerFs.getPath("/");
    }

    /** The worker's target directory. */
    public Path target() {
        return target;
    }

    /** The worker's status (position, lag, counters). */
    public GeoStatus status() {
        return worker.status();
    }

    /** The worker client's compressed replies so far (zero without compression). */
    public HoldfastClient.CompressionStats compressionStats() {
        return workerClient.compressionStats();
    }

    /** Whether the worker's client gets compressed replies. */
    public boolean compressing() {
        return workerClient.compressing();
    }

    /** Bytes the proxies delivered, both directions. */
    public long bytesThroughProxies() {
        return proxies.stream().mapToLong(DelayProxy::bytesForwarded).sum();
    }

    /**
     * Starts a worker (a new one: it reads its position from the target).
     *
     * @throws IOException if the volume is gone
     * @throws IllegalStateException if a worker is running
     */
    public void startWorker() throws IOException {
        if (workerThread != null) {
            throw new IllegalStateException("the worker is running");
        }
        GeoReplicator r = new GeoReplicator(
                new VolumeChangeSource(workerClient.volume(VOLUME), FEED_TIMEOUT),
                workerFs.getPath("/"),
                target,
                options);
        worker = r;
        workerThread = Thread.ofPlatform().daemon().name("lag-bench-georep").start(() -> {
            try {
                r.run();
            } catch (IOException | InterruptedException e) {
                progress.accept("georep worker stopped: " + e);
            }
        });
    }

    /** Stops the worker after the page it is applying; waits up to 60 s for it. */
    public void stopWorker() throws InterruptedException {
        if (workerThread == null) {
            return;
        }
        worker.stop();
        workerThread.join(60_000);
        workerThread = null;
    }

    @Override
    public void close() throws IOException, InterruptedException {
        try {
            stopWorker();
        } finally {
            closeQuietly(workerFs);
            if (workerClient != null) {
                workerClient.close();
            }
            closeQuietly(writerFs);
            proxies.forEach(DelayProxy::close);
            cluster.skipFinalChecks("a benchmark: its nodes are stopped without comparing their bricks");
            cluster.close();
        }
    }

    private static void closeQuietly(FileSystem fs) {
        if (fs == null) {
            return;
        }
        try {
            fs.close();
        } catch (IOException e) {
            // closing connections only
        }
    }
}
