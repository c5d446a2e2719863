package io.holdfast.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.nio.HoldfastFileSystemProvider;
import io.holdfast.common.HoldfastException;
import io.holdfast.common.Units;
import io.holdfast.georep.Failover;
import io.holdfast.georep.GeoListener;
import io.holdfast.georep.GeoOptions;
import io.holdfast.georep.GeoReplicator;
import io.holdfast.georep.GeoStatus;
import io.holdfast.georep.ReverseReport;
import io.holdfast.georep.VolumeChangeSource;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code holdfast georep}: geo-replication sessions. A session names a source volume (and the
 * cluster and certificate to reach it) and a target directory; it is kept as a small file in the
 * sessions directory of the machine that runs the worker (the disaster-recovery site), and the
 * worker's position is kept at the target ({@link GeoReplicator}).
 */
@Command(
        name = "georep",
        mixinStandardHelpOptions = true,
        description = {
            "Replicate a volume to a directory at a disaster-recovery site, from the volume's change feed:",
            "renames and deletes in order, every file atomic at the target, resumable exactly after a stop",
            "or a cut (the position is kept at the target, in TARGET/.holdfast-georep/).",
            "",
            "Examples:",
            "  holdfast georep create mail-dr mail /srv/dr/mail --cluster primary.example:7001",
            "  holdfast georep start mail-dr          runs the worker in the foreground (Ctrl-C stops it)",
            "  holdfast georep status mail-dr",
            "",
            "Failover and failback (the DR copy becomes the primary, then its changes go back as a delta):",
            "  holdfast georep promote mail-dr        refused while the old primary answers (--force once fenced)",
            "  holdfast georep reverse mail-dr        DR changes -> old primary; conflicts kept as",
            "                                         PATH.conflict-primary-INDEX and reported",
            "  holdfast georep reverse mail-dr --finish   last delta, then 'start' replicates forward again",
        },
        subcommands = {
            GeorepCommands.Create.class,
            GeorepCommands.Start.class,
            GeorepCommands.Stop.class,
            GeorepCommands.Status.class,
            GeorepCommands.ListSessions.class,
            GeorepCommands.Promote.class,
            GeorepCommands.Reverse.class,
            GeorepCommands.Remove.class
        })
final class GeorepCommands {
    private GeorepCommands() {}

    /** The sessions directory option every georep command has. */
    static final class Sessions {
        @Option(
                names = "--sessions",
                paramLabel = "DIR",
                description = "Where sessions are kept (default: $HOLDFAST_GEOREP, else ~/.holdfast/georep).")
        Path dir;

        Path dir() {
            if (dir != null) {
                return dir;
            }
            String env = System.getenv("HOLDFAST_GEOREP");
            return env != null ? Path.of(env) : Path.of(System.getProperty("user.home"), ".holdfast", "georep");
        }

        Path file(String name) {
            GeoOptions.defaults(name); // checks the name
            return dir().resolve(name + ".session");
        }

        Session load(String name) throws IOException {
            Path f = file(name);
            if (!Files.exists(f)) {
                throw new IllegalArgumentException(
                        "no georep session " + name + " in " + dir() + " ('holdfast georep create' makes one)");
            }
            Properties p = new Properties();
            try (InputStream in = Files.newInputStream(f)) {
                p.load(in);
            }
            return Session.of(name, p);
        }

        void save(Session s) throws IOException {
            Files.createDirectories(dir());
            Path f = file(s.name());
            Path tmp = f.resolveSibling(f.getFileName() + ".tmp");
            try (OutputStream out = Files.newOutputStream(tmp)) {
                s.properties().store(out, "holdfast georep session");
            }
            Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** The options of the commands that name a session. */
    abstract static class SessionArgument {
        @Mixin
        Sessions sessions;

        @Parameters(index = "0", paramLabel = "NAME", description = "The session.")
        String name;
    }

    /**
     * One session.
     *
     * @param stopped set by {@code georep stop}: a running worker stops, and {@code start} clears it
     * @param rpoSeconds the recovery point objective: lag above it is reported (0 = off; sessions
     *     made before it existed get {@value #DEFAULT_RPO_SECONDS})
     */
    record Session(
            String name,
            String cluster,
            String tls,
            boolean insecure,
            String volume,
            Path target,
            long bytesPerSecond,
            boolean stopped,
            double rpoSeconds) {
        /** The RPO of a session that names none: 30 s. */
        static final double DEFAULT_RPO_SECONDS = 30;

        static Session of(String name, Properties p) {
            String tls = p.getProperty("tls", "");
            return new Session(
                    name,
                    p.getProperty("cluster"),
                    tls,
                    Boolean.parseBoolean(p.getProperty("insecure", "false")),
                    p.getProperty("volume"),
                    Path.of(p.getProperty("target")),
                    Long.parseLong(p.getProperty("bytesPerSecond", "0")),
                    Boolean.parseBoolean(p.getProperty("stopped", "false")),
                    Double.parseDouble(p.getProperty("rpoSeconds", Double.toString(DEFAULT_RPO_SECONDS))));
        }

        Properties properties() {
            Properties p = new Properties();
            p.setProperty("cluster", cluster);
            p.setProperty("tls", tls);
            p.setProperty("insecure", Boolean.toString(insecure));
            p.setProperty("volume", volume);
            p.setProperty("target", target.toString());
            p.setProperty("bytesPerSecond", Long.toString(bytesPerSecond));
            p.setProperty("stopped", Boolean.toString(stopped));
            p.setProperty("rpoSeconds", Double.toString(rpoSeconds));
            return p;
        }

        Session withStopped(boolean s) {
            return new Session(name, cluster, tls, insecure, volume, target, bytesPerSecond, s, rpoSeconds);
        }

        ClusterOption clusterOption() {
            ClusterOption c = new ClusterOption();
            c.cluster = cluster;
            c.tls = tls.isEmpty() ? null : Path.of(tls);
            c.insecure = insecure;
            return c;
        }
    }

    @Command(
            name = "create",
            mixinStandardHelpOptions = true,
            description = {
                "Make a session: NAME replicates VOLUME (of the cluster given by --cluster/--tls, remembered) to",
                "TARGET, a local directory (made if missing). Nothing runs until 'holdfast georep start NAME'.",
                "",
                "Example:  holdfast georep create mail-dr mail /srv/dr/mail --cluster primary.example:7001"
            })
    static final class Create implements Callable<Integer> {
        @Mixin
        ClusterOption cluster;

        @Mixin
        Sessions sessions;

        @Parameters(index = "0", paramLabel = "NAME", description = "The session's name: [A-Za-z0-9._-], 1-64.")
        String name;

        @Parameters(index = "1", paramLabel = "VOLUME", description = "The source volume.")
        String volume;

        @Parameters(index = "2", paramLabel = "TARGET", description = "The target directory.")
        Path target;

        @Option(
                names = "--bandwidth",
                paramLabel = "MiB/s",
                description = "Most file content read from the source per second (default: no limit).")
        double bandwidthMiB;

        @Option(
                names = "--rpo",
                paramLabel = "SECONDS",
                description = "Recovery point objective: a lag above it is reported by the worker, in its metrics "
                        + "and by 'georep status' (exit 4). 0 turns it off. Default: ${DEFAULT-VALUE}.",
                defaultValue = "30")
        double rpoSeconds;

        @Override
        public Integer call() throws Exception {
            ClusterMap.checkVolumeName(volume);
            if (!(rpoSeconds >= 0) || Double.isInfinite(rpoSeconds)) {
                throw new IllegalArgumentException("--rpo must be 0 (off) or more seconds, got " + rpoSeconds);
            }
            if (!(bandwidthMiB >= 0) || Double.isInfinite(bandwidthMiB)) {
                throw new IllegalArgumentException("--bandwidth must be 0 (no limit) or more, got " + bandwidthMiB);
            }
            if (Files.exists(sessions.file(name))) {
                throw new IllegalArgumentException("session " + name + " exists already in " + sessions.dir());
            }
            Path t = target.toAbsolutePath().normalize();
            try (HoldfastClient client = cluster.connect()) {
                if (client.refreshMap().volume(volume).isEmpty()) {
                    throw new IllegalArgumentException(
                            "the cluster at " + cluster.address() + " has no volume " + volume);
                }
                register(client, name, volume, t.toString(), rpoSeconds);
            }
            Files.createDirectories(t);
            sessions.save(new Session(
                    name,
                    cluster.address(),
                    cluster.tls == null ? "" : cluster.tls.toAbsolutePath().toString(),
                    cluster.insecure,
                    volume,
                    t,
                    Math.round(bandwidthMiB * (1 << 20)),
                    false,
                    rpoSeconds));
            System.out.println("session " + name + ": " + volume + " at " + cluster.address() + " -> " + t
                    + "; start it with: holdfast georep start " + name);
            return ExitCodes.OK;
        }
    }

    /**
     * Records the session in the source cluster's map, so the primary lists it and shows its lag;
     * a client that may not (not the admin, or a cluster too old for sessions) gets a note and the
     * session stays local.
     */
    static void register(HoldfastClient client, String name, String volume, String target, double rpoSeconds) {
        try {
            client.admin().putGeorepSession(name, volume, target, Math.round(rpoSeconds * 1000));
            System.out.println("recorded in the cluster map: the primary lists session " + name
                    + " ('holdfast georep list --map') with the lag its worker reports");
        } catch (HoldfastException e) {
            System.out.println("note: session " + name + " is not recorded in the cluster map (" + e.getMessage()
                    + "); it runs all the same, but the primary will not list it");
        }
    }

    @Command(
            name = "start",
            mixinStandardHelpOptions = true,
            description = {
                "Run the session's worker in the foreground: a full synchronisation first if the target has no",
                "position, then the change feed as it comes. Prints its position and lag every 10 s.",
                "Stops on Ctrl-C, SIGTERM or 'holdfast georep stop NAME'; the next start resumes exactly.",
                "",
                "Example:  holdfast georep start mail-dr"
            })
    static final class Start extends SessionArgument implements Callable<Integer> {

        @Option(names = "--once", description = "Catch up with the feed, then exit.")
        boolean once;

        @Option(
                names = "--metrics",
                paramLabel = "HOST:PORT",
                description = "Serve the worker's status page (/), /status.json and Prometheus /metrics (lag, "
                        + "position, RPO breached, counters) at this address, e.g. 127.0.0.1:9470 (port 0: any free "
                        + "one). Default: off.",
                defaultValue = "off")
        String metrics;

        @Option(
                names = "--bandwidth",
                paramLabel = "MiB/s",
                description = "Most file content read from the source per second for this run, over all copies"
                        + " under way; 0 for no limit (default: the session's, from 'create --bandwidth').")
        Double bandwidthMiB;

        @Option(
                names = "--compression",
                paramLabel = "zstd|none",
                description = "Have file contents, listings and change pages travel zstd-compressed when the primary"
                        + " offers it (default: ${DEFAULT-VALUE}); 'none' for a link where CPU costs more than bytes.",
                defaultValue = "zstd")
        String compression;

        PrintStream out = System.out;

        @Override
        public Integer call() throws Exception {
            if (bandwidthMiB != null && (!(bandwidthMiB >= 0) || Double.isInfinite(bandwidthMiB))) {
                throw new IllegalArgumentException("--bandwidth must be 0 (no limit) or more, got " + bandwidthMiB);
            }
            Session s = sessions.load(name);
            if (Failover.promotion(s.target()).isPresent()) {
                System.err.println("holdfast: " + "the target " + s.target() + " of session " + name
                        + " was promoted to primary ('holdfast georep promote'); replicating into it would overwrite"
                        + " what was written there. Bring those changes back with 'holdfast georep reverse " + name
                        + "', then fail back with 'holdfast georep reverse " + name + " --finish'.");
                return ExitCodes.FAILED;
            }
            if (s.stopped()) {
                s = s.withStopped(false);
                sessions.save(s);
            }
            if (!compression.equals("zstd") && !compression.equals("none")) {
                throw new IllegalArgumentException("--compression must be zstd or none, got " + compression);
            }
            ClusterOption c = s.clusterOption();
            ClientProcess.prepare();
            Map<String, Object> env = new HashMap<>(c.env());
            env.put(HoldfastClient.COMPRESSION_OPTION, compression);
            // No metadata cache for the worker's reads of the source: the change feed shows a change as
            // soon as it is applied, before this client has dropped its cache for it (the leader holds
            // only the writer's reply for that), so a cached listing could still say "absent" for a
            // name the page just made, and a name so missed is never looked at again.
            env.put(HoldfastFileSystemProvider.ENV_CACHE, false);
            try (HoldfastClient client = HoldfastClient.connect(host(s.cluster()), port(s.cluster()), env);
                    FileSystem fs = FileSystems.newFileSystem(
                            URI.create("holdfast://" + s.cluster() + "/" + s.volume()), env)) {
                VolumeService v = client.volume(s.volume());
                GeoOptions options = GeoOptions.defaults(name)
                        .withBytesPerSecond(
                                bandwidthMiB == null ? s.bytesPerSecond() : Math.round(bandwidthMiB * (1 << 20)))
                        .withListener(new Printer(out));
                GeoReplicator r = new GeoReplicator(
                        new VolumeChangeSource(v, Duration.ofSeconds(30)), fs.getPath("/"), s.target(), options);
                if (once) {
                    r.runOnce();
                    out.println(line(r.status()));
                    return ExitCodes.OK;
                }
                try (GeorepMonitor monitor = new GeorepMonitor(
                                name,
                                s.volume(),
                                s.rpoSeconds(),
                                r::status,
                                StatusServer.metricsAddress(metrics),
                                out);
                        ProgressReporter reporter = new ProgressReporter(client, name, r::status, out)) {
                    String announcement = "georep " + name + ": " + s.volume() + " at " + s.cluster() + " -> "
                            + s.target() + " running"
                            + (s.rpoSeconds() > 0 ? ", RPO " + GeorepMonitor.seconds(s.rpoSeconds()) + " s" : "")
                            + (monitor.uri() != null ? ", status and metrics at " + monitor.uri() : "")
                            + (client.compressing() ? ", zstd compression" : "")
                            + "; Ctrl-C or 'holdfast georep stop " + name + "' stops it";
                    serve(
                            "holdfast-georep-" + name,
                            r,
                            announcement,
                            () -> sessions.load(name).stopped(),
                            () -> {
                                monitor.check();
                                reporter.tick();
                            },
                            out);
                }
                return ExitCodes.OK;
            }
        }
    }

    @Command(
            name = "stop",
            mixinStandardHelpOptions = true,
            description = {"Ask the session's running worker to stop (within a second or two); 'start' resumes it."})
    static final class Stop extends SessionArgument implements Callable<Integer> {

        @Override
        public Integer call() throws Exception {
            sessions.save(sessions.load(name).withStopped(true));
            System.out.println("session " + name + " marked stopped; a running worker stops after its current page");
            return ExitCodes.OK;
        }
    }

    @Command(
            name = "status",
            mixinStandardHelpOptions = true,
            description = {
                "Show a session: source, target, the position recorded at the target and its commit time, the",
                "feed's applied index at the source, and the lag (entries; seconds since the commit time of the",
                "last change applied, while the source has newer entries) against the session's RPO."
            },
            exitCodeList = {"4:the lag is above the session's RPO"})
    static final class Status extends SessionArgument implements Callable<Integer> {
        /** Exit status when the lag is above the RPO. */
        static final int EXIT_RPO_BREACHED = 4;

        @Override
        public Integer call() throws Exception {
            Session s = sessions.load(name);
            System.out.println("session " + name + ": " + s.volume() + " at " + s.cluster() + " -> " + s.target()
                    + (s.stopped() ? " (stopped)" : ""));
            Failover.promotion(s.target())
                    .ifPresent(p -> System.out.println("  PROMOTED to primary at "
                            + Instant.ofEpochSecond(0, p.promotedNanos()) + " (split at source index " + p.splitIndex()
                            + "; the next reverse starts at index " + p.baseIndex() + ")"));
            GeoReplicator.Recorded at = GeoReplicator.recorded(s.target()).orElse(null);
            if (at == null) {
                System.out.println("  no position at the target yet (the first start synchronises the whole tree)");
                return ExitCodes.OK;
            }
            System.out.println("  position: index " + at.index() + ", committed "
                    + Instant.ofEpochSecond(0, at.commitNanos()) + ", recorded "
                    + Instant.ofEpochSecond(0, at.writtenNanos()));
            ClusterOption c = s.clusterOption();
            try (HoldfastClient client = c.connect()) {
                Response r = client.volume(s.volume()).changes(at.index(), 1, 0).get(30, TimeUnit.SECONDS);
                if (r instanceof Response.ChangePage p) {
                    long behind = Math.max(0, p.appliedIndex() - at.index());
                    double lag = behind == 0 ? 0 : (System.currentTimeMillis() * 1_000_000L - at.commitNanos()) / 1e9;
                    boolean breached = GeorepMonitor.above(lag, s.rpoSeconds());
                    System.out.printf(
                            Locale.ROOT,
                            "  source applied index %d: %d entries behind, lag %.1f s%s%s%n",
                            p.appliedIndex(),
                            behind,
                            lag,
                            s.rpoSeconds() == 0
                                    ? ""
                                    : breached
                                            ? ": RPO BREACHED (RPO " + GeorepMonitor.seconds(s.rpoSeconds()) + " s)"
                                            : " (RPO " + GeorepMonitor.seconds(s.rpoSeconds()) + " s)",
                            p.resyncNeeded(at.index()) ? " (history trimmed: the next start resynchronises)" : "");
                    if (breached) {
                        return EXIT_RPO_BREACHED;
                    }
                }
            } catch (Exception e) {
                System.out.println("  source not reachable: " + e.getMessage());
            }
            return ExitCodes.OK;
        }
    }

    @Command(
            name = "list",
            mixinStandardHelpOptions = true,
            description = "List the sessions of this machine, or with --map those recorded in a cluster's map.",
            exitCodeList = {"4:--map: a session's lag is above its RPO"})
    static final class ListSessions implements Callable<Integer> {
        @Mixin
        Sessions sessions;

        @Mixin
        ClusterOption cluster;

        @Option(
                names = "--map",
                description = "List the sessions recorded in the cluster map of --cluster instead (the primary's "
                        + "view): volume, target, RPO, the position their workers last reported, the lag, and "
                        + "how long ago the last report came.")
        boolean map;

        @Override
        public Integer call() throws Exception {
            if (map) {
                return listMap();
            }
            List<String> lines = new ArrayList<>();
            if (Files.isDirectory(sessions.dir())) {
                try (Stream<Path> files = Files.list(sessions.dir())) {
                    for (Path f : files.filter(f -> f.toString().endsWith(".session"))
                            .sorted()
                            .toList()) {
                        String n = f.getFileName().toString().replaceFirst("\\.session$", "");
                        Session s = sessions.load(n);
                        lines.add(n + "\t" + s.volume() + "@" + s.cluster() + "\t" + s.target()
                                + (s.stopped() ? "\tstopped" : ""));
                    }
                }
            }
            lines.forEach(System.out::println);
            return ExitCodes.OK;
        }

        private int listMap() throws Exception {
            try (HoldfastClient client = cluster.connect()) {
                ClusterMap m = client.refreshMap();
                if (m.georep().isEmpty()) {
                    System.out.println("no georep sessions in the cluster map of " + cluster.address()
                            + " (sessions are recorded by 'holdfast georep create' with the admin certificate)");
                    return ExitCodes.OK;
                }
                System.out.println("SESSION\tVOLUME\tTARGET\tRPO\tPOSITION\tBEHIND\tLAG\tREPORTED");
                long now = System.currentTimeMillis() * 1_000_000L;
                int breached = 0;
                for (ClusterMap.GeorepSession g : m.georep().values()) {
                    long applied = -1;
                    try {
                        Response r = client.volume(g.volume())
                                .changes(g.position(), 1, 0)
                                .get(30, TimeUnit.SECONDS);
                        if (r instanceof Response.ChangePage p) {
                            applied = p.appliedIndex();
                        }
                    } catch (Exception e) {
                        // shown as unknown
                    }
                    double lag = applied < 0 ? Double.NaN : g.lagSeconds(applied, now);
                    boolean over = GeorepMonitor.above(lag * 1000, g.rpoMillis());
                    breached += over ? 1 : 0;
                    System.out.println(String.join(
                            "\t",
                            g.name(),
                            g.volume(),
                            g.target(),
                            g.rpoMillis() == 0 ? "-" : GeorepMonitor.seconds(g.rpoMillis() / 1000.0) + "s",
                            Long.toString(g.position()),
                            applied < 0 ? "?" : Long.toString(Math.max(0, applied - g.position())),
                            (Double.isNaN(lag) ? "?" : String.format(Locale.ROOT, "%.1fs", lag))
                                    + (over ? " RPO BREACHED" : ""),
                            g.reportedNanos() == 0
                                    ? "never"
                                    : String.format(Locale.ROOT, "%.0fs ago", (now - g.reportedNanos()) / 1e9)));
                }
                return breached > 0 ? Status.EXIT_RPO_BREACHED : ExitCodes.OK;
            }
        }
    }

    @Command(
            name = "rm",
            mixinStandardHelpOptions = true,
            description = {
                "Remove a session: its file on this machine and its record in the source cluster's map (with the",
                "admin certificate). The target and its position file are left as they are; stop the worker first.",
            })
    static final class Remove extends SessionArgument implements Callable<Integer> {

        @Override
        public Integer call() throws Exception {
            Session s = sessions.load(name);
            try (HoldfastClient client = s.clusterOption().connect()) {
                client.admin().removeGeorepSession(name);
                System.out.println("session " + name + " removed from the cluster map of " + s.cluster());
            } catch (HoldfastException e) {
                System.out.println(
                        "note: the cluster map of " + s.cluster() + " was not changed (" + e.getMessage() + ")");
            }
            Files.delete(sessions.file(name));
            System.out.println("session " + name + " removed; its target " + s.target() + " is left as it is");
            return ExitCodes.OK;
        }
    }

    @Command(
            name = "promote",
            mixinStandardHelpOptions = true,
            exitCodeList = {
                "0:the target is the primary now (or was already)",
                "3:refused: the old primary still answers (nothing was changed; --force once it is fenced)",
                "4:refused: the session's worker did not stop within --wait (nothing was changed)"
            },
            description = {
                "Fail over: make the session's target (the DR copy) the writable primary.",
                "",
                "Refused while the old primary (the session's cluster) still answers, since two writable",
                "primaries would diverge; with --force it is not asked (use it once the old primary is down or",
                "cut off from its clients). Then the session's worker is asked to stop (as 'georep stop') and",
                "awaited; the target's tree is recorded, without reading any content, in a baseline manifest",
                "(TARGET/.holdfast-georep/baseline-1: per entry type, size, mode, owner, times, inode); and",
                "the state file records, atomically and durably, that the target is promoted, with the split",
                "point (the source index and commit time the target holds). From then on 'georep start' refuses",
                "the session: the worker must never overwrite what is written at the DR site.",
                "",
                "Next: point the applications at the target; later, 'holdfast georep reverse NAME' brings",
                "the changes back to the old primary.",
                "",
                "Example:  holdfast georep promote mail-dr --force"
            })
    static final class Promote extends SessionArgument implements Callable<Integer> {
        @Option(names = "--force", description = "Promote without asking whether the old primary still answers.")
        boolean force;

        @Option(
                names = "--wait",
                paramLabel = "SECONDS",
                description = "How long to wait for a running worker of the session to stop (default: 60).")
        int waitSeconds = 60;

        PrintStream out = System.out;

        @Override
        public Integer call() throws Exception {
            if (waitSeconds < 0) {
                throw new IllegalArgumentException("--wait must be 0 or more seconds, got " + waitSeconds);
            }
            Session s = sessions.load(name);
            Failover.Promotion already = Failover.promotion(s.target()).orElse(null);
            if (already != null) {
                out.println("session " + name + ": " + s.target() + " was promoted already at "
                        + Instant.ofEpochSecond(0, already.promotedNanos()) + " (split at source index "
                        + already.splitIndex() + "); nothing changed");
                return ExitCodes.OK;
            }
            if (!force) {
                String answer = probe(s);
                if (answer != null) {
                    System.err.println("holdfast: not promoted: the old primary " + s.cluster() + " still answers ("
                            + answer + "); two writable primaries would diverge. Stop or fence it first, or use"
                            + " --force once its clients cannot reach it. Nothing was changed.");
                    return PRIMARY_REACHABLE;
                }
            }
            if (!s.stopped()) {
                sessions.save(s.withStopped(true));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(waitSeconds);
            while (Failover.inUse(s.target())) {
                if (System.nanoTime() > deadline) {
                    System.err.println("holdfast: not promoted: the worker of session " + name + " still runs on "
                            + s.target() + " after " + waitSeconds + " s (it is marked stopped; try again, or end"
                            + " its process). Nothing was changed.");
                    return WORKER_RUNNING;
                }
                Thread.sleep(200);
            }
            Failover.Promotion p = Failover.promote(s.target(), name, () -> null, true, true, InstantSource.system());
            out.println("session " + name + ": " + s.target() + " is the writable primary now");
            out.println("  split at source index " + p.splitIndex() + " (committed "
                    + Instant.ofEpochSecond(0, p.splitCommitNanos()) + "); baseline of " + p.baselineEntries()
                    + " entries recorded in " + s.target().resolve(".holdfast-georep"));
            out.println("  'holdfast georep start " + name + "' refuses from now on; bring the changes made here back"
                    + " with 'holdfast georep reverse " + name + "'");
            return ExitCodes.OK;
        }

        /** What the old primary answered, or null if it did not (within about 10 s). */
        static String probe(Session s) {
            Map<String, Object> env = new HashMap<>(s.clusterOption().env());
            env.put(HoldfastClient.SHORT_LIVED_OPTION, true);
            env.put("holdfast.deadline", Duration.ofSeconds(10));
            try {
                ClientProcess.prepare();
                try (HoldfastClient client = HoldfastClient.connect(host(s.cluster()), port(s.cluster()), env)) {
                    return Failover.feedProbe(new VolumeChangeSource(client.volume(s.volume()), Duration.ofSeconds(10)))
                            .reachable();
                }
            } catch (Exception e) {
                return null;
            }
        }
    }

    /** {@code georep promote}: the old primary answers. */
    static final int PRIMARY_REACHABLE = 3;
    /** {@code georep promote}: the worker did not stop. */
    static final int WORKER_RUNNING = 4;

    @Command(
            name = "reverse",
            mixinStandardHelpOptions = true,
            description = {
                "After a promote: bring the changes made at the DR copy since the split back to the old primary",
                "(the session's volume), as a delta: no full copy.",
                "",
                "The DR changes are found by comparing the target tree with the baseline manifest (new,",
                "modified, deleted; a renamed entry, a directory with its contents, is one rename); the old",
                "primary's own changes since the split from its change feed (or, if the feed no longer holds",
                "them, its tree compared with the manifest). A path changed on both sides is a conflict: the",
                "DR version wins at the path and the old primary's is kept beside it as",
                "  PATH.conflict-primary-INDEX      (INDEX: the source index the pass started from;",
                "                                   -2, -3... appended if that name exists)",
                "and every conflict is listed in the report printed here and written at the target",
                "(TARGET/.holdfast-georep/reverse-N.txt and .json). Files arrive atomically (temporary name,",
                "then rename). The plan is recorded before it is applied: a pass killed half way is finished",
                "by running the command again; a run with nothing changed applies nothing.",
                "",
                "Failback: stop writing at the DR site, then run with --finish: a last pass, then the session",
                "is re-based at the split index and no longer promoted; 'holdfast georep start NAME' then",
                "replicates primary -> DR again from the split, bringing the old primary's own changes and",
                "the conflict copies to the target without a full copy.",
                "",
                "Examples:",
                "  holdfast georep reverse mail-dr --dry-run     the plan and its conflicts, nothing written",
                "  holdfast georep reverse mail-dr --json",
                "  holdfast georep reverse mail-dr --finish && holdfast georep start mail-dr"
            })
    static final class Reverse extends SessionArgument implements Callable<Integer> {
        @Option(names = "--dry-run", description = "Plan and report only; write nothing on either side.")
        boolean dryRun;

        @Option(names = "--json", description = "Print the report as JSON (one object).")
        boolean json;

        @Option(
                names = "--finish",
                description = "Fail back: a last pass (the DR site quiesced), then re-base the session at the split.")
        boolean finish;

        PrintStream out = System.out;

        @Override
        public Integer call() throws Exception {
            if (dryRun && finish) {
                throw new IllegalArgumentException("--dry-run and --finish do not go together");
            }
            Session s = sessions.load(name);
            if (Failover.promotion(s.target()).isEmpty()) {
                System.err.println("holdfast: " + "the target " + s.target() + " of session " + name
                        + " is not promoted: there is nothing to reverse ('holdfast georep promote " + name
                        + "' fails over first)");
                return ExitCodes.FAILED;
            }
            ClusterOption c = s.clusterOption();
            ClientProcess.prepare();
            Map<String, Object> env = new HashMap<>(c.env());
            try (HoldfastClient client = HoldfastClient.connect(host(s.cluster()), port(s.cluster()), env);
                    FileSystem fs = FileSystems.newFileSystem(
                            URI.create("holdfast://" + s.cluster() + "/" + s.volume()), env)) {
                VolumeChangeSource feed = new VolumeChangeSource(client.volume(s.volume()), Duration.ofSeconds(30));
                GeoOptions options = GeoOptions.defaults(name)
                        .withBytesPerSecond(s.bytesPerSecond())
                        .withListener(new GeoListener() {
                            @Override
                            public void entrySkipped(String path, IOException e) {
                                System.err.println("holdfast: skipped " + path + ": " + e.getMessage());
                            }
                        });
                ReverseReport report;
                if (finish) {
                    Failover.Failback f = Failover.failback(feed, fs.getPath("/"), s.target(), options);
                    report = f.lastPass();
                    print(report);
                    if (!json) {
                        out.println("failed back: session " + name + " re-based at source index " + f.rebasedAt()
                                + " (the split) and no longer promoted; 'holdfast georep start " + name
                                + "' replicates " + s.volume() + " -> " + s.target() + " again");
                    }
                } else {
                    report = Failover.reverse(feed, fs.getPath("/"), s.target(), options, dryRun);
                    print(report);
                }
                return ExitCodes.OK;
            }
        }

        private void print(ReverseReport r) {
            out.print(json ? r.toJson() + System.lineSeparator() : r.toText());
        }
    }

    /** Whether a stop was asked for; a failure to tell counts as no. */
    @FunctionalInterface
    interface StopAsked {
        boolean asked() throws IOException;
    }

    /**
     * Runs {@code r} on a thread of its own in the foreground ({@link Serve}) until Ctrl-C,
     * SIGTERM, {@code stopAsked} or the worker's end (a failure it does not retry); prints
     * {@code announcement}, then the status every 10 s and once stopped; runs {@code everySecond}
     * (if not null) about once a second meanwhile.
     */
    static void serve(
            String thread,
            GeoReplicator r,
            String announcement,
            StopAsked stopAsked,
            Runnable everySecond,
            PrintStream out)
            throws InterruptedException {
        Thread worker = Thread.ofPlatform().name(thread).start(() -> {
            try {
                r.run();
            } catch (Exception e) {
                System.err.println("holdfast: " + r.status().session() + " stopped: " + e.getMessage());
            }
        });
        Serve.run(thread + "-stop", new Serve.Served() {
            long lastLine = System.nanoTime();

            @Override
            public void ready() {
                out.println(announcement);
            }

            @Override
            public boolean ended() {
                if (everySecond != null) {
                    everySecond.run();
                }
                if (System.nanoTime() - lastLine > TimeUnit.SECONDS.toNanos(10)) {
                    out.println(line(r.status()));
                    lastLine = System.nanoTime();
                }
                try {
                    return !worker.isAlive() || stopAsked.asked();
                } catch (IOException e) {
                    return false;
                }
            }

            @Override
            public void close() throws Exception {
                r.stop();
                worker.join(TimeUnit.SECONDS.toMillis(30));
                out.println(line(r.status()));
            }
        });
    }

    static String line(GeoStatus s) {
        return String.format(
                Locale.ROOT,
                "georep %s: %s, position %d of %d (%d behind), lag %.1f s; copied %d files (%s), %d deletes, "
                        + "%d renames, %d resyncs, %d errors",
                s.session(),
                s.phase().name().toLowerCase(Locale.ROOT),
                s.position(),
                s.feedIndex(),
                s.lagEntries(),
                s.lagSeconds(),
                s.filesCopied(),
                Units.size(s.bytesCopied()),
                s.deletes(),
                s.renames(),
                s.resyncs(),
                s.errors());
    }

    /** Prints full-sync progress and failures. */
    private record Printer(PrintStream out) implements GeoListener {
        @Override
        public void fullSyncStarted(long index, String reason) {
            out.println("full synchronisation at index " + index + ": " + reason);
        }

        @Override
        public void fullSyncDone(long index, GeoStatus status) {
            out.println("full synchronisation done: " + line(status));
        }

        @Override
        public void retrying(IOException e, long retryMillis) {
            out.println("failed (" + e.getMessage() + "); retrying in " + retryMillis + " ms");
        }
    }

    private static String host(String address) {
        return address.substring(0, address.lastIndexOf(':'));
    }

    private static int port(String address) {
        return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
    }
}
