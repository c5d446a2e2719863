package io.holdfast.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * What one {@link OverlayBench} run measured: a row per workload on the three systems, the
 * foreground latency with and without a merge, and notes on how it was measured.
 *
 * @param rows the workloads, in the order run; copied
 * @param foreground the latency measurement, or null when it was not run
 * @param notes lines on the setup (mergerfs options or why it is missing, caches); copied
 */
public record OverlayBenchReport(List<Row> rows, Foreground foreground, List<String> notes) {

    /**
     * Copies the lists.
     *
     * @throws NullPointerException if a list or an element is null
     */
    public OverlayBenchReport {
        rows = List.copyOf(rows);
        notes = List.copyOf(notes);
    }

    /**
     * One workload on the three systems. A system not measured has {@code NaN}.
     *
     * @param workload the workload's name ({@code maildir}, {@code untar+sync}, ...)
     * @param unit the unit of the three values ({@code msg/s}, {@code s}, ...)
     * @param higherIsBetter true for rates, false for times
     * @param local the plain local directory's value
     * @param mergerfs mergerfs's value, {@code NaN} when not measured
     * @param overlay the Holdfast overlay's value
     * @param operations what each system did (messages, files, entries)
     */
    public record Row(
            String workload,
            String unit,
            boolean higherIsBetter,
            double local,
            double mergerfs,
            double overlay,
            long operations) {
        /**
         * Checks the names.
         *
         * @throws NullPointerException if {@code workload} or {@code unit} is null
         */
        public Row {
            Objects.requireNonNull(workload, "workload");
            Objects.requireNonNull(unit, "unit");
        }

        /**
         * The overlay's speed relative to mergerfs: above 1 the overlay is faster; {@code NaN} if
         * either is missing.
         */
        public double overlayVsMergerfs() {
            return speedRatio(overlay, mergerfs);
        }

        /** The overlay's speed relative to the local directory: above 1 the overlay is faster. */
        public double overlayVsLocal() {
            return speedRatio(overlay, local);
        }

        private double speedRatio(double mine, double other) {
            if (!(mine > 0) || !(other > 0)) {
                return Double.NaN;
            }
            return higherIsBetter ? mine / other : other / mine;
        }
    }

    /**
     * One phase of the foreground: cycles of a 4 KiB maildir delivery (create, write, fsync,
     * rename) and a read (stat and read of a random file of the merged set) through the overlay.
     *
     * @param seconds how long the phase lasted
     * @param deliver latency of the deliveries
     * @param read latency of the reads
     * @param failed operations that failed
     * @param failures the first few failures' messages; copied
     */
    public record Phase(
            double seconds,
            CatchUpReport.Latency deliver,
            CatchUpReport.Latency read,
            long failed,
            List<String> failures) {
        /** Copies the failures. */
        public Phase {
            failures = List.copyOf(failures);
        }
    }

    /**
     * What the merge did while the foreground was measured.
     *
     * @param files files copied into the lower layer
     * @param bytes bytes copied
     * @param seconds how long the merge ran
     * @param passes passes over the upper layer
     * @param complete whether the merge ended complete (with the foreground writing new files
     *     into the upper layer, later passes keep finding them; it may end incomplete)
     * @param errors entries that failed
     * @param bytesPerSecondLimit the merge's content rate limit (0: none)
     * @param opsPerSecondLimit the merge's operation rate limit (0: none)
     */
    public record MergeRun(
            long files,
            long bytes,
            double seconds,
            int passes,
            boolean complete,
            long errors,
            long bytesPerSecondLimit,
            long opsPerSecondLimit) {
        /** Bytes per second achieved over the whole merge. */
        public double bytesPerSecond() {
            return seconds > 0 ? bytes / seconds : 0;
        }
    }

    /**
     * Foreground latency through the overlay, idle and during a merge.
     *
     * @param rate foreground cycles per second
     * @param upperFiles files in the upper layer before the merge
     * @param upperBytes their bytes
     * @param idle the phase without merge
     * @param merging the phase while the merge ran
     * @param merge the merge
     */
    public record Foreground(int rate, long upperFiles, long upperBytes, Phase idle, Phase merging, MergeRun merge) {
        /**
         * Checks the parts.
         *
         * @throws NullPointerException if a phase or the merge is null
         */
        public Foreground {
            Objects.requireNonNull(idle, "idle");
            Objects.requireNonNull(merging, "merging");
            Objects.requireNonNull(merge, "merge");
        }

        /** p99 of deliveries during the merge over p99 idle ({@code NaN} without samples); target ≤ 2. */
        public double deliverP99Ratio() {
            return ratio(merging.deliver().p99Nanos(), idle.deliver().p99Nanos());
        }

        /** p99 of reads during the merge over p99 idle ({@code NaN} without samples); target ≤ 2. */
        public double readP99Ratio() {
            return ratio(merging.read().p99Nanos(), idle.read().p99Nanos());
        }

        private static double ratio(long a, long b) {
            return a > 0 && b > 0 ? (double) a / b : Double.NaN;
        }
    }

    /**
     * An aligned plain-text report: the workload table (each system's value, the overlay's speed
     * relative to mergerfs and to local), the foreground latency table and the merge's rate, then
     * the notes. Ends with a line separator.
     */
    public String toTable() {
        String nl = System.lineSeparator();
        StringBuilder out = new StringBuilder();
        List<String[]> t = new ArrayList<>();
        t.add(new String[] {"workload", "local", "mergerfs", "overlay", "overlay/mergerfs", "overlay/local"});
        for (Row r : rows) {
            t.add(new String[] {
                r.workload() + " (" + r.unit() + ", " + (r.higherIsBetter() ? "higher" : "lower") + " is better)",
                number(r.local()),
                number(r.mergerfs()),
                number(r.overlay()),
                ratio(r.overlayVsMergerfs()),
                ratio(r.overlayVsLocal())
            });
        }
        align(t, out);
        out.append("Ratios are the overlay's speed over the other's (for times: the other's time over the overlay's):")
                .append(nl)
                .append("above 1.00x the overlay is faster. Issue target: overlay >= 1.00x mergerfs.")
                .append(nl);
        if (foreground != null) {
            Foreground f = foreground;
            out.append(nl)
                    .append(String.format(
                            Locale.ROOT,
                            "Foreground through the overlay, %d cycles/s; upper layer of %d files, %s:",
                            f.rate(),
                            f.upperFiles(),
                            mib(f.upperBytes())))
                    .append(nl);
            List<String[]> l = new ArrayList<>();
            l.add(new String[] {"operation", "idle p50", "idle p99", "merge p50", "merge p99", "p99 merge/idle"});
            l.add(latencyRow(
                    "deliver 4 KiB+fsync+rename",
                    f.idle().deliver(),
                    f.merging().deliver()));
            l.add(latencyRow(
                    "stat+read random file", f.idle().read(), f.merging().read()));
            align(l, out);
            out.append(String.format(
                            Locale.ROOT,
                            "Phases: idle %.1f s (%d ops, %d failed), merge %.1f s (%d ops, %d failed). "
                                    + "Issue target: p99 merge/idle <= 2.",
                            f.idle().seconds(),
                            f.idle().deliver().count() + f.idle().read().count(),
                            f.idle().failed(),
                            f.merging().seconds(),
                            f.merging().deliver().count() + f.merging().read().count(),
                            f.merging().failed()))
                    .append(nl);
            for (String failure : f.idle().failures()) {
                out.append("  idle failure: ").append(failure).append(nl);
            }
            for (String failure : f.merging().failures()) {
                out.append("  merge failure: ").append(failure).append(nl);
            }
            MergeRun m = f.merge();
            out.append(String.format(
                            Locale.ROOT,
                            "Merge (OverlayMerge at its defaults: %s, %s): %d files, %s in %.1f s = %s, "
                                    + "%d passes, %s, %d errors.",
                            m.bytesPerSecondLimit() == 0 ? "no byte limit" : mib(m.bytesPerSecondLimit()) + "/s",
                            m.opsPerSecondLimit() == 0 ? "no operation limit" : m.opsPerSecondLimit() + " ops/s",
                            m.files(),
                            mib(m.bytes()),
                            m.seconds(),
                            mib((long) m.bytesPerSecond()) + "/s",
                            m.passes(),
                            m.complete() ? "complete" : "incomplete (the foreground kept adding files)",
                            m.errors()))
                    .append(nl);
        }
        if (!notes.isEmpty()) {
            out.append(nl);
            for (String n : notes) {
                out.append("Note: ").append(n).append(nl);
            }
        }
        return out.toString();
    }

    /**
     * The report as JSON: {@code {"rows":[{"workload", "unit", "higherIsBetter", "local",
     * "mergerfs", "overlay", "overlayVsMergerfs", "overlayVsLocal", "operations"}...],
     * "foreground":{"rate", "upperFiles", "upperBytes", "idle":{...}, "merge":{...},
     * "mergeRun":{...}, "deliverP99Ratio", "readP99Ratio"}, "notes":[...]}}; latencies in
     * nanoseconds; a value not measured is {@code null}, as is {@code foreground} when not run.
     */
    public String toJson() {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode list = root.putArray("rows");
        for (Row r : rows) {
            ObjectNode o = list.addObject()
                    .put("workload", r.workload())
                    .put("unit", r.unit())
                    .put("higherIsBetter", r.higherIsBetter());
            putNumber(o, "local", r.local());
            putNumber(o, "mergerfs", r.mergerfs());
            putNumber(o, "overlay", r.overlay());
            putNumber(o, "overlayVsMergerfs", r.overlayVsMergerfs());
            putNumber(o, "overlayVsLocal", r.overlayVsLocal());
            o.put("operations", r.operations());
        }
        if (foreground == null) {
            root.putNull("foreground");
        } else {
            Foreground f = foreground;
            ObjectNode o = root.putObject("foreground")
                    .put("rate", f.rate())
                    .put("upperFiles", f.upperFiles())
                    .put("upperBytes", f.upperBytes());
            phase(o.putObject("idle"), f.idle());
            phase(o.putObject("merge"), f.merging());
            MergeRun m = f.merge();
            o.putObject("mergeRun")
                    .put("files", m.files())
                    .put("bytes", m.bytes())
                    .put("seconds", m.seconds())
                    .put("bytesPerSecond", m.bytesPerSecond())
                    .put("passes", m.passes())
                    .put("complete", m.complete())
                    .put("errors", m.errors())
                    .put("bytesPerSecondLimit", m.bytesPerSecondLimit())
                    .put("opsPerSecondLimit", m.opsPerSecondLimit());
            putNumber(o, "deliverP99Ratio", f.deliverP99Ratio());
            putNumber(o, "readP99Ratio", f.readP99Ratio());
        }
        ArrayNode n = root.putArray("notes");
        notes.forEach(n::add);
        return root.toString();
    }

    /** Thread-safe once configured; used only to create nodes. */
    private static final ObjectMapper JSON = new ObjectMapper();

    private static void phase(ObjectNode o, Phase p) {
        o.put("seconds", p.seconds());
        latency(o.putObject("deliver"), p.deliver());
        latency(o.putObject("read"), p.read());
        o.put("failed", p.failed());
        ArrayNode f = o.putArray("failures");
        p.failures().forEach(f::add);
    }

    private static void latency(ObjectNode o, CatchUpReport.Latency l) {
        o.put("count", l.count())
                .put("p50Nanos", l.p50Nanos())
                .put("p90Nanos", l.p90Nanos())
                .put("p99Nanos", l.p99Nanos())
                .put("maxNanos", l.maxNanos());
    }

    private static String[] latencyRow(String name, CatchUpReport.Latency idle, CatchUpReport.Latency merge) {
        double ratio = idle.p99Nanos() > 0 && merge.p99Nanos() > 0 ? (double) merge.p99Nanos() / idle.p99Nanos() : 0;
        return new String[] {
            name,
            millis(idle.count(), idle.p50Nanos()),
            millis(idle.count(), idle.p99Nanos()),
            millis(merge.count(), merge.p50Nanos()),
            millis(merge.count(), merge.p99Nanos()),
            ratio > 0 ? String.format(Locale.ROOT, "%.2fx", ratio) : "-"
        };
    }

    private static String millis(long count, long nanos) {
        return count == 0 ? "-" : String.format(Locale.ROOT, "%.2f ms", nanos / 1e6);
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1 << 20));
    }

    private static void putNumber(ObjectNode o, String field, double value) {
        if (Double.isFinite(value)) {
            o.put(field, value);
        } else {
            o.putNull(field);
        }
    }

    static String number(double v) {
        if (Double.isNaN(v)) {
            return "-";
        }
        String pattern = v >= 100 ? "%.0f" : v >= 1 ? "%.2f" : "%.3f";
        return String.format(Locale.ROOT, pattern, v);
    }

    static String ratio(double r) {
        return Double.isNaN(r) ? "-" : String.format(Locale.ROOT, "%.2fx", r);
    }

    /** Appends {@code rows} with columns padded: the first left-aligned, the others right-aligned. */
    static void align(List<String[]> rows, StringBuilder out) {
        int[] widths = new int[rows.getFirst().length];
        for (String[] row : rows) {
            for (int c = 0; c < row.length; c++) {
                widths[c] = Math.max(widths[c], row[c].length());
            }
        }
        for (String[] row : rows) {
            StringBuilder line = new StringBuilder();
            for (int c = 0; c < row.length; c++) {
                String pad = " ".repeat(widths[c] - row[c].length());
                line.append(c == 0 ? row[c] + pad : pad + row[c]);
                if (c < row.length - 1) {
                    line.append("  ");
                }
            }
            out.append(line.toString().stripTrailing()).append(System.lineSeparator());
        }
    }
}
