package io.holdfast.bench;

import io.holdfast.client.HoldfastClient;
import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.common.Units;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.Placement;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.server.HoldfastNode;
import io.holdfast.server.NodeOptions;
import io.holdfast.server.ScrubSettings;
import io.holdfast.testkit.MiniCluster;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

/**
 * The catch-up benchmark behind {@code holdfast bench catch-up}: how long a new member takes to
 * fill from a snapshot at a given catch-up rate, and what that does to a foreground client's
 * latency.
 *
 * <p>Design notes. Everything runs in this process: three nodes and a spare (configured for
 * the cluster, not among the initial peers) as a {@link MiniCluster} on loopback ports, with
 * mutual TLS and their admin ports on ephemeral ports, the production disk reserve, and scrub
 * passes on request only; their log lines go to a file ({@link CatchUpBenchRun}). One volume
 * on the three nodes is loaded with the data. Then the members take a snapshot (this writes
 * and fsyncs everything, so the first baseline is not measured while the load is still being
 * written back). Each round then:
 *
 * <ol>
 *   <li>runs the {@link ForegroundLoad} with a fresh client: a warm-up, then the baseline
 *       ("normal") for a fixed time;
 *   <li>has every member take a snapshot, so that the data (and the baseline's files) are in a
 *       snapshot: Ratis sends a joining member the leader's latest snapshot, then the log after
 *       it (the bench takes it itself instead of lowering the snapshot threshold, because
 *       automatic snapshots of the whole brick during the measurement would stall the
 *       foreground in both phases and hide what catch-up costs);
 *   <li>replaces a follower by the node outside the group ({@code ClusterAdmin.replaceReplica})
 *       while the foreground keeps running ("during"), and polls the new member's
 *       {@code /metrics} for the snapshot bytes it has received. A follower, because a leader
 *       that leaves its group steps down and an election follows, which is another cost.
 * </ol>
 *
 * The spare joins first; later rounds replace the member that joined last (or another follower
 * if it leads) by the node replaced before, so two nodes go back and forth. The joining node is
 * restarted with the round's catch-up rate when it differs (the rate is a node setting, and
 * only the receiving member paces). Not thread-safe; {@link #run} once.
 */
public final class CatchUpBench {
    /** How often the new member's {@code /metrics} is read during a replacement: 250 ms. */
    public static final int METRICS_POLL_MILLIS = 250;
    /** The volume's name. */
    static final String VOLUME = "bench";
    /** The second, small volume of the unmeasured warm-up replacement ({@link #warmUp}). */
    static final String WARM_UP_VOLUME = "bench-warm-up";

    static final long WARM_UP_BYTES = 64L << 20;
    /** Size of each loaded file: 16 MiB. */
    static final int FILE_BYTES = 16 << 20;
    /** Size of each write of the load: the protocol's largest, 1 MiB. */
    static final int WRITE_BYTES = Limits.MAX_DATA_BYTES;
    /** Writes of the load in flight at once. */
    static final int WRITES_IN_FLIGHT = 16;
    /** Seconds of foreground before each baseline that are not measured. */
    static final int WARM_UP_SECONDS = 3;
    /** The foreground client's request deadline: the client default, as a real client has. */
    static final Duration FOREGROUND_DEADLINE = HoldfastClient.DEFAULT_DEADLINE;
    /**
     * The admin client's deadline. {@code replaceReplica} gives up when the new member's applied
     * index does not move for this long, which it does not while a snapshot is transferred; the
     * bench reports that stall instead of failing on it.
     */
    static final Duration ADMIN_DEADLINE = Duration.ofMinutes(15);
    /** Longest wait for a snapshot of all members. */
    static final Duration SNAPSHOT_TIMEOUT = Duration.ofMinutes(10);
    /** The spare's node index in the {@link MiniCluster}: 3 members first, then the spare. */
    private static final int SPARE = 3;

    private static final long SEED = 20261121;

    /**
     * What to run.
     *
     * @param dir an empty directory for the nodes' data and certificates (null until chosen, see
     *     {@link CatchUpBenchRun#prepareWorkDirectory})
     * @param dataBytes bytes of file data to load (1 byte to {@link Limits#MAX_FILE_SIZE})
     * @param ratesBytesPerSecond the catch-up rate of each round, in bytes per second (1 to
     *     {@value #MAX_ROUNDS} rounds, each rate positive); copied
     * @param baselineSeconds seconds of baseline foreground per round (1 to 3600)
     * @param snapshotThreshold applied entries between automatic snapshots on every node (positive)
     */
    public record Settings(
            Path dir, long dataBytes, List<Long> ratesBytesPerSecond, int baselineSeconds, long snapshotThreshold) {
        /** Most rounds: 8. */
        public static final int MAX_ROUNDS = 8;

        /**
         * Checks the settings.
         *
         * @throws IllegalArgumentException if a value is out of its range (the message says which)
         * @throws NullPointerException if {@code ratesBytesPerSecond} or a rate is null
         */
        public Settings {
            ratesBytesPerSecond = List.copyOf(ratesBytesPerSecond);
            if (dataBytes < 1 || dataBytes > Limits.MAX_FILE_SIZE) {
                throw new IllegalArgumentException("data size must be 1 byte to 1 TiB, got " + dataBytes);
            }
            if (ratesBytesPerSecond.isEmpty()
                    || ratesBytesPerSecond.size() > MAX_ROUNDS
                    || ratesBytesPerSecond.stream().anyMatch(r -> r < 1)) {
                throw new IllegalArgumentException(
                        "1 to " + MAX_ROUNDS + " positive rates expected, got " + ratesBytesPerSecond);
            }
            if (baselineSeconds < 1 || baselineSeconds > 3600) {
                throw new IllegalArgumentException("baseline must be 1 to 3600 seconds, got " + baselineSeconds);
            }
            if (snapshotThreshold < 1) {
                throw new IllegalArgumentException("snapshot threshold must be positive, got " + snapshotThreshold);
            }
        }

        /** These settings in another directory. */
        public Settings withDir(Path other) {
            return new Settings(other, dataBytes, ratesBytesPerSecond, baselineSeconds, snapshotThreshold);
        }

        /** Free disk space the run needs, in bytes, roughly: bricks, snapshots, logs and set-aside members. */
        public long bytesNeeded() {
            return dataBytes * (12 + 3L * ratesBytesPerSecond.size()) + (1L << 30);
        }
    }

    private final Settings settings;
    private final PrintStream progress;
    private final long[] nodeRates = new long[4];
    private MiniCluster cluster;
    private HoldfastClient admin;
    private UUID group;
    /** The node replaced in the latest round, and the one that joined (-1: none yet). */
    private int lastReplaced = -1;

    private int lastAdded = -1;

    /**
     * A benchmark of these settings.
     *
     * @param settings what to run, in {@link Settings#dir} (chosen, empty)
     * @param progress where progress lines go (stderr)
     * @throws NullPointerException if an argument or {@code settings.dir()} is null
     */
    public CatchUpBench(Settings settings, PrintStream progress) {
        this.settings = Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(settings.dir(), "settings.dir");
        this.progress = Objects.requireNonNull(progress, "progress");
    }

    /**
     * Runs the benchmark and stops every node it started.
     *
     * @return the report; a replacement that failed ends the run and is in the report
     * @throws IOException if the cluster cannot be set up or the data cannot be loaded
     * @throws InterruptedException if interrupted; every node is stopped
     */
    public CatchUpReport run() throws IOException, InterruptedException {
        try {
            return measure();
        } finally {
            close();
        }
    }

    private CatchUpReport measure() throws IOException, InterruptedException {
        startCluster();
        List<String> members = cluster.addresses().subList(0, SPARE);
        String spare = address(SPARE);
        say(
                "started 3 nodes and a spare in this process: %s, spare %s (logs in %s)",
                String.join(", ", members), spare, settings.dir().resolve("nodes.log"));
        admin = connect(ADMIN_DEADLINE);
        cluster.createVolume(VOLUME, 0, 1, 2);
        admin.admin().addNode(spare);
        group = Placement.onlyGroup(admin.refreshMap().volume(VOLUME).orElseThrow());

        long loadStart = System.nanoTime();
        int files = load(admin.volume(VOLUME), settings.dataBytes());
        double loadSeconds = (System.nanoTime() - loadStart) / 1e9;
        say(
                "loaded %s in %d files in %.1f s; snapshot of every member …",
                Units.size(settings.dataBytes()), files, loadSeconds);
        double settle = snapshotMembers();
        say("snapshots written in %.1f s", settle);
        submit(admin.volume(VOLUME), new Request.Mkdir(Caller.ROOT, "/fg", 0755));
        say("warm-up: one unmeasured replacement on a %s volume …", Units.size(WARM_UP_BYTES));
        say("warm-up done in %.1f s", warmUp(members));

        CatchUpReport.Setup setup = new CatchUpReport.Setup(
                members, spare, settings.dataBytes(), files, WRITE_BYTES, loadSeconds, settings.snapshotThreshold());
        List<CatchUpReport.Round> rounds = new ArrayList<>();
        for (int r = 0; r < settings.ratesBytesPerSecond().size(); r++) {
            CatchUpReport.Round round = round(r);
            rounds.add(round);
            if (round.error() != null) {
                break;
            }
        }
        return new CatchUpReport(setup, rounds);
    }

    // ------------------------------------------------------------------ cluster

    private void startCluster() throws IOException {
        cluster = MiniCluster.create(settings.dir(), SPARE, 1, settings.snapshotThreshold(), true);
        // scrub passes on request only: a pass during the measurement would be noise
        cluster.scrubSettings(new ScrubSettings(ScrubSettings.DEFAULT.rateBytesPerSecond(), Duration.ZERO, true));
        for (int i = 0; i <= SPARE; i++) {
            startNode(i, settings.ratesBytesPerSecond().getFirst());
        }
    }

    /** (Re)starts node {@code i} with the production disk reserve and catch-up rate {@code rate}. */
    private void startNode(int i, long rate) throws IOException {
        cluster.tweakOptions(
                o -> o.diskReserve(NodeOptions.DEFAULT_DISK_RESERVE).catchUpRate(rate));
        cluster.restart(i);
        nodeRates[i] = rate;
    }

    private HoldfastNode node(int i) {
        return cluster.node(i);
    }

    private String address(int i) {
        return cluster.addresses().get(i);
    }

    private HoldfastClient connect(Duration deadline) throws HoldfastException, InterruptedException {
        Map<String, Object> env = new HashMap<>(cluster.clientEnv());
        env.put("holdfast.deadline", deadline);
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try {
                return HoldfastClient.connect("127.0.0.1", cluster.config(0).port(), env);
            } catch (HoldfastException e) {
                if (System.nanoTime() > end) {
                    throw e;
                }
                Thread.sleep(200); // the cluster group is still electing its first leader
            }
        }
    }

    private void close() {
        if (admin != null) {
            admin.close();
        }
        if (cluster != null) {
            try {
                cluster.close();
            } catch (IOException | RuntimeException e) {
                progress.println("holdfast bench: stopping the nodes: " + e);
            }
        }
    }

    // ------------------------------------------------------------------ load

    /** Writes the data as files of {@link #FILE_BYTES} under {@code /load}; returns how many. */
    private int load(VolumeService v, long bytes) throws IOException, InterruptedException {
        submit(v, new Request.Mkdir(Caller.ROOT, "/load", 0755));
        Semaphore window = new Semaphore(WRITES_IN_FLIGHT);
        AtomicReference<String> failure = new AtomicReference<>();
        SplittableRandom random = new SplittableRandom(SEED);
        long written = 0;
        long started = System.nanoTime();
        long shown = 0;
        int files = 0;
        while (written < bytes) {
            long length = Math.min(FILE_BYTES, bytes - written);
            Response created =
                    submit(v, new Request.Create(Caller.ROOT, String.format("/load/f%05d", files), 0644, true));
            long inode = ((Response.AttrReply) created).attr().inode();
            files++;
            for (long offset = 0; offset < length; offset += WRITE_BYTES) {
                byte[] chunk = new byte[(int) Math.min(WRITE_BYTES, length - offset)];
                random.nextBytes(chunk);
                window.acquire();
                if (failure.get() != null) {
                    throw new IOException("loading the data failed: " + failure.get());
                }
                v.submit(new Request.Write(Caller.ROOT, inode, offset, chunk, Checksums.crc32c(chunk)))
                        .whenComplete((r, e) -> {
                            if (e != null || r instanceof Response.Error) {
                                failure.compareAndSet(null, e != null ? String.valueOf(e.getMessage()) : r.toString());
                            }
                            window.release();
                        });
                written += chunk.length;
                long now = System.nanoTime();
                if (now - shown > 500_000_000L) {
                    shown = now;
                    progress.printf(
                            "\rloading: %s of %s, %s   ",
                            Units.size(written), Units.size(bytes), Units.rate(written / ((now - started) / 1e9)));
                    progress.flush();
                }
            }
        }
        window.acquire(WRITES_IN_FLIGHT); // every write answered
        progress.println();
        if (failure.get() != null) {
            throw new IOException("loading the data failed: " + failure.get());
        }
        return files;
    }

    private static Response submit(VolumeService v, Request.Mutation m) throws IOException, InterruptedException {
        try {
            Response r = v.submit(m).get();
            if (r instanceof Response.Error e) {
                throw new IOException(m.getClass().getSimpleName() + " failed: " + e.errno() + ": " + e.message());
            }
            return r;
        } catch (ExecutionException e) {
            throw new IOException(
                    m.getClass().getSimpleName() + " failed: " + e.getCause().getMessage(), e.getCause());
        }
    }

    // ------------------------------------------------------------------ rounds

    private CatchUpReport.Round round(int r) throws IOException, InterruptedException {
        // the node outside the group joins: the spare first, then whichever was replaced last
        int to = r == 0 ? SPARE : lastReplaced;
        long rate = settings.ratesBytesPerSecond().get(r);
        String toAddress = address(to);
        awaitOutside(to);
        if (nodeRates[to] != rate) {
            startNode(to, rate);
        }
        say(
                "round %d: a follower to be replaced by %s at %s; %d s of foreground first",
                r + 1, toAddress, Units.rate(rate), WARM_UP_SECONDS + settings.baselineSeconds());

        String root = "/fg/r" + (r + 1);
        try (HoldfastClient client = connect(FOREGROUND_DEADLINE)) {
            VolumeService v = client.volume(VOLUME);
            submit(v, new Request.Mkdir(Caller.ROOT, root, 0755));
            try (ForegroundLoad fg = new ForegroundLoad(v, root, FOREGROUND_DEADLINE, SEED + r)) {
                fg.start();
                Thread.sleep(TimeUnit.SECONDS.toMillis(WARM_UP_SECONDS));
                fg.nextPhase(); // the warm-up is not measured
                Thread.sleep(TimeUnit.SECONDS.toMillis(settings.baselineSeconds()));
                CatchUpReport.Phase normal = fg.nextPhase();
                say(
                        "  normal: %.0f requests/s, p99 %.2f ms; snapshot of every member …",
                        normal.opsPerSecond(), normal.all().p99Nanos() / 1e6);

                double snapshotSeconds = snapshotMembers();
                CatchUpReport.Phase snapshotting = fg.nextPhase();
                int leader = leader();
                Path snapshot = latestSnapshot(leader);
                long snapshotBytes = Files.size(snapshot);
                long snapshotIndex = snapshotIndex(snapshot);
                // a follower, so that what is measured is the catch-up and not also the election that
                // follows when the leader leaves the group: the member added last, else the highest
                int from = memberIndexes().stream()
                        .filter(i -> i != leader)
                        .max(Comparator.comparingInt((Integer i) -> i == lastAdded ? 1 : 0)
                                .thenComparingInt(i -> i))
                        .orElseThrow();
                String fromAddress = address(from);
                say(
                        "  snapshot %s at index %d written in %.1f s; replacing %s (leader %s) …",
                        Units.size(snapshotBytes), snapshotIndex, snapshotSeconds, fromAddress, address(leader));

                String error = null;
                double[] stall = new double[1];
                long started;
                long ended;
                try (ReceivedBytes received =
                        new ReceivedBytes(cluster.adminUri(to).resolve("metrics"), group)) {
                    long[] maxApplied = {-1}; // as replaceReplica: -1 is "did not answer", never progress
                    long[] lastMove = {System.nanoTime()};
                    long[] lastShown = {0};
                    started = System.nanoTime();
                    lastMove[0] = started;
                    received.start(started);
                    try {
                        admin.admin().replaceReplica(VOLUME, fromAddress, toAddress, p -> {
                            long now = System.nanoTime();
                            if (p.appliedIndex()
                                    > maxApplied[
                                            0]) { // the applied index moving (replaceReplica itself counts any answer
                                // as progress)
                                maxApplied[0] = p.appliedIndex();
                                lastMove[0] = now;
                            }
                            stall[0] = Math.max(stall[0], (now - lastMove[0]) / 1e9);
                            if (now - lastShown[0] > 1_000_000_000L) {
                                lastShown[0] = now;
                                progress.printf(
                                        "\r  catching up: %.0f s, received %s, applied index %d of %d   ",
                                        p.elapsed().toMillis() / 1e3,
                                        Units.size(Math.max(0, received.maxBytes())),
                                        p.appliedIndex(),
                                        p.targetIndex());
                                progress.flush();
                            }
                        });
                    } catch (HoldfastException e) {
                        error = e.getMessage();
                    }
                    if (error == null) {
                        // replaceReplica returns once the configuration change commits, while the new member
                        // may still be restoring the snapshot it received: the catch-up ends when it has applied
                        error = awaitApplied(to);
                    }
                    ended = System.nanoTime();
                    stall[0] = Math.max(stall[0], (ended - lastMove[0]) / 1e9);
                    CatchUpReport.Phase during = fg.nextPhase();
                    progress.println();
                    boolean installed = node(to).groupStatus(group)
                            .map(s -> s.logStartIndex() > 0)
                            .orElse(false);
                    if (error == null) {
                        lastReplaced = from;
                        lastAdded = to;
                    }
                    CatchUpReport.Round round = new CatchUpReport.Round(
                            r + 1,
                            fromAddress,
                            toAddress,
                            address(leader),
                            rate,
                            snapshotIndex,
                            snapshotBytes,
                            snapshotSeconds,
                            snapshotPauseMillis(),
                            normal,
                            snapshotting,
                            during,
                            (ended - started) / 1e9,
                            received.firstByteSeconds(),
                            received.maxBytes(),
                            received.windowSeconds(),
                            received.bytesPerSecond(),
                            installed,
                            stall[0],
                            error);
                    say(
                            "  %s in %.1f s; foreground p99 %.2f ms (normal %.2f ms)",
                            error == null ? "caught up" : "FAILED",
                            round.catchUpSeconds(),
                            during.all().p99Nanos() / 1e6,
                            normal.all().p99Nanos() / 1e6);
                    return round;
                }
            }
        }
    }

    /**
     * One unmeasured replacement, on a small second volume, before the measured rounds. The nodes
     * share this JVM, so the JIT has then compiled the code that sends, receives and restores a
     * snapshot, as in a server that has been running for a while. Without it, the compiler
     * threads took a third of the two cores during the first measured catch-up.
     *
     * @return the seconds it took
     */
    private double warmUp(List<String> members) throws IOException, InterruptedException {
        long started = System.nanoTime();
        cluster.createVolume(WARM_UP_VOLUME, 0, 1, 2);
        UUID warmGroup =
                Placement.onlyGroup(admin.refreshMap().volume(WARM_UP_VOLUME).orElseThrow());
        load(admin.volume(WARM_UP_VOLUME), WARM_UP_BYTES);
        for (int i = 0; i < members.size(); i++) {
            node(i).takeSnapshot(warmGroup, SNAPSHOT_TIMEOUT);
        }
        admin.admin().replaceReplica(WARM_UP_VOLUME, members.getLast(), address(SPARE), p -> {});
        return (System.nanoTime() - started) / 1e9;
    }

    /**
     * Waits until node {@code to} has applied everything the volume's members had committed when
     * this was called (the longest a restore at 4 MiB/s of the largest bench size could take).
     *
     * @return null, or why it did not get there
     */
    private String awaitApplied(int to) throws InterruptedException, HoldfastException {
        long target = -1;
        for (int i : memberIndexes()) {
            target = Math.max(
                    target,
                    node(i).groupStatus(group)
                            .map(HoldfastNode.GroupStatus::commitIndex)
                            .orElse(-1L));
        }
        long end = System.nanoTime() + TimeUnit.MINUTES.toNanos(30);
        while (node(to).groupStatus(group)
                        .map(HoldfastNode.GroupStatus::appliedIndex)
                        .orElse(-1L)
                < target) {
            if (System.nanoTime() > end) {
                return address(to) + " did not apply index " + target + " within 30 minutes of joining";
            }
            Thread.sleep(100); // the new member restores and replays on its own; nothing to be told
        }
        return null;
    }

    /** Waits until node {@code i} serves no member of the volume (a replaced member leaves by itself). */
    private void awaitOutside(int i) throws InterruptedException, HoldfastException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (node(i).groupStatus(group).isPresent()) {
            if (System.nanoTime() > end) {
                throw new HoldfastException(
                        Errno.ETIMEDOUT, address(i) + " still serves volume " + VOLUME + " 60 s after it was replaced");
            }
            Thread.sleep(200); // the node leaves when it learns the new map; nothing to be told
        }
    }

    /** The volume's current replicas, as node indexes. */
    private List<Integer> memberIndexes() throws HoldfastException {
        ClusterMap.Volume v = admin.refreshMap().volume(VOLUME).orElseThrow();
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < cluster.addresses().size(); i++) {
            if (v.replicas().contains(address(i))) {
                out.add(i);
            }
        }
        return out;
    }

    /** Has every member take a snapshot now, all at once; returns the seconds it took. */
    private double snapshotMembers() throws IOException, InterruptedException {
        List<Integer> members = memberIndexes();
        ExecutorService pool = Executors.newFixedThreadPool(members.size(), r -> {
            Thread t = new Thread(r, "holdfast-bench-snapshot");
            t.setDaemon(true);
            return t;
        });
        long started = System.nanoTime();
        try {
            List<Future<Long>> done = new ArrayList<>();
            for (int i : members) {
                done.add(pool.submit(() -> node(i).takeSnapshot(group, SNAPSHOT_TIMEOUT)));
            }
            for (Future<Long> f : done) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    throw new IOException("snapshot failed: " + e.getCause().getMessage(), e.getCause());
                }
            }
        } finally {
            pool.shutdownNow();
        }
        return (System.nanoTime() - started) / 1e9;
    }

    /** The longest apply-thread pause of the members' latest snapshots, in ms; NaN if none is known. */
    private double snapshotPauseMillis() throws IOException {
        long longest = -1;
        for (int i : memberIndexes()) {
            longest = Math.max(longest, node(i).snapshotPauseNanos(group).orElse(-1L));
        }
        return longest < 0 ? Double.NaN : longest / 1e6;
    }

    private int leader() throws IOException, InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            for (int i : memberIndexes()) {
                if (node(i).groupStatus(group)
                        .map(s -> s.role().equals("LEADER"))
                        .orElse(false)) {
                    return i;
                }
            }
            if (System.nanoTime() > end) {
                throw new HoldfastException(Errno.ETIMEDOUT, "volume " + VOLUME + " has no leader");
            }
            Thread.sleep(200); // an election is under way
        }
    }

    /** The newest snapshot file of the volume's group on node {@code i}: {@code sm/snapshot.TERM_INDEX}. */
    private Path latestSnapshot(int i) throws IOException {
        Path sm = cluster.dataDir(i).resolve("raft").resolve(group.toString()).resolve("sm");
        try (Stream<Path> s = Files.list(sm)) {
            return s.filter(p -> p.getFileName().toString().matches("snapshot\\.\\d+_\\d+"))
                    .max(Comparator.comparingLong(CatchUpBench::snapshotIndex))
                    .orElseThrow(() -> new IOException("no snapshot in " + sm));
        }
    }

    private static long snapshotIndex(Path snapshot) {
        String name = snapshot.getFileName().toString();
        return Long.parseLong(name.substring(name.indexOf('_') + 1));
    }

    private void say(String fmt, Object... args) {
        progress.println("holdfast bench catch-up: " + String.format(Locale.ROOT, fmt, args));
        progress.flush();
    }

    /**
     * Reads {@code holdfast_catchup_snapshot_received_bytes} of one group from a node's
     * {@code /metrics} every {@link #METRICS_POLL_MILLIS} ms on a daemon thread, and keeps the
     * largest value and when it grew. Thread-safe.
     */
    static final class ReceivedBytes implements AutoCloseable {
        private static final String METRIC = "holdfast_catchup_snapshot_received_bytes{";
        private final HttpClient http =
                HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
        private final URI metrics;
        private final String label;
        private final Thread thread;
        private volatile boolean stop;
        private long maxBytes = -1;
        private long startNanos;
        private long firstBytes;
        private long firstNanos;
        private long lastGrowthNanos;

        ReceivedBytes(URI metrics, UUID group) {
            this.metrics = metrics;
            this.label = "group=\"" + group + "\"";
            this.thread = new Thread(this::poll, "holdfast-bench-metrics");
            thread.setDaemon(true);
            thread.start();
        }

        /** Marks the start of the replacement, for {@link #firstByteSeconds}. */
        synchronized void start(long nanos) {
            startNanos = nanos;
        }

        /** Seconds from {@link #start} to the first sample above 0; NaN if none. */
        synchronized double firstByteSeconds() {
            return maxBytes > 0 ? (firstNanos - startNanos) / 1e9 : Double.NaN;
        }

        private void poll() {
            while (!stop) {
                parse(scrape()).ifPresent(this::sample);
                try {
                    Thread.sleep(METRICS_POLL_MILLIS);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        private String scrape() {
            try {
                HttpRequest req = HttpRequest.newBuilder(metrics)
                        .timeout(Duration.ofSeconds(2))
                        .GET()
                        .build();
                return http.send(req, HttpResponse.BodyHandlers.ofString()).body();
            } catch (IOException e) {
                return ""; // the node is busy or restarting; the next sample
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                stop = true;
                return "";
            }
        }

        /** The received bytes of this group in a scrape, if it has the series. */
        Optional<Long> parse(String text) {
            return text.lines()
                    .filter(l -> l.startsWith(METRIC) && l.contains(label))
                    .map(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
                    .findFirst();
        }

        private synchronized void sample(long bytes) {
            long now = System.nanoTime();
            if (bytes > 0 && maxBytes <= 0) {
                firstBytes = bytes;
                firstNanos = now;
                lastGrowthNanos = now;
            }
            if (bytes > maxBytes) {
                if (maxBytes > 0) {
                    lastGrowthNanos = now;
                }
                maxBytes = bytes;
            }
        }

        /** The most bytes reported, -1 if none. */
        synchronized long maxBytes() {
            return maxBytes;
        }

        /** Seconds from the first sample above 0 to the last that grew; NaN if fewer than two. */
        synchronized double windowSeconds() {
            return maxBytes > 0 && lastGrowthNanos > firstNanos ? (lastGrowthNanos - firstNanos) / 1e9 : Double.NaN;
        }

        /** Growth per second over {@link #windowSeconds}; NaN if unknown. */
        synchronized double bytesPerSecond() {
            double w = windowSeconds();
            return Double.isNaN(w) ? Double.NaN : (maxBytes - firstBytes) / w;
        }

        @Override
        public void close() throws InterruptedException {
            stop = true;
            thread.interrupt();
            thread.join(5_000);
        }
    }
}
