package io.holdfast.bench;

/**
 * One benchmark workload, mirroring a row of {@code TARGETS.md}. Every workload reports a
 * rate where higher is better, in the unit given by {@link #unit()}.
 */
public enum Workload {
    /**
     * Maildir delivery by one writer: for each message create {@code tmp/<name>} with
     * {@code CREATE_NEW}, write 4 KiB, {@code force(true)}, close, then
     * {@code Files.move(tmp/<name>, new/<name>, ATOMIC_MOVE)}. Rate in messages per second.
     */
    MAILDIR("msg/s", "≥ 300 msg/s, aim 500"),
    /** Sequential write of one file in 1 MiB chunks, {@code force(true)} at the end; MB/s. */
    SEQ_WRITE("MB/s", "≥ 130 MB/s, aim 250"),
    /**
     * Sequential read of the {@link #SEQ_WRITE} file in 1 MiB chunks, verified by CRC32C
     * against what was written; MB/s. The read follows the write, so caches may be warm.
     */
    SEQ_READ("MB/s", "≥ 600 MB/s (cold)"),
    /**
     * A walk with {@code Files.walkFileTree} of a freshly created tree of small files, reading
     * the basic attributes of every entry; entries per second. The tree is created untimed.
     */
    STAT_TREE("stat/s", "≥ 5600 stat/s (8.4k entries ≤ 1.5 s, cold)");

    private final String unit;
    private final String targetsMd;

    Workload(String unit, String targetsMd) {
        this.unit = unit;
        this.targetsMd = targetsMd;
    }

    /** The unit of this workload's rate: {@code "msg/s"}, {@code "MB/s"} (10^6 bytes) or {@code "stat/s"}. */
    public String unit() {
        return unit;
    }

    /** The Holdfast goal from {@code TARGETS.md}, as shown in the report table. */
    String targetsMd() {
        return targetsMd;
    }
}
