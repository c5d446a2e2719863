package io.holdfast.cli;

import io.holdfast.client.nio.CacheStats;
import io.holdfast.client.nio.WriteBackStats;
import io.holdfast.server.admin.AdminOptions;
import io.micrometer.core.instrument.Tags;
import java.io.IOException;
import java.nio.file.FileSystem;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A mount's metadata cache and write-back, made visible (issue 12, item 6): {@code holdfast mount
 * --metrics HOST:PORT} serves a status page ({@code GET /}, reloading every 2 s),
 * {@code /status.json}, Prometheus {@code /metrics} and {@code /healthz}. Metric names, all with
 * the tag {@code volume}:
 *
 * <ul>
 *   <li>{@code holdfast_mount_cache_hits_total}, {@code holdfast_mount_cache_misses_total}: queries
 *       answered from the cache, and those that went to the volume (the hit ratio is
 *       hits / (hits + misses));
 *   <li>{@code holdfast_mount_cache_entries}: answers kept now;
 *   <li>{@code holdfast_mount_cache_drops_total}: times the whole cache was dropped for the leader
 *       (another client's change, a new leader, a lost session): the revocations this mount saw;
 *   <li>{@code holdfast_mount_lease_valid}: 1 while the read lease holds;
 *   <li>{@code holdfast_mount_writeback_changes_total}: changes answered at once and sent without
 *       waiting (chmod, chown, utimens, unlink, rmdir, rename, create by root);
 *   <li>{@code holdfast_mount_writeback_requests_total}: the requests they travelled in (changes /
 *       requests is the mean batch size);
 *   <li>{@code holdfast_mount_writeback_failed_total}: changes the volume refused or whose outcome is
 *       unknown (each reported at the next durability point);
 *   <li>{@code holdfast_mount_writeback_pending}: changes queued or unanswered now (the write-back
 *       depth).
 * </ul>
 *
 * <p>Read on each request from {@link CacheStats#of} and {@link WriteBackStats#of}; nothing is
 * counted twice. Thread-safe; {@link #close()} stops the HTTP server and is idempotent.
 */
final class MountMonitor extends StatusServer<MountMonitor.Snapshot> {
    /** Both statistics of the mount's file system, read together. */
    record Snapshot(CacheStats cache, WriteBackStats writeBack) {}

    private final String volume;

    /**
     * @param fs the mount's Holdfast file system
     * @param where where to serve; {@link AdminOptions#off()} for nowhere
     * @throws IllegalArgumentException if {@code fs} is not a Holdfast file system
     * @throws IOException if the address cannot be bound
     */
    MountMonitor(FileSystem fs, String volume, AdminOptions where) throws IOException {
        this(snapshots(fs), volume, where);
    }

    /** A monitor of the statistics {@code stats} supplies (tests give their own). */
    MountMonitor(Supplier<Snapshot> stats, String volume, AdminOptions where) throws IOException {
        super(stats);
        this.volume = volume;
        Tags tags = Tags.of("volume", volume);
        counter(
                "holdfast.mount.cache.hits",
                "queries answered from the metadata cache",
                tags,
                s -> s.cache().hits());
        counter(
                "holdfast.mount.cache.misses",
                "queries that went to the volume (not cached, or no lease)",
                tags,
                s -> s.cache().misses());
        gauge(
                "holdfast.mount.cache.entries",
                null,
                "answers kept in the cache now",
                tags,
                s -> s.cache().entries());
        counter(
                "holdfast.mount.cache.drops",
                "times the whole cache was dropped for the leader (another client's change, a new leader)",
                tags,
                s -> s.cache().drops());
        gauge(
                "holdfast.mount.lease.valid",
                null,
                "1 while the read lease holds",
                tags,
                s -> s.cache().leaseValid() ? 1 : 0);
        counter(
                "holdfast.mount.writeback.changes",
                "changes answered at once and sent without waiting",
                tags,
                s -> s.writeBack().writtenBack());
        counter(
                "holdfast.mount.writeback.requests",
                "requests the written-back changes travelled in",
                tags,
                s -> s.writeBack().requests());
        counter(
                "holdfast.mount.writeback.failed",
                "written-back changes refused by the volume or of unknown outcome",
                tags,
                s -> s.writeBack().failed());
        gauge(
                "holdfast.mount.writeback.pending",
                null,
                "written-back changes queued or unanswered now",
                tags,
                s -> s.writeBack().pending());
        serve(where);
    }

    private static Supplier<Snapshot> snapshots(FileSystem fs) {
        CacheStats.of(fs); // refuses another file system now rather than at the first scrape
        return () -> new Snapshot(CacheStats.of(fs), WriteBackStats.of(fs));
    }

    /** Hits as a share of all cache lookups, or NaN before the first. */
    static double hitRatio(CacheStats c) {
        long all = c.hits() + c.misses();
        return all == 0 ? Double.NaN : (double) c.hits() / all;
    }

    @Override
    String json() {
        Snapshot s = status.get();
        Map<String, Object> m = document("holdfast-mount-status");
        m.put("volume", volume);
        m.put("cache", s.cache());
        m.put("cacheHitRatio", Double.isNaN(hitRatio(s.cache())) ? null : hitRatio(s.cache()));
        m.put("writeBack", s.writeBack());
        return toJson(m);
    }

    @Override
    String html() {
        Snapshot s = status.get();
        CacheStats c = s.cache();
        WriteBackStats w = s.writeBack();
        StringBuilder b = page("mount of " + volume);
        row(b, "read lease", c.leaseValid() ? "held" : "not held (every query goes to the volume)");
        row(
                b,
                "metadata cache",
                String.format(
                        Locale.ROOT,
                        "%d hits, %d misses (%s hits), %d entries, dropped %d times",
                        c.hits(),
                        c.misses(),
                        Double.isNaN(hitRatio(c))
                                ? "no lookups yet"
                                : String.format(Locale.ROOT, "%.1f %%", 100 * hitRatio(c)),
                        c.entries(),
                        c.drops()));
        row(
                b,
                "write-back",
                String.format(
                        Locale.ROOT,
                        "%d changes in %d requests (%s per request), %d pending, %d failed",
                        w.writtenBack(),
                        w.requests(),
                        w.requests() == 0
                                ? "-"
                                : String.format(Locale.ROOT, "%.1f", (double) w.writtenBack() / w.requests()),
                        w.pending(),
                        w.failed()));
        return endPage(b);
    }
}
