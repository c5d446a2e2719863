package io.holdfast.bench;

import java.time.Duration;
import java.util.Objects;

/**
 * The outcome of one workload on the target and, optionally, on the baseline.
 *
 * <p>Rates are higher-is-better in {@link #unit()}. Only time spent in filesystem calls is
 * counted (opening, writing, reading, {@code force}, closing, moving, walking); generating
 * and checksumming data is not.
 *
 * @param workload the workload
 * @param unit the unit of {@code target} and {@code baseline}, see {@link Workload#unit()}
 * @param target rate measured on the target directory
 * @param baseline rate measured on the baseline directory, or {@code NaN} when the run had no
 *     baseline
 * @param operations operations done per directory: messages for {@link Workload#MAILDIR},
 *     1 MiB chunks for the sequential workloads, entries visited for {@link
 *     Workload#STAT_TREE}
 * @param bytes payload bytes written or read per directory (0 for {@link Workload#STAT_TREE})
 * @param targetTime time counted for the target run
 */
public record BenchResult(
        Workload workload,
        String unit,
        double target,
        double baseline,
        long operations,
        long bytes,
        Duration targetTime) {

    /**
     * Checks the components.
     *
     * @throws NullPointerException if {@code workload}, {@code unit} or {@code targetTime} is null
     * @throws IllegalArgumentException if {@code operations} or {@code bytes} is negative
     */
    public BenchResult {
        Objects.requireNonNull(workload, "workload");
        Objects.requireNonNull(unit, "unit");
        Objects.requireNonNull(targetTime, "targetTime");
        if (operations < 0 || bytes < 0) {
            throw new IllegalArgumentException("operations and bytes must be ≥ 0, got " + operations + " and " + bytes);
        }
    }

    /** Whether this result has a baseline measurement. */
    public boolean hasBaseline() {
        return !Double.isNaN(baseline);
    }

    /**
     * {@code target / baseline}: above 1 the target is faster than the baseline. {@code NaN}
     * without a baseline.
     */
    public double ratio() {
        return hasBaseline() ? target / baseline : Double.NaN;
    }
}
