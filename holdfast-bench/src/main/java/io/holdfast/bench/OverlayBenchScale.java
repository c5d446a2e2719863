package io.holdfast.bench;

/**
 * How much work {@link OverlayBench} does on each system.
 *
 * @param maildirSeconds how long maildir delivery runs on each system, in seconds; 0.1 to 3600
 * @param treeFiles small files in the tree that is untarred and walked; 1 to {@value #MAX_COUNT}
 * @param treeDirs directories those files are spread over (fan-out 8 below the root); 1 to
 *     {@value #MAX_COUNT}
 * @param copyUpFiles files of the lower layer that the copy-up workload appends to, one each;
 *     1 to {@value #MAX_COUNT}
 * @param copyUpFileBytes size of each of those files before the append, in bytes; 1 to 64 MiB
 * @param mergeFiles files in the upper layer that the merge folds into the lower one while the
 *     foreground is measured; 1 to {@value #MAX_COUNT}
 * @param mergeBytes their total size in bytes (every 20th file is large, the others 8 KiB); at
 *     least 8 KiB per file, at most 1 TiB
 * @param idleSeconds how long the foreground is measured with no merge running, in seconds; 0.1
 *     to 3600
 * @param foregroundRate foreground cycles per second (one delivery and one read each); 1 to 10000
 */
public record OverlayBenchScale(
        double maildirSeconds,
        int treeFiles,
        int treeDirs,
        int copyUpFiles,
        int copyUpFileBytes,
        int mergeFiles,
        long mergeBytes,
        double idleSeconds,
        int foregroundRate) {

    /** Upper limit on every count. */
    public static final int MAX_COUNT = 1_000_000;

    /** Size of the small files of the merged set, in bytes. */
    static final int MERGE_SMALL_BYTES = 8192;

    /** Every this many files of the merged set, one is large. */
    static final int MERGE_LARGE_EVERY = 20;

    /**
     * Checks the limits.
     *
     * @throws IllegalArgumentException if a value is out of its range
     */
    public OverlayBenchScale {
        seconds("maildirSeconds", maildirSeconds);
        seconds("idleSeconds", idleSeconds);
        count("treeFiles", treeFiles, MAX_COUNT);
        count("treeDirs", treeDirs, MAX_COUNT);
        count("copyUpFiles", copyUpFiles, MAX_COUNT);
        count("copyUpFileBytes", copyUpFileBytes, 64 << 20);
        count("mergeFiles", mergeFiles, MAX_COUNT);
        count("foregroundRate", foregroundRate, 10_000);
        if (mergeBytes < (long) mergeFiles * MERGE_SMALL_BYTES || mergeBytes > 1L << 40) {
            throw new IllegalArgumentException("scale mergeBytes must be at least " + MERGE_SMALL_BYTES
                    + " per file and at most 1 TiB, got " + mergeBytes + " for " + mergeFiles + " files");
        }
    }

    /**
     * The full scale: maildir for {@code seconds} on each system, a tree of 4000 files in 200
     * directories, 1000 copy-ups of 64 KiB files, a merge of 2000 files and 256 MiB, the idle
     * foreground for {@code seconds}, 50 foreground cycles per second.
     *
     * @throws IllegalArgumentException if {@code seconds} is not within 0.1 to 3600
     */
    public static OverlayBenchScale full(double seconds) {
        return new OverlayBenchScale(seconds, 4000, 200, 1000, 64 << 10, 2000, 256L << 20, seconds, 50);
    }

    /**
     * The quick scale: {@code seconds} of maildir and idle foreground, 500 files in 25 directories,
     * 100 copy-ups of 64 KiB files, a merge of 200 files and 16 MiB, 50 cycles per second.
     *
     * @throws IllegalArgumentException if {@code seconds} is not within 0.1 to 3600
     */
    public static OverlayBenchScale quick(double seconds) {
        return new OverlayBenchScale(seconds, 500, 25, 100, 64 << 10, 200, 16L << 20, seconds, 50);
    }

    /** The size of file {@code i} (0-based) of the merged set. */
    long mergeFileBytes(int i) {
        int large = (mergeFiles + MERGE_LARGE_EVERY - 1) / MERGE_LARGE_EVERY;
        long largeBytes = (mergeBytes - (long) (mergeFiles - large) * MERGE_SMALL_BYTES) / large;
        return i % MERGE_LARGE_EVERY == 0 ? largeBytes : MERGE_SMALL_BYTES;
    }

    private static void seconds(String name, double value) {
        if (!(value >= 0.1 && value <= 3600)) {
            throw new IllegalArgumentException("scale " + name + " must be within 0.1 to 3600 s, got " + value);
        }
    }

    private static void count(String name, long value, long max) {
        if (value < 1 || value > max) {
            throw new IllegalArgumentException("scale " + name + " must be within 1 to " + max + ", got " + value);
        }
    }
}
