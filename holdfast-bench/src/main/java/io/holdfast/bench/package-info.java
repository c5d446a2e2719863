/**
 * {@code holdfast bench}: the workloads of {@code /work/shared/TARGETS.md}, run through
 * {@code java.nio.file} against a target directory (a FUSE-mounted Holdfast volume or a
 * {@code holdfast://} path) and, in the same process, against a local baseline directory.
 *
 * <p>Entry point: {@link io.holdfast.bench.Bench#builder()}. The result is a
 * {@link io.holdfast.bench.BenchReport} whose table shows each workload's rate on both
 * directories and their ratio. Speed goals are ratios against the baseline of the same run,
 * never absolute timings checked by tests.
 *
 * <p>Every workload checks what it wrote (message count, checksum of the sequential file,
 * entry count and sizes of the tree) and throws rather than report a rate for wrong data.
 */
package io.holdfast.bench;
