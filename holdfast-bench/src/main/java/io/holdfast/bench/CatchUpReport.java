package io.holdfast.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.holdfast.common.Units;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * What {@code holdfast bench catch-up} measured: the setup, and per round (one replica
 * replacement at one catch-up rate) the catch-up and the foreground latency before ("normal")
 * and during it, both measured in the same run.
 *
 * <p>Immutable. {@link #toText} and {@link #toJson} are the two forms {@code holdfast bench
 * catch-up} prints.
 *
 * @param setup the cluster and the data
 * @param rounds the rounds, in the order run; copied
 */
public record CatchUpReport(Setup setup, List<Round> rounds) {
    /**
     * Copies the rounds.
     *
     * @throws NullPointerException if {@code rounds} or a round is null
     */
    public CatchUpReport {
        rounds = List.copyOf(rounds);
    }

    /**
     * The cluster and the data.
     *
     * @param nodes the initial nodes' addresses (the volume's replicas)
     * @param spare the node added at run time
     * @param dataBytes bytes of file data loaded before the rounds
     * @param files files they were written as
     * @param writeBytes bytes per write request
     * @param loadSeconds time to load them
     * @param snapshotThreshold applied entries between the nodes' automatic snapshots
     */
    public record Setup(
            List<String> nodes,
            String spare,
            long dataBytes,
            int files,
            int writeBytes,
            double loadSeconds,
            long snapshotThreshold) {
        /** Copies the nodes. */
        public Setup {
            nodes = List.copyOf(nodes);
        }
    }

    /**
     * Latency percentiles of some operations (nearest rank).
     *
     * @param count operations
     * @param p50Nanos median latency
     * @param p90Nanos 90th percentile
     * @param p99Nanos 99th percentile
     * @param maxNanos slowest
     */
    public record Latency(long count, long p50Nanos, long p90Nanos, long p99Nanos, long maxNanos) {
        static final Latency NONE = new Latency(0, 0, 0, 0, 0);

        /** The percentiles of the first {@code count} of {@code nanos} (not modified). */
        static Latency of(long[] nanos, int count) {
            if (count == 0) {
                return NONE;
            }
            long[] sorted = Arrays.copyOf(nanos, count);
            Arrays.sort(sorted);
            return new Latency(count, rank(sorted, 0.50), rank(sorted, 0.90), rank(sorted, 0.99), sorted[count - 1]);
        }

        /** Nearest rank: the smallest sample at or above fraction {@code p} of them. */
        private static long rank(long[] sorted, double p) {
            int i = (int) Math.ceil(p * sorted.length) - 1;
            return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
        }
    }

    /**
     * The foreground during one phase.
     *
     * @param seconds how long the phase lasted
     * @param all every request
     * @param writes mutations (mkdir, create, write)
     * @param reads queries (getattr, readdir)
     * @param failed requests that failed (an error reply or no answer within the deadline)
     * @param failures the first few failures' messages
     */
    public record Phase(
            double seconds, Latency all, Latency writes, Latency reads, long failed, List<String> failures) {
        /** Copies the failures. */
        public Phase {
            failures = List.copyOf(failures);
        }

        double opsPerSecond() {
            return seconds > 0 ? all.count() / seconds : 0;
        }
    }

    /**
     * One replacement.
     *
     * @param number 1, 2, …
     * @param from the member replaced
     * @param to the new member
     * @param leader the group's leader when the replacement began
     * @param rateBytesPerSecond the new member's catch-up rate
     * @param snapshotIndex index of the leader's latest snapshot when the replacement began
     * @param snapshotBytes size of that snapshot's file
     * @param snapshotSeconds time the members took to write the snapshot taken before the round
     * @param normal the foreground before the replacement
     * @param snapshotPauseMillis the longest time a member's apply thread was held by that
     *     snapshot (checkpoint and freeze; the file is written in the background), NaN if unknown
     * @param snapshotting the foreground while the members wrote that snapshot
     * @param during the foreground while {@code replaceReplica} ran
     * @param catchUpSeconds from the {@code replaceReplica} call until the new member had applied
     *     everything committed when it returned (its restore of the snapshot included)
     * @param firstByteSeconds from the call until the new member's {@code /metrics} first
     *     reported snapshot bytes received, NaN if never
     * @param receivedBytes the most snapshot bytes the new member's {@code /metrics} reported
     *     received, -1 if it never reported any
     * @param transferSeconds from the first sample of those bytes above 0 to the last sample that
     *     grew (sampled every {@link CatchUpBench#METRICS_POLL_MILLIS} ms), NaN if unknown
     * @param transferBytesPerSecond how fast they grew between those samples, NaN if unknown
     * @param installedSnapshot whether the new member's log starts after index 0 (it installed a
     *     snapshot instead of receiving the whole log)
     * @param longestStallSeconds the longest time the new member's applied index did not move,
     *     as seen by {@code replaceReplica}'s progress reports
     * @param error why the replacement failed, or null
     */
    public record Round(
            int number,
            String from,
            String to,
            String leader,
            long rateBytesPerSecond,
            long snapshotIndex,
            long snapshotBytes,
            double snapshotSeconds,
            double snapshotPauseMillis,
            Phase normal,
            Phase snapshotting,
            Phase during,
            double catchUpSeconds,
            double firstByteSeconds,
            long receivedBytes,
            double transferSeconds,
            double transferBytesPerSecond,
            boolean installedSnapshot,
            double longestStallSeconds,
            String error) {

        /** Foreground p99 during the catch-up over p99 before it; NaN if either is missing. */
        double p99Ratio() {
            return normal.all().p99Nanos() > 0 && during.all().count() > 0
                    ? (double) during.all().p99Nanos() / normal.all().p99Nanos()
                    : Double.NaN;
        }

        /** Foreground requests per second during the catch-up over before it; NaN if unknown. */
        double throughputRatio() {
            return normal.opsPerSecond() > 0 ? during.opsPerSecond() / normal.opsPerSecond() : Double.NaN;
        }

        /** Snapshot bytes per second of the whole catch-up (call to return). */
        double effectiveBytesPerSecond() {
            return catchUpSeconds > 0 ? snapshotBytes / catchUpSeconds : Double.NaN;
        }

        long failed() {
            return normal.failed() + snapshotting.failed() + during.failed();
        }
    }

    /** Failed foreground requests in every round and phase (should be 0). */
    public long failedOperations() {
        return rounds.stream().mapToLong(Round::failed).sum();
    }

    /** Whether every replacement completed. */
    public boolean completed() {
        return rounds.stream().allMatch(r -> r.error() == null);
    }

    private static final String NL = System.lineSeparator();

    /** A plain-text report; ends with a line separator. */
    public String toText() {
        StringBuilder o = new StringBuilder();
        line(o, "== holdfast bench catch-up ==");
        line(
                o,
                "cluster            %d nodes + 1 spare (%s) in one JVM, mutual TLS on loopback",
                setup.nodes().size(),
                setup.spare());
        line(
                o,
                "data               %s in %d files, %s writes, loaded in %.1f s (%s)",
                Units.size(setup.dataBytes()),
                setup.files(),
                Units.size(setup.writeBytes()),
                setup.loadSeconds(),
                Units.rate(setup.dataBytes() / setup.loadSeconds()));
        line(
                o,
                "snapshots          every %d applied entries, and taken by the bench after loading and before each "
                        + "replacement",
                setup.snapshotThreshold());
        line(
                o,
                "warm-up            one unmeasured replacement on a second, 64 MiB volume first (JIT-compiles the "
                        + "catch-up code)");
        line(
                o,
                "foreground         one client, one request at a time: create a 4 KiB file, write it, getattr it, "
                        + "readdir");
        line(
                o,
                "                   (closed loop: while a request stalls no other is sent, so a stall shows in max "
                        + "and req/s"
                        + " more than in p99)");
        for (Round r : rounds) {
            line(o, "");
            line(
                    o,
                    "round %d: replace %s by %s (a follower; the leader is %s), catch-up rate %s",
                    r.number(),
                    r.from(),
                    r.to(),
                    r.leader(),
                    Units.rate(r.rateBytesPerSecond()));
            line(
                    o,
                    "  snapshot           %s at index %d (the leader's file); the members took %.1f s to write it",
                    Units.size(r.snapshotBytes()),
                    r.snapshotIndex(),
                    r.snapshotSeconds());
            line(
                    o,
                    "  snapshot pause     %.1f ms (the longest a member's applies waited: checkpoint and freeze)",
                    r.snapshotPauseMillis());
            if (r.error() != null) {
                line(o, "  FAILED             %s", r.error());
            }
            line(
                    o,
                    "  catch-up time      %.1f s (from replaceReplica's call until the new member had applied what "
                            + "was committed when it returned)",
                    r.catchUpSeconds());
            line(
                    o,
                    "  effective rate     %s (snapshot bytes / catch-up time)",
                    Units.rate(r.effectiveBytesPerSecond()));
            if (r.receivedBytes() > 0) {
                line(
                        o,
                        "  transfer           first bytes after %.1f s; %s received, %s over %.1f s (the new member's "
                                + "/metrics,"
                                + " every %d ms)",
                        r.firstByteSeconds(),
                        Units.size(r.receivedBytes()),
                        Units.rate(r.transferBytesPerSecond()),
                        r.transferSeconds(),
                        CatchUpBench.METRICS_POLL_MILLIS);
            } else {
                line(o, "  transfer           not seen in the new member's /metrics");
            }
            line(
                    o,
                    "  installed snapshot %s",
                    r.installedSnapshot()
                            ? "yes (the new member's log starts after the snapshot)"
                            : "NO (the new member received the log)");
            line(
                    o,
                    "  longest stall      %.1f s without the new member's applied index moving (replaceReplica gives "
                            + "up after"
                            + " the client deadline, 30 s by default)",
                    r.longestStallSeconds());
            line(
                    o,
                    "  foreground         %8s %8s %8s %8s %8s %8s %9s %7s",
                    "seconds",
                    "requests",
                    "req/s",
                    "p50 ms",
                    "p90 ms",
                    "p99 ms",
                    "max ms",
                    "failed");
            phase(o, "normal", r.normal());
            phase(o, "while snapshotting", r.snapshotting());
            phase(o, "during catch-up", r.during());
            line(
                    o,
                    "  p99 during / normal %s (issue 4: within 2x); requests/s during / normal %s",
                    ratio(r.p99Ratio()),
                    ratio(r.throughputRatio()));
            for (Phase p : List.of(r.normal(), r.snapshotting(), r.during())) {
                p.failures().forEach(f -> line(o, "  failure: %s", f));
            }
        }
        line(o, "");
        line(o, "failed foreground requests: %d", failedOperations());
        return o.toString();
    }

    private static void phase(StringBuilder o, String name, Phase p) {
        row(o, "  " + name, p.seconds(), p.all(), p.opsPerSecond(), p.failed());
        row(o, "    writes", Double.NaN, p.writes(), Double.NaN, -1);
        row(o, "    reads", Double.NaN, p.reads(), Double.NaN, -1);
    }

    private static void row(StringBuilder o, String name, double seconds, Latency l, double rate, long failed) {
        line(
                o,
                "  %-18s %8s %8d %8s %8.2f %8.2f %8.2f %9.2f %7s",
                name,
                Double.isNaN(seconds) ? "" : String.format(Locale.ROOT, "%.1f", seconds),
                l.count(),
                Double.isNaN(rate) ? "" : String.format(Locale.ROOT, "%.1f", rate),
                ms(l.p50Nanos()),
                ms(l.p90Nanos()),
                ms(l.p99Nanos()),
                ms(l.maxNanos()),
                failed < 0 ? "" : Long.toString(failed));
    }

    private static String ratio(double r) {
        return Double.isNaN(r) ? "-" : String.format(Locale.ROOT, "%.2fx", r);
    }

    /**
     * The report as one JSON object (no line separator at the end); times in seconds and milliseconds, sizes in bytes.
     */
    public String toJson() {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode s = root.putObject("setup");
        ArrayNode nodes = s.putArray("nodes");
        setup.nodes().forEach(nodes::add);
        s.put("spare", setup.spare())
                .put("dataBytes", setup.dataBytes())
                .put("files", setup.files())
                .put("writeBytes", setup.writeBytes())
                .put("loadSeconds", setup.loadSeconds())
                .put("snapshotThreshold", setup.snapshotThreshold());
        ArrayNode list = root.putArray("rounds");
        for (Round r : rounds) {
            ObjectNode o = list.addObject();
            o.put("round", r.number())
                    .put("from", r.from())
                    .put("to", r.to())
                    .put("leader", r.leader())
                    .put("rateBytesPerSecond", r.rateBytesPerSecond())
                    .put("snapshotIndex", r.snapshotIndex())
                    .put("snapshotBytes", r.snapshotBytes());
            put(o, "snapshotSeconds", r.snapshotSeconds());
            put(o, "catchUpSeconds", r.catchUpSeconds());
            put(o, "effectiveBytesPerSecond", r.effectiveBytesPerSecond());
            put(o, "firstByteSeconds", r.firstByteSeconds());
            o.put("receivedBytes", r.receivedBytes());
            put(o, "transferSeconds", r.transferSeconds());
            put(o, "transferBytesPerSecond", r.transferBytesPerSecond());
            o.put("installedSnapshot", r.installedSnapshot());
            put(o, "longestStallSeconds", r.longestStallSeconds());
            phase(o.putObject("normal"), r.normal());
            phase(o.putObject("whileSnapshotting"), r.snapshotting());
            phase(o.putObject("during"), r.during());
            put(o, "p99Ratio", r.p99Ratio());
            put(o, "throughputRatio", r.throughputRatio());
            if (r.error() == null) {
                o.putNull("error");
            } else {
                o.put("error", r.error());
            }
        }
        root.put("failedOperations", failedOperations());
        return root.toString();
    }

    private static void phase(ObjectNode o, Phase p) {
        put(o, "seconds", p.seconds());
        put(o, "opsPerSecond", p.opsPerSecond());
        o.put("failed", p.failed());
        latency(o.putObject("all"), p.all());
        latency(o.putObject("writes"), p.writes());
        latency(o.putObject("reads"), p.reads());
        ArrayNode f = o.putArray("failures");
        p.failures().forEach(f::add);
    }

    private static void latency(ObjectNode o, Latency l) {
        o.put("count", l.count())
                .put("p50Ms", ms(l.p50Nanos()))
                .put("p90Ms", ms(l.p90Nanos()))
                .put("p99Ms", ms(l.p99Nanos()))
                .put("maxMs", ms(l.maxNanos()));
    }

    /** Thread-safe once configured; used only to create nodes. */
    private static final ObjectMapper JSON = new ObjectMapper();

    private static void put(ObjectNode o, String field, double value) {
        if (Double.isFinite(value)) {
            o.put(field, value);
        } else {
            o.putNull(field);
        }
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }

    private static void line(StringBuilder o, String fmt, Object... args) {
        o.append(String.format(Locale.ROOT, fmt, args)).append(NL);
    }
}
