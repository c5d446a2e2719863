package io.holdfast.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.common.Units;
import io.holdfast.georep.GeoListener;
import io.holdfast.georep.GeoOptions;
import io.holdfast.georep.GeoReplicator;
import io.holdfast.georep.GeoStatus;
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
        },
        subcommands = {
            GeorepCommands.Create.class,
            GeorepCommands.Start.class,
            GeorepCommands.Stop.class,
            GeorepCommands.Status.class,
            GeorepCommands.ListSessions.class
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
     */
    record Session(
            String name,
            String cluster,
            String tls,
            boolean insecure,
            String volume,
            Path target,
            long bytesPerSecond,
            boolean stopped) {
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
                    Boolean.parseBoolean(p.getProperty("stopped", "false")));
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
            return p;
        }

        Session withStopped(boolean s) {
            return new Session(name, cluster, tls, insecure, volume, target, bytesPerSecond, s);
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

        @Override
        public Integer call() throws Exception {
            ClusterMap.checkVolumeName(volume);
            if (!(bandwidthMiB >= 0) || Double.isInfinite(bandwidthMiB)) {
                throw new IllegalArgumentException("--bandwidth must be 0 (no limit) or more, got " + bandwidthMiB);
            }
            if (Files.exists(sessions.file(name))) {
                throw new IllegalArgumentException("session " + name + " exists already in " + sessions.dir());
            }
            try (HoldfastClient client = cluster.connect()) {
                if (client.refreshMap().volume(volume).isEmpty()) {
                    throw new IllegalArgumentException(
                            "the cluster at " + cluster.address() + " has no volume " + volume);
                }
            }
            Path t = target.toAbsolutePath().normalize();
            Files.createDirectories(t);
            sessions.save(new Session(
                    name,
                    cluster.address(),
                    cluster.tls == null ? "" : cluster.tls.toAbsolutePath().toString(),
                    cluster.insecure,
                    volume,
                    t,
                    Math.round(bandwidthMiB * (1 << 20)),
                    false));
            System.out.println("session " + name + ": " + volume + " at " + cluster.address() + " -> " + t
                    + "; start it with: holdfast georep start " + name);
            return ExitCodes.OK;
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
                names = "--bandwidth",
                paramLabel = "MiB/s",
                description = "Most file content read from the source per second for this run, over all copies"
                        + " under way; 0 for no limit (default: the session's, from 'create --bandwidth').")
        Double bandwidthMiB;

        PrintStream out = System.out;

        @Override
        public Integer call() throws Exception {
            if (bandwidthMiB != null && (!(bandwidthMiB >= 0) || Double.isInfinite(bandwidthMiB))) {
                throw new IllegalArgumentException("--bandwidth must be 0 (no limit) or more, got " + bandwidthMiB);
            }
            Session s = sessions.load(name);
            if (s.stopped()) {
                s = s.withStopped(false);
                sessions.save(s);
            }
            ClusterOption c = s.clusterOption();
            ClientProcess.prepare();
            Map<String, Object> env = new HashMap<>(c.env());
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
                String announcement = "georep " + name + ": " + s.volume() + " at " + s.cluster() + " -> " + s.target()
                        + " running; Ctrl-C or 'holdfast georep stop " + name + "' stops it";
                serve(
                        "holdfast-georep-" + name,
                        r,
                        announcement,
                        () -> sessions.load(name).stopped(),
                        out);
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
                "last change applied, while the source has newer entries)."
            })
    static final class Status extends SessionArgument implements Callable<Integer> {

        @Override
        public Integer call() throws Exception {
            Session s = sessions.load(name);
            System.out.println("session " + name + ": " + s.volume() + " at " + s.cluster() + " -> " + s.target()
                    + (s.stopped() ? " (stopped)" : ""));
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
                    System.out.printf(
                            Locale.ROOT,
                            "  source applied index %d: %d entries behind, lag %.1f s%s%n",
                            p.appliedIndex(),
                            behind,
                            lag,
                            p.resyncNeeded(at.index()) ? " (history trimmed: the next start resynchronises)" : "");
                }
            } catch (Exception e) {
                System.out.println("  source not reachable: " + e.getMessage());
            }
            return ExitCodes.OK;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List the sessions of this machine.")
    static final class ListSessions implements Callable<Integer> {
        @Mixin
        Sessions sessions;

        @Override
        public Integer call() throws Exception {
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
    }

    /** Whether a stop was asked for; a failure to tell counts as no. */
    @FunctionalInterface
    interface StopAsked {
        boolean asked() throws IOException;
    }

    /**
     * Runs {@code r} on a thread of its own in the foreground ({@link Serve}) until Ctrl-C,
     * SIGTERM, {@code stopAsked} or the worker's end (a failure it does not retry); prints
     * {@code announcement}, then the status every 10 s and once stopped.
     */
    static void serve(String thread, GeoReplicator r, String announcement, StopAsked stopAsked, PrintStream out)
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
