package io.holdfast.cli;

import io.holdfast.client.nio.CacheStats;
import io.holdfast.client.nio.WriteBackStats;
import io.holdfast.fuse.FuseMount;
import io.holdfast.server.admin.AdminOptions;
import io.micrometer.core.instrument.Tags;
import java.io.IOException;
import java.nio.file.FileSystem;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
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
 *       depth);
 *   <li>{@code holdfast_mount_kernel_caching}: 1 while the kernel caches the mount's names and
 *       attributes under the read lease;
 *   <li>{@code holdfast_mount_kernel_invalidations_total}: times what the kernel cached was taken
 *       back (another client's change, the lease's start or end, a change to a hard-linked file).
 * </ul>
 *
 * <p>Read on each request from {@link CacheStats#of} and {@link WriteBackStats#of}; nothing is
 * counted twice. Thread-safe; {@link #close()} stops the HTTP server and is idempotent.
 */
final class MountMonitor extends StatusServer<MountMonitor.Snapshot> {
    /**
     * The statistics of the mount's file system and of the kernel's cache, read together.
     *
     * @param kernel the kernel's cache of names and attributes ({@link KernelStats#NONE} before
     *     the mount is known)
     */
    record Snapshot(CacheStats cache, WriteBackStats writeBack, KernelStats kernel) {
        Snapshot(CacheStats cache, WriteBackStats writeBack) {
            this(cache, writeBack, KernelStats.NONE);
        }
    }

    /**
     * The kernel's cache of the mount's names and attributes under the read lease.
     *
     * @param caching whether the kernel caches now (the lease holds)
     * @param invalidations times what it cached was taken back
     */
    record KernelStats(boolean caching, long invalidations) {
        static final KernelStats NONE = new KernelStats(false, 0);

        static KernelStats of(FuseMount m) {
            return m == null ? NONE : new KernelStats(m.kernelCaching(), m.kernelInvalidations());
        }
    }

    /** The mount, once made ({@link #watch}). */
    private final AtomicReference<FuseMount> mount;

    private final String volume;

    /**
     * @param fs the mount's Holdfast file system
     * @param where where to serve; {@link AdminOptions#off()} for nowhere
     * @throws IllegalArgumentException if {@code fs} is not a Holdfast file system
     * @throws IOException if the address cannot be bound
     */
    MountMonitor(FileSystem fs, String volume, AdminOptions where) throws IOException {
        this(new AtomicReference<>(), fs, volume, where);
    }

    private MountMonitor(AtomicReference<FuseMount> mount, FileSystem fs, String volume, AdminOptions where)
            throws IOException {
        this(snapshots(fs, mount), mount, volume, where);
    }

    /** A monitor of the statistics {@code stats} supplies (tests give their own). */
    MountMonitor(Supplier<Snapshot> stats, String volume, AdminOptions where) throws IOException {
        this(stats, new AtomicReference<>(), volume, where);
    }

    private MountMonitor(Supplier<Snapshot> stats, AtomicReference<FuseMount> mount, String volume, AdminOptions where)
            throws IOException {
        super(stats);
        this.volume = volume;
        this.mount = mount;
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
        gauge(
                "holdfast.mount.kernel.caching",
                null,
                "1 while the kernel caches names and attributes under the read lease",
                tags,
                s -> s.kernel().caching() ? 1 : 0);
        counter(
                "holdfast.mount.kernel.invalidations",
                "times the names and attributes the kernel cached were taken back",
                tags,
                s -> s.kernel().invalidations());
        serve(where);
    }

    /** Reports {@code m}'s kernel cache from now on. */
    void watch(FuseMount m) {
        mount.set(m);
    }

    private static Supplier<Snapshot> snapshots(FileSystem fs, AtomicReference<FuseMount> mount) {
        CacheStats.of(fs); // refuses another file system now rather than at the first scrape
        return () -> new Snapshot(CacheStats.of(fs), WriteBackStats.of(fs), KernelStats.of(mount.get()));
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
        m.put("kernelCache", s.kernel());
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
        row(
                b,
                "kernel cache",
                String.format(
                        Locale.ROOT,
                        "%s; taken back %d times",
                        s.kernel().caching() ? "names and attributes cached under the lease" : "off",
                        s.kernel().invalidations()));
        return endPage(b);
    }
}
