package io.holdfast.cli;

import io.holdfast.bench.CatchUpBench;
import io.holdfast.bench.CatchUpBenchRun;
import io.holdfast.bench.CatchUpReport;
import io.holdfast.server.NodeOptions;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code holdfast bench catch-up}: parses the options into {@link CatchUpBench.Settings} and
 * runs {@link CatchUpBench} through {@link CatchUpBenchRun} (an embedded cluster, a volume
 * loaded with data, and a replica replaced while a foreground client runs), then prints its
 * {@link CatchUpReport}.
 */
@Command(
        name = "catch-up",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Measure how a new member catches up from a snapshot, and what it costs the foreground.",
            "",
            "Starts 3 nodes and a spare node in this process (mutual TLS, loopback), loads a 3-replica volume",
            "with --size of data, replaces a member of a second, 64 MiB volume once unmeasured (so the JIT has",
            "compiled the catch-up code), then per catch-up rate: runs a small-file client (create a 4 KiB file, "
                    + "write,",
            "getattr, readdir, one request at a time) for --baseline-seconds (normal), has the members take a",
            "snapshot, and replaces the third node by the spare (later rounds: back) while the client keeps",
            "running (during). Reports catch-up time and rate, the snapshot's size and the client's p50/p99/max",
            "latency normal vs during. Progress goes to stderr, the report to stdout. Needs about 12x --size of",
            "free disk space, plus 3x per round and 1 GiB; everything is deleted afterwards unless --keep.",
            "",
            "Examples:  holdfast bench catch-up --quick",
            "           holdfast bench catch-up --size 1GiB --rates 8,32,128 --json"
        },
        exitCodeList = {"1:a replacement failed, a foreground request failed, or the bench could not run"})
final class CatchUpBenchCommand implements Callable<Integer> {
    /** Default --size: 1 GiB (issue 4 asks for catch-up of at least 1 GiB). */
    static final long DEFAULT_SIZE = 1L << 30;
    /** --size with --quick: 64 MiB. */
    static final long QUICK_SIZE = 64L << 20;

    static final int DEFAULT_BASELINE_SECONDS = 20;
    static final int QUICK_BASELINE_SECONDS = 10;

    @Spec
    CommandSpec spec;

    @Option(
            names = "--size",
            paramLabel = "SIZE",
            converter = SizeConverter.class,
            description = "Data to load, e.g. 1GiB, 512MiB (binary units; default: 1GiB, with --quick 64MiB).")
    Long size;

    @Option(names = "--quick", description = "64 MiB and a 10 s baseline instead of 1 GiB and 20 s.")
    boolean quick;

    @Option(
            names = "--rate",
            paramLabel = "MiB/s",
            description = "The new member's catch-up rate (default: the server's, currently ${DEFAULT-VALUE}).",
            defaultValue = "" + (NodeOptions.DEFAULT_CATCH_UP_RATE >> 20))
    double rate;

    @Option(
            names = "--rates",
            split = ",",
            paramLabel = "MiB/s",
            description =
                    "One replacement per rate, back and forth between two nodes, e.g. 8,32,128 (instead of --rate; at "
                            + "most "
                            + CatchUpBench.Settings.MAX_ROUNDS + ").")
    List<Double> rates;

    @Option(
            names = "--baseline-seconds",
            paramLabel = "N",
            description = "Seconds of foreground measured before each replacement (default: 20, with --quick 10).")
    Integer baselineSeconds;

    @Option(
            names = "--snapshot-threshold",
            paramLabel = "ENTRIES",
            defaultValue = "20000",
            description =
                    "Applied entries between the nodes' automatic snapshots (default: ${DEFAULT-VALUE}, as holdfast "
                            + "cluster init)."
                            + " The bench takes the snapshots the catch-up needs itself.")
    long snapshotThreshold;

    @Option(
            names = "--dir",
            paramLabel = "DIR",
            description = "An empty (or new) directory for the nodes' data (default: a fresh temporary directory).")
    Path dir;

    @Option(names = "--keep", description = "Keep the directory afterwards (the nodes' data and nodes.log).")
    boolean keep;

    @Option(names = "--json", description = "Print the report as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        CatchUpBench.Settings asked = settings(null);
        Path work;
        try {
            work = CatchUpBenchRun.prepareWorkDirectory(dir);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        CatchUpReport report = CatchUpBenchRun.run(asked.withDir(work), keep, System.err);
        System.out.print(json ? report.toJson() + System.lineSeparator() : report.toText());
        System.out.flush();
        return report.completed() && report.failedOperations() == 0 ? 0 : 1;
    }

    /**
     * The settings the options ask for, in {@code work}.
     *
     * @throws CommandLine.ParameterException for contradicting or out-of-range options
     */
    CatchUpBench.Settings settings(Path work) {
        if (rates != null && spec.commandLine().getParseResult().hasMatchedOption("--rate")) {
            throw new CommandLine.ParameterException(spec.commandLine(), "give --rate or --rates, not both");
        }
        List<Double> mib = rates == null || rates.isEmpty() ? List.of(rate) : rates;
        for (double r : mib) {
            if (!(r > 0) || Double.isInfinite(r) || r > 1 << 20) {
                throw new CommandLine.ParameterException(
                        spec.commandLine(), "a catch-up rate must be a positive number of MiB/s, got " + r);
            }
        }
        if (mib.size() > CatchUpBench.Settings.MAX_ROUNDS) {
            throw new CommandLine.ParameterException(
                    spec.commandLine(), "at most " + CatchUpBench.Settings.MAX_ROUNDS + " rates, got " + mib.size());
        }
        long bytes = size != null ? size : quick ? QUICK_SIZE : DEFAULT_SIZE;
        int seconds =
                baselineSeconds != null ? baselineSeconds : quick ? QUICK_BASELINE_SECONDS : DEFAULT_BASELINE_SECONDS;
        try {
            return new CatchUpBench.Settings(
                    work,
                    bytes,
                    mib.stream()
                            .map(r -> Math.max(1, Math.round(r * (1 << 20))))
                            .toList(),
                    seconds,
                    snapshotThreshold);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    /**
     * Parses sizes: a number with an optional binary unit (B, K/KiB, M/MiB, G/GiB, T/TiB), e.g. {@code 1GiB}, {@code
     * 1.5G}.
     */
    static final class SizeConverter implements CommandLine.ITypeConverter<Long> {
        private static final Pattern SIZE =
                Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]?)(?:i?b)?", Pattern.CASE_INSENSITIVE);

        @Override
        public Long convert(String value) {
            Matcher m = SIZE.matcher(value.trim());
            if (!m.matches()) {
                throw new CommandLine.TypeConversionException(
                        "'" + value + "' is not a size such as 1GiB, 512MiB or 4096");
            }
            int shift = switch (m.group(2).toLowerCase(Locale.ROOT)) {
                case "k" -> 10;
                case "m" -> 20;
                case "g" -> 30;
                case "t" -> 40;
                default -> 0;
            };
            double bytes = Double.parseDouble(m.group(1)) * Math.pow(2, shift);
            if (bytes < 1 || bytes > Long.MAX_VALUE / 2) {
                throw new CommandLine.TypeConversionException("'" + value + "' is out of range");
            }
            return (long) bytes;
        }
    }
}
