package io.holdfast.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * What one {@link NbdBench} run measured: a row per workload, on nbdkit's file plugin (the
 * baseline) and on the export, in the same run.
 *
 * @param export the export's URI
 * @param size bytes of the fio region and of each copy
 * @param seconds how long each fio workload ran (after a 2 s ramp)
 * @param rows the workloads, in the order run; copied
 */
public record NbdBenchReport(String export, long size, int seconds, List<Row> rows) {
    /** Issue 14's target: each workload at least half the baseline's rate. */
    public static final double TARGET_RATIO = 0.5;

    /**
     * Copies the rows.
     *
     * @throws NullPointerException if {@code export}, the list or a row is null
     */
    public NbdBenchReport {
        Objects.requireNonNull(export, "export");
        rows = List.copyOf(rows);
    }

    /**
     * One workload on both.
     *
     * @param workload what ran
     * @param unit {@code IOPS} or {@code MiB/s} (higher is better for both)
     * @param baseline nbdkit-file's rate
     * @param holdfast the export's rate
     */
    public record Row(String workload, String unit, double baseline, double holdfast) {
        /**
         * Checks the names.
         *
         * @throws NullPointerException if {@code workload} or {@code unit} is null
         */
        public Row {
            Objects.requireNonNull(workload, "workload");
            Objects.requireNonNull(unit, "unit");
        }

        /** The export's rate over the baseline's ({@code NaN} if the baseline measured nothing). */
        public double ratio() {
            return baseline > 0 ? holdfast / baseline : Double.NaN;
        }
    }

    /** The report as an aligned text table with the ratios and the target. */
    public String toTable() {
        String nl = System.lineSeparator();
        List<String[]> t = new ArrayList<>();
        t.add(new String[] {"workload", "nbdkit-file", "holdfast", "ratio", "target"});
        for (Row r : rows) {
            t.add(new String[] {
                r.workload() + " (" + r.unit() + ")",
                OverlayBenchReport.number(r.baseline()),
                OverlayBenchReport.number(r.holdfast()),
                OverlayBenchReport.ratio(r.ratio()),
                r.ratio() >= TARGET_RATIO ? "met" : "missed"
            });
        }
        StringBuilder out = new StringBuilder();
        OverlayBenchReport.align(t, out);
        out.append(String.format(
                        Locale.ROOT,
                        "export %s; %d MiB per copy and fio region, fio %d s per workload; target: ratio >= %.2fx",
                        export,
                        size >> 20,
                        seconds,
                        TARGET_RATIO))
                .append(nl);
        return out.toString();
    }

    /** The report as one line of JSON. */
    public String toJson() {
        ObjectNode root = new ObjectMapper().createObjectNode();
        root.put("export", export).put("size", size).put("seconds", seconds).put("targetRatio", TARGET_RATIO);
        ArrayNode list = root.putArray("rows");
        for (Row r : rows) {
            ObjectNode o = list.addObject().put("workload", r.workload()).put("unit", r.unit());
            o.put("nbdkitFile", r.baseline()).put("holdfast", r.holdfast());
            if (Double.isFinite(r.ratio())) {
                o.put("ratio", r.ratio());
            } else {
                o.putNull("ratio");
            }
        }
        return root.toString();
    }
}
