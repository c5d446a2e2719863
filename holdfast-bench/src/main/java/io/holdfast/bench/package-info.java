/**
 * Holdfast's benchmarks; {@code holdfast bench} only parses arguments and calls them.
 *
 * <p>{@code holdfast bench}: the workloads of {@code /work/shared/TARGETS.md}, run through
 * {@code java.nio.file} against a target directory (a FUSE-mounted Holdfast volume or a
 * {@code holdfast://} path) and, in the same process, against a local baseline directory.
 * Entry point: {@link io.holdfast.bench.Bench#builder()}. The result is a
 * {@link io.holdfast.bench.BenchReport} whose table shows each workload's rate on both
 * directories and their ratio. Speed goals are ratios against the baseline of the same run,
 * never absolute timings checked by tests. Every workload checks what it wrote (message count,
 * checksum of the sequential file, entry count and sizes of the tree) and throws rather than
 * report a rate for wrong data.
 *
 * <p>{@code holdfast bench catch-up}: {@link io.holdfast.bench.CatchUpBench} replaces a member
 * of a loaded volume on a {@link io.holdfast.testkit.MiniCluster} in this process while a
 * small-file client runs, and reports the catch-up and the client's latency before and during
 * it in a {@link io.holdfast.bench.CatchUpReport}.
 */
package io.holdfast.bench;
