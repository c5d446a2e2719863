package io.holdfast.cli;

import io.holdfast.bench.Bench;
import io.holdfast.bench.BenchReport;
import io.holdfast.bench.BenchScale;
import io.holdfast.bench.Workload;
import io.holdfast.common.TreeCopier;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code holdfast bench}: runs the {@link Bench} workloads on a directory (a FUSE mount or a
 * volume path) and on a local baseline, and prints the comparison.
 */
@Command(
        name = "bench",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        subcommands = {
            CatchUpBenchCommand.class,
            LagBenchCommand.class,
            OverlayBenchCommand.class,
            NbdBenchCommand.class
        },
        description = {
            "Measure a directory against local disk: maildir delivery, sequential write and read, stat of a tree.",
            "PATH is a local directory (e.g. a FUSE mount of a volume) or VOLUME:/dir (through the Java client).",
            "The baseline is a fresh temporary directory under java.io.tmpdir unless --baseline is given.",
            "Progress goes to stderr, the table (or JSON) to stdout. Work files are deleted afterwards.",
            "'holdfast bench catch-up' measures a member catching up instead (its own cluster; see its --help);",
            "a directory named catch-up is ./catch-up here.",
            "'holdfast bench overlay' measures the overlay against mergerfs and local disk (see its --help).",
            "'holdfast bench nbd' measures a block image over NBD against nbdkit's file plugin (see its --help).",
            "",
            "Examples:  holdfast bench mail:/ --quick",
            "           holdfast bench /srv/mail --baseline /var/tmp --workloads maildir,stat-tree --json",
            "           holdfast bench catch-up --size 1GiB"
        })
final class BenchCommand implements Callable<Integer> {
    @Mixin
    ClusterOption cluster;

    @Spec
    CommandSpec spec;

    // optional for picocli only, so that the catch-up subcommand needs no PATH; call() requires it
    @Parameters(
            index = "0",
            arity = "0..1",
            paramLabel = "PATH",
            description = "Directory to measure: local path or VOLUME:/dir.")
    String path;

    @Option(
            names = "--baseline",
            paramLabel = "DIR",
            description = "Local directory to compare with (default: a fresh temporary directory).")
    Path baseline;

    @Option(
            names = "--quick",
            description = "Small scale (200 messages, 32 MiB, 500 files) instead of the TARGETS.md scale (2000, 1 GiB, "
                    + "5000).")
    boolean quick;

    @Option(names = "--json", description = "Print the report as JSON.")
    boolean json;

    @Option(
            names = "--workloads",
            split = ",",
            paramLabel = "NAME",
            description = "Workloads to run (default: all): maildir, seq-write, seq-read, stat-tree.")
    List<String> workloads;

    @Override
    public Integer call() throws Exception {
        if (path == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "Missing required parameter: 'PATH'");
        }
        Set<Workload> selected = parseWorkloads();
        ClientLogging.quietClient();
        try (Locations locations = new Locations(cluster::address, cluster.env())) {
            Path target = locations.resolve(path).path();
            Path base = baseline;
            Path temp = null;
            if (base == null) {
                temp = Files.createTempDirectory("holdfast-bench-baseline-");
                base = temp;
                System.err.println("baseline: " + temp + " (fresh temporary directory under java.io.tmpdir)");
            } else {
                System.err.println("baseline: " + base);
            }
            try {
                Bench bench = Bench.builder()
                        .target(target)
                        .baseline(base)
                        .workloads(selected)
                        .scale(quick ? BenchScale.quick() : BenchScale.defaults())
                        .progress(System.err::println)
                        .build();
                BenchReport report = bench.run();
                System.out.print(json ? report.toJson() : report.toTable());
                System.out.flush();
            } finally {
                if (temp != null) {
                    deleteQuietly(temp);
                }
            }
        }
        return 0;
    }

    private Set<Workload> parseWorkloads() {
        if (workloads == null || workloads.isEmpty()) {
            return EnumSet.allOf(Workload.class);
        }
        Set<Workload> out = EnumSet.noneOf(Workload.class);
        for (String w : workloads) {
            try {
                out.add(Workload.valueOf(w.trim().toUpperCase(Locale.ROOT).replace('-', '_')));
            } catch (IllegalArgumentException e) {
                String known = EnumSet.allOf(Workload.class).stream()
                        .map(x -> x.name().toLowerCase(Locale.ROOT).replace('_', '-'))
                        .collect(Collectors.joining(", "));
                throw new CommandLine.ParameterException(
                        spec.commandLine(), "unknown workload '" + w + "'; known: " + known);
            }
        }
        return out;
    }

    private static void deleteQuietly(Path dir) {
        try {
            new TreeCopier(CopyProgress.NONE, e -> {}).delete(dir, true);
        } catch (IOException e) {
            System.err.println("holdfast bench: could not delete " + dir + ": " + Errors.describe(e));
        }
    }
}
