package io.holdfast.bench;

/**
 * How much work each workload does.
 *
 * @param maildirMessages messages delivered by {@link Workload#MAILDIR}; default 2000,
 *     at most {@value #MAX_COUNT}
 * @param seqBytes size in bytes of the file written by {@link Workload#SEQ_WRITE} and read by
 *     {@link Workload#SEQ_READ}; default 1 GiB, at most {@value #MAX_SEQ_BYTES} (1 TiB); need
 *     not be a multiple of the 1 MiB chunk
 * @param treeFiles small files created for {@link Workload#STAT_TREE}; default 5000, at most
 *     {@value #MAX_COUNT}
 * @param treeDirs directories the tree files are spread over (a tree of fan-out 8 below one
 *     root); default 250, at most {@value #MAX_COUNT}
 */
public record BenchScale(int maildirMessages, long seqBytes, int treeFiles, int treeDirs) {

    /** Upper limit on every count in a scale. */
    public static final int MAX_COUNT = 10_000_000;

    /** Upper limit on {@link #seqBytes()}: 1 TiB. */
    public static final long MAX_SEQ_BYTES = 1L << 40;

    /**
     * Checks the limits.
     *
     * @throws IllegalArgumentException if any value is ≤ 0 or above its limit
     */
    public BenchScale {
        requirePositive("maildirMessages", maildirMessages, MAX_COUNT);
        requirePositive("seqBytes", seqBytes, MAX_SEQ_BYTES);
        requirePositive("treeFiles", treeFiles, MAX_COUNT);
        requirePositive("treeDirs", treeDirs, MAX_COUNT);
    }

    /** The scale of {@code TARGETS.md}: 2000 messages, 1 GiB, 5000 files in 250 directories. */
    public static BenchScale defaults() {
        return new BenchScale(2000, 1L << 30, 5000, 250);
    }

    /** A quick smoke scale: 200 messages, 32 MiB, 500 files in 25 directories. */
    public static BenchScale quick() {
        return new BenchScale(200, 32L << 20, 500, 25);
    }

    private static void requirePositive(String name, long value, long max) {
        if (value <= 0) {
            throw new IllegalArgumentException("scale " + name + " must be > 0, got " + value);
        }
        if (value > max) {
            throw new IllegalArgumentException("scale " + name + " must be ≤ " + max + ", got " + value);
        }
    }
}
