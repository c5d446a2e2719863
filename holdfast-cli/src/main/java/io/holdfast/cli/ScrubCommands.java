package io.holdfast.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.client.HoldfastClient;
import io.holdfast.common.Units;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.ScrubStats;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code holdfast scrub start|pause|status}. */
@Command(
        name = "scrub",
        mixinStandardHelpOptions = true,
        description = {
            "Check every member's copy of a volume for silent damage, and repair it.",
            "",
            "Each member of a volume runs a scrubber. A pass re-reads every block of every file at a bounded",
            "rate (default 16 MiB/s per member) and checks it against the CRC32C stored when it was written;",
            "a bad block is rewritten with a healthy member's copy, which is accepted only if it matches that",
            "checksum. Then the members compare digests of their metadata (per directory) at one point of the",
            "log, a scrub mark. Reads never return damaged bytes: they fail with EIO until the block is repaired.",
            "",
            "A member that differs from the majority, or holds a block no member can repair, takes itself out",
            "of service (QUARANTINED): it refuses reads, clients use the other members, and it rebuilds itself",
            "from a healthy member's snapshot and its own log. A member is never taken out if that would leave",
            "less than a majority in service. Passes also run by themselves, 24 hours after the previous one.",
            "",
            "Scrub state is per member, so these commands ask every member of the volume (admin only).",
            "",
            "Examples:",
            "  holdfast scrub start mail --wait        scrub volume mail now, show progress until done",
            "  holdfast scrub start --rate 64          all volumes, at 64 MiB/s per member",
            "  holdfast scrub pause mail               stop scrub I/O on mail (and automatic passes)",
            "  holdfast scrub status --json | jq '.[].members[] | {member, state, badBlocks, repairedBlocks}'"
        },
        exitCodeList = {ScrubCommands.EXIT_DOWN_HELP, ScrubCommands.EXIT_DAMAGED_HELP},
        subcommands = {ScrubCommands.Start.class, ScrubCommands.Pause.class, ScrubCommands.Status.class})
final class ScrubCommands {
    /** Exit status when a member is quarantined or has unrepairable blocks. */
    static final int EXIT_DAMAGED = 4;
    /** Exit status when a member did not answer. */
    static final int EXIT_DOWN = 3;
    /** {@link #EXIT_DOWN} in every scrub command's --help. */
    static final String EXIT_DOWN_HELP = "3:a member did not answer (shown DOWN)";
    /** {@link #EXIT_DAMAGED} in every scrub command's --help. */
    static final String EXIT_DAMAGED_HELP =
            "4:a member is quarantined or has blocks that could not be repaired (wins over 3)";

    private ScrubCommands() {}

    /** The options every scrub command has: the cluster, and an optional volume. */
    abstract static class VolumeArgument {
        @Mixin
        ClusterOption cluster;

        @Parameters(
                index = "0",
                arity = "0..1",
                paramLabel = "VOLUME",
                description = "The volume (default: every volume).")
        String volume;

        List<String> volumes(HoldfastClient client) throws Exception {
            ClusterMap map = client.refreshMap();
            if (volume == null) {
                return new ArrayList<>(map.volumes().keySet());
            }
            ClusterMap.checkVolumeName(volume);
            if (map.volume(volume).isEmpty()) {
                throw new IllegalArgumentException(
                        "no volume " + volume + "; volumes are " + map.volumes().keySet());
            }
            return List.of(volume);
        }
    }

    @Command(
            name = "start",
            mixinStandardHelpOptions = true,
            exitCodeList = {EXIT_DOWN_HELP, EXIT_DAMAGED_HELP},
            description = {
                "Start a scrub pass on every member now (a running pass goes on; a paused one resumes).",
                "",
                "Examples:",
                "  holdfast scrub start mail --wait",
                "  holdfast scrub start mail --rate 100    faster, when the disks have room"
            })
    static final class Start extends VolumeArgument implements Callable<Integer> {
        @Option(
                names = "--rate",
                paramLabel = "MiB/s",
                description = "Pace of each member's scrubber, in MiB per second (e.g. 16, 0.5); kept until the node "
                        + "restarts.")
        Double rateMiB;

        @Option(
                names = "--wait",
                description = "Show progress until every member has finished the pass, then the status.")
        boolean waitForEnd;

        @Override
        public Integer call() throws Exception {
            long rate = 0;
            if (rateMiB != null) {
                if (!(rateMiB > 0) || rateMiB.isInfinite() || rateMiB * (1 << 20) >= Long.MAX_VALUE) {
                    throw new IllegalArgumentException("--rate must be a positive number of MiB/s, got " + rateMiB);
                }
                rate = Math.max(1, Math.round(rateMiB * (1 << 20)));
            }
            try (HoldfastClient client = cluster.connect()) {
                List<String> names = volumes(client);
                Map<String, Map<String, Response>> started = new LinkedHashMap<>();
                for (String v : names) {
                    started.put(
                            v,
                            client.probe()
                                    .queryMembers(
                                            v, new Request.ScrubControl(Request.ScrubControl.Action.START, rate)));
                }
                if (!waitForEnd) {
                    for (var e : started.entrySet()) {
                        System.out.println("started scrub of " + e.getKey() + " on "
                                + e.getValue().size() + " members" + (rate > 0 ? " at " + Units.rate(rate) : ""));
                    }
                    return print(started, System.out);
                }
                Map<String, Map<String, Response>> done = awaitPasses(client, started);
                return print(done, System.out);
            }
        }

        /** Polls every member once a second until each has completed a pass more than when started. */
        private static Map<String, Map<String, Response>> awaitPasses(
                HoldfastClient client, Map<String, Map<String, Response>> started) throws Exception {
            boolean terminal = System.console() != null;
            long lastLine = 0;
            while (true) {
                Map<String, Map<String, Response>> now = new LinkedHashMap<>();
                boolean finished = true;
                StringBuilder line = new StringBuilder();
                for (var v : started.entrySet()) {
                    Map<String, Response> status = client.probe()
                            .queryMembers(v.getKey(), new Request.ScrubControl(Request.ScrubControl.Action.STATUS, 0));
                    now.put(v.getKey(), status);
                    line.append(line.isEmpty() ? "" : "  ").append(v.getKey()).append(":");
                    for (var m : status.entrySet()) {
                        Response before = v.getValue().get(m.getKey());
                        line.append(' ').append(progress(m.getValue()));
                        if (m.getValue() instanceof Response.ScrubStatus s
                                && before instanceof Response.ScrubStatus b
                                && !s.stats().quarantined()
                                && (s.stats().passes() <= b.stats().passes()
                                        || s.stats().state() == ScrubStats.State.RUNNING)) {
                            finished = false;
                        }
                    }
                }
                if (terminal) {
                    System.out.print("\r" + line + "   ");
                    System.out.flush();
                } else if (System.nanoTime() - lastLine > 10_000_000_000L || finished) {
                    System.out.println(line);
                    lastLine = System.nanoTime();
                }
                if (finished) {
                    if (terminal) {
                        System.out.println();
                    }
                    return now;
                }
                Thread.sleep(1000); // the members scrub on their own; asking once a second is how we follow them
            }
        }

        private static String progress(Response r) {
            if (!(r instanceof Response.ScrubStatus s)) {
                return "down";
            }
            ScrubStats st = s.stats();
            if (st.quarantined()) {
                return "QUARANTINED";
            }
            return pass(st) + (st.state() == ScrubStats.State.PAUSED ? "(paused)" : "");
        }
    }

    @Command(
            name = "pause",
            mixinStandardHelpOptions = true,
            exitCodeList = {EXIT_DOWN_HELP, EXIT_DAMAGED_HELP},
            description = {
                "Pause scrubbing on every member: no scrub I/O and no automatic passes until 'scrub start'",
                "(a pause holds across restarts). A paused member also stops computing the digests other",
                "members compare with.",
                "",
                "Example:  holdfast scrub pause mail"
            })
    static final class Pause extends VolumeArgument implements Callable<Integer> {
        @Override
        public Integer call() throws Exception {
            try (HoldfastClient client = cluster.connect()) {
                Map<String, Map<String, Response>> all = new LinkedHashMap<>();
                for (String v : volumes(client)) {
                    all.put(
                            v,
                            client.probe()
                                    .queryMembers(v, new Request.ScrubControl(Request.ScrubControl.Action.PAUSE, 0)));
                }
                return print(all, System.out);
            }
        }
    }

    @Command(
            name = "status",
            mixinStandardHelpOptions = true,
            exitCodeList = {EXIT_DOWN_HELP, EXIT_DAMAGED_HELP},
            description = {
                "Show each member's scrubber: state, progress of the pass, what it found and repaired.",
                "PASS is how far the current or last pass got ('never run' if the member has not started one);",
                "counters count since the member's node started.",
                "",
                "Examples:",
                "  holdfast scrub status mail",
                "  holdfast scrub status --json"
            })
    static final class Status extends VolumeArgument implements Callable<Integer> {
        @Option(
                names = "--json",
                description = "Print JSON (a list of volumes with their members) instead of the table.")
        boolean json;

        /**
         * A member as {@code --json} shows it: its stats, or the error if it did not answer.
         * {@code progress} (0-1) is null if the member has not started a pass ({@link #neverRun}).
         */
        record Member(
                String member,
                boolean up,
                String state,
                boolean quarantined,
                String quarantine,
                Double progress,
                long passes,
                long passBytesDone,
                long passBytesTotal,
                long bytesVerified,
                long blocksVerified,
                long badBlocks,
                long repairedBlocks,
                long unrepairableBlocks,
                long divergentDirectories,
                long lastMark,
                String lastPassStart,
                String lastPassEnd,
                String nextPass,
                long rateBytesPerSecond,
                String lastProblem,
                String error) {
            static Member of(String member, Response r) {
                if (!(r instanceof Response.ScrubStatus s)) {
                    return new Member(
                            member,
                            false,
                            null,
                            false,
                            null,
                            null,
                            0,
                            0,
                            0,
                            0,
                            0,
                            0,
                            0,
                            0,
                            0,
                            0,
                            null,
                            null,
                            null,
                            0,
                            null,
                            String.valueOf(r));
                }
                ScrubStats t = s.stats();
                return new Member(
                        member,
                        true,
                        t.state().name().toLowerCase(Locale.ROOT),
                        t.quarantined(),
                        t.quarantine(),
                        neverRun(t) ? null : t.progress(),
                        t.passes(),
                        t.passBytesDone(),
                        t.passBytesTotal(),
                        t.bytesVerified(),
                        t.blocksVerified(),
                        t.badBlocks(),
                        t.repairedBlocks(),
                        t.unrepairableBlocks(),
                        t.divergentDirectories(),
                        t.lastMark(),
                        instant(t.lastPassStartMillis()),
                        instant(t.lastPassEndMillis()),
                        instant(t.nextPassMillis()),
                        t.rateBytesPerSecond(),
                        t.lastProblem(),
                        null);
            }
        }

        /** A volume as {@code --json} shows it. */
        record Volume(String volume, List<Member> members) {}

        @Override
        public Integer call() throws Exception {
            try (HoldfastClient client = cluster.connect()) {
                Map<String, Map<String, Response>> all = new LinkedHashMap<>();
                for (String v : volumes(client)) {
                    all.put(
                            v,
                            client.probe()
                                    .queryMembers(v, new Request.ScrubControl(Request.ScrubControl.Action.STATUS, 0)));
                }
                if (json) {
                    List<Volume> out = new ArrayList<>();
                    all.forEach((v, members) -> out.add(new Volume(
                            v,
                            members.entrySet().stream()
                                    .map(e -> Member.of(e.getKey(), e.getValue()))
                                    .toList())));
                    System.out.println(
                            new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(out));
                    return exitCode(all);
                }
                return print(all, System.out);
            }
        }
    }

    /**
     * Whether the member has not started a pass (none recorded, none running): its progress is
     * then no measure of anything ({@link ScrubStats#progress()} says 1).
     */
    static boolean neverRun(ScrubStats t) {
        return t.state() != ScrubStats.State.RUNNING && t.lastPassStartMillis() == 0 && t.passBytesTotal() <= 0;
    }

    /** How far the current or last pass got, {@code 42%}, or {@code never run}. */
    static String pass(ScrubStats t) {
        return neverRun(t) ? "never run" : String.format(Locale.ROOT, "%.0f%%", 100 * t.progress());
    }

    private static String instant(long millis) {
        return millis == 0 ? null : Instant.ofEpochMilli(millis).toString();
    }

    /** Prints the status table of each volume; returns the exit status. */
    static int print(Map<String, Map<String, Response>> all, PrintStream out) {
        if (all.isEmpty()) {
            out.println("no volumes");
        }
        DateTimeFormatter time =
                DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm'Z'").withZone(ZoneOffset.UTC);
        for (var v : all.entrySet()) {
            out.println("volume " + v.getKey());
            out.printf(
                    "  %-22s %-11s %9s %10s %5s %9s %13s %10s  %-18s %s%n",
                    "MEMBER",
                    "STATE",
                    "PASS",
                    "CHECKED",
                    "BAD",
                    "REPAIRED",
                    "UNREPAIRABLE",
                    "DIVERGENT",
                    "LAST PASS ENDED",
                    "NEXT PASS");
            List<String> notes = new ArrayList<>();
            for (var m : v.getValue().entrySet()) {
                if (!(m.getValue() instanceof Response.ScrubStatus s)) {
                    out.printf("  %-22s DOWN (%s)%n", m.getKey(), describe(m.getValue()));
                    continue;
                }
                ScrubStats t = s.stats();
                String state =
                        t.quarantined() ? "QUARANTINED" : t.state().name().toLowerCase(Locale.ROOT);
                out.printf(
                        Locale.ROOT,
                        "  %-22s %-11s %9s %10s %5d %9d %13d %10d  %-18s %s%n",
                        m.getKey(),
                        state,
                        pass(t),
                        Units.size(t.bytesVerified()),
                        t.badBlocks(),
                        t.repairedBlocks(),
                        t.unrepairableBlocks(),
                        t.divergentDirectories(),
                        t.lastPassEndMillis() == 0 ? "never" : time.format(Instant.ofEpochMilli(t.lastPassEndMillis())),
                        t.nextPassMillis() == 0
                                ? (t.state() == ScrubStats.State.PAUSED ? "paused" : "on request")
                                : "in "
                                        + human(Duration.ofMillis(
                                                Math.max(0, t.nextPassMillis() - System.currentTimeMillis()))));
                if (t.quarantined()) {
                    notes.add(m.getKey() + " is out of service: " + t.quarantine());
                }
                if (!t.lastProblem().isEmpty() && !t.lastProblem().equals(t.quarantine())) {
                    notes.add(m.getKey() + " last found: " + t.lastProblem());
                }
            }
            notes.forEach(n -> out.println("  " + n));
        }
        return exitCode(all);
    }

    private static int exitCode(Map<String, Map<String, Response>> all) {
        boolean down = false;
        boolean damaged = false;
        for (Map<String, Response> members : all.values()) {
            for (Response r : members.values()) {
                if (r instanceof Response.ScrubStatus s) {
                    damaged |= s.stats().quarantined() || s.stats().unrepairableBlocks() > 0;
                } else {
                    down = true;
                }
            }
        }
        return damaged ? EXIT_DAMAGED : down ? EXIT_DOWN : 0;
    }

    private static String describe(Response r) {
        return r instanceof Response.Error e ? e.errno() + ": " + e.message() : String.valueOf(r);
    }

    private static String human(Duration d) {
        if (d.toDays() > 0) {
            return d.toDays() + " d " + d.toHoursPart() + " h";
        }
        if (d.toHours() > 0) {
            return d.toHours() + " h " + d.toMinutesPart() + " min";
        }
        return Math.max(1, d.toMinutes()) + " min";
    }
}
