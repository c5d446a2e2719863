package io.holdfast.cli;

import io.holdfast.georep.ChangeSource;
import io.holdfast.georep.GeoOptions;
import io.holdfast.georep.GeoReplicator;
import io.holdfast.mirror.LocalChangeSource;
import io.holdfast.protocol.ChangeRecord;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code holdfast mirror SOURCE_DIR TARGET}: replicates a plain local directory tree (not on
 * Holdfast) to a target directory with the geo-replication worker, its changes captured with
 * fanotify (inotify as the fallback).
 */
@Command(
        name = "mirror",
        mixinStandardHelpOptions = true,
        description = {
            "Replicate a local directory tree (e.g. a running mail server's /var/mail) to TARGET, a directory",
            "(local, or a mounted volume): a full synchronisation first (only differing files travel), then every",
            "change as it happens, renames and deletes in order, each file atomic at the target.",
            "Changes are captured with one fanotify mark for the whole file system (needs root), else with",
            "inotify (one watch per directory). The capture lives in memory: every start begins with a full",
            "synchronisation (quick: names, sizes and times; content only where they differ).",
            "The position is kept in TARGET/.holdfast-georep/. Stop with Ctrl-C.",
            "",
            "Example:  holdfast mirror /var/mail /srv/dr/mail"
        })
final class MirrorCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SOURCE_DIR", description = "The directory tree to replicate.")
    Path source;

    @Parameters(index = "1", paramLabel = "TARGET", description = "The target directory (made if missing).")
    Path target;

    @Option(names = "--once", description = "Synchronise, apply what changed meanwhile, then exit.")
    boolean once;

    @Option(
            names = "--name",
            paramLabel = "NAME",
            description = "The session name kept at the target (default: ${DEFAULT-VALUE}).")
    String name = "mirror";

    @Option(
            names = "--bandwidth",
            paramLabel = "MiB/s",
            description = "Most file content read per second (default: no limit).")
    double bandwidthMiB;

    PrintStream out = System.out;

    @Override
    public Integer call() throws Exception {
        if (!Files.isDirectory(source)) {
            throw new IllegalArgumentException(source + " is not a directory");
        }
        if (!(bandwidthMiB >= 0) || Double.isInfinite(bandwidthMiB)) {
            throw new IllegalArgumentException("--bandwidth must be 0 (no limit) or more, got " + bandwidthMiB);
        }
        Path root = source.toRealPath();
        Path to = Files.createDirectories(target).toRealPath();
        if (to.startsWith(root) || root.startsWith(to)) {
            throw new IllegalArgumentException(
                    "the source and the target must not contain each other: " + root + ", " + to);
        }
        try (LocalChangeSource capture = LocalChangeSource.open(root)) {
            GeoReplicator r = new GeoReplicator(
                    new Restartable(capture),
                    root,
                    to,
                    GeoOptions.defaults(name).withBytesPerSecond(Math.round(bandwidthMiB * (1 << 20))));
            if (once) {
                r.runOnce();
                out.println(GeorepCommands.line(r.status()));
                return ExitCodes.OK;
            }
            GeorepCommands.serve(
                    "holdfast-mirror",
                    r,
                    "mirroring " + root + " -> " + to + " ("
                            + capture.getClass().getSimpleName() + "); Ctrl-C stops it",
                    () -> false,
                    null,
                    out);
            return ExitCodes.OK;
        }
    }

    /**
     * A local capture as a feed whose numbers never repeat across restarts: every number is offset by
     * the microseconds since the epoch when the capture opened, and everything before that counts as
     * trimmed. So a position recorded at the target by an earlier run (whose numbers this capture
     * cannot vouch for) always asks for a full synchronisation.
     */
    static final class Restartable implements ChangeSource {
        private final LocalChangeSource capture;
        private final long base;

        Restartable(LocalChangeSource capture) {
            this(capture, System.currentTimeMillis() * 1000);
        }

        Restartable(LocalChangeSource capture, long base) {
            this.capture = capture;
            this.base = base;
        }

        @Override
        public Response.ChangePage changes(long afterIndex, int maxRecords, int waitMillis) throws IOException {
            if (afterIndex < base) {
                Response.ChangePage now = capture.changes(0, 1, 0);
                return new Response.ChangePage(base + now.appliedIndex(), base, List.of(), false);
            }
            Response.ChangePage p = capture.changes(afterIndex - base, maxRecords, waitMillis);
            List<ChangeRecord> records = new ArrayList<>(p.records().size());
            for (ChangeRecord r : p.records()) {
                records.add(new ChangeRecord(base + r.index(), r.timeNanos(), r.changes()));
            }
            return new Response.ChangePage(base + p.appliedIndex(), base + p.trimmedThrough(), records, p.more());
        }
    }
}
