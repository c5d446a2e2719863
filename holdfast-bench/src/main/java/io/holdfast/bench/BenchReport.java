package io.holdfast.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The results of one {@link Bench} run, one per workload in {@link Workload} order.
 *
 * @param results the results; copied, unmodifiable
 */
public record BenchReport(List<BenchResult> results) {

    /**
     * Copies the list.
     *
     * @throws NullPointerException if {@code results} or an element is null
     */
    public BenchReport {
        results = List.copyOf(results);
    }

    /**
     * An aligned plain-text table, one row per workload with columns workload, Holdfast
     * (target), local (baseline), ratio and the {@code TARGETS.md} goal, followed by notes on
     * units and caches. Ends with a line separator.
     */
    public String toTable() {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"workload", "Holdfast", "local", "ratio", "TARGETS.md target"});
        for (BenchResult r : results) {
            boolean warm = r.workload() == Workload.SEQ_READ || r.workload() == Workload.STAT_TREE;
            rows.add(new String[] {
                r.workload().name(),
                formatRate(r.target()) + " " + r.unit(),
                r.hasBaseline() ? formatRate(r.baseline()) + " " + r.unit() + (warm ? " (warm)" : "") : "-",
                r.hasBaseline() ? String.format(Locale.ROOT, "%.2fx", r.ratio()) : "-",
                r.workload().targetsMd()
            });
        }
        int[] widths = new int[rows.getFirst().length];
        for (String[] row : rows) {
            for (int c = 0; c < row.length; c++) {
                widths[c] = Math.max(widths[c], row[c].length());
            }
        }
        StringBuilder out = new StringBuilder();
        for (String[] row : rows) {
            StringBuilder line = new StringBuilder();
            for (int c = 0; c < row.length; c++) {
                boolean numeric = c == 1 || c == 2 || c == 3;
                String cell = row[c];
                String pad = " ".repeat(widths[c] - cell.length());
                line.append(numeric ? pad + cell : cell + pad);
                if (c < row.length - 1) {
                    line.append("  ");
                }
            }
            out.append(line.toString().stripTrailing()).append(System.lineSeparator());
        }
        out.append("Rates, higher is better; MB = 10^6 bytes; ratio = Holdfast / local.")
                .append(System.lineSeparator())
                .append("Only filesystem calls are timed. SEQ_READ and STAT_TREE run right after writing:")
                .append(System.lineSeparator())
                .append("caches are warm (a cold cache cannot be forced from Java without root), while the")
                .append(System.lineSeparator())
                .append("TARGETS.md goals for them are cold.")
                .append(System.lineSeparator());
        return out.toString();
    }

    /**
     * The results as a JSON object: {@code {"results":[{"workload":..., "unit":...,
     * "target":..., "baseline":..., "ratio":..., "operations":..., "bytes":...,
     * "targetTimeNanos":...}, ...]}}. A missing baseline and its ratio are {@code null}.
     */
    public String toJson() {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode list = root.putArray("results");
        for (BenchResult r : results) {
            ObjectNode o = list.addObject().put("workload", r.workload().name()).put("unit", r.unit());
            putNumber(o, "target", r.target());
            putNumber(o, "baseline", r.baseline());
            putNumber(o, "ratio", r.ratio());
            o.put("operations", r.operations())
                    .put("bytes", r.bytes())
                    .put("targetTimeNanos", r.targetTime().toNanos());
        }
        return root.toString();
    }

    /** Thread-safe once configured; used only to create nodes. */
    private static final ObjectMapper JSON = new ObjectMapper();

    private static void putNumber(ObjectNode o, String field, double value) {
        if (Double.isFinite(value)) {
            o.put(field, value);
        } else {
            o.putNull(field);
        }
    }

    private static String formatRate(double rate) {
        if (Double.isNaN(rate)) {
            return "-";
        }
        String pattern = rate >= 100 ? "%.0f" : rate >= 1 ? "%.1f" : "%.3f";
        return String.format(Locale.ROOT, pattern, rate);
    }
}
