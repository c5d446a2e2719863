package io.holdfast.cli;

import io.holdfast.common.Units;
import io.holdfast.georep.GeoStatus;
import io.holdfast.server.admin.AdminOptions;
import io.holdfast.server.admin.AdminServer;
import io.micrometer.core.instrument.Tags;
import java.io.IOException;
import java.io.PrintStream;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Makes a running replication worker's lag visible (issue 15, item 5): the RPO alert, Prometheus
 * metrics and a status page.
 *
 * <ul>
 *   <li><b>RPO alert.</b> {@link #check()} (called every second by the foreground loop) compares
 *       the worker's lag in seconds ({@link GeoStatus#lagSeconds()}: now minus the commit time of
 *       the last change applied at the target, while the source has newer entries) with the
 *       session's recovery point objective, and prints one line when the lag goes above it and one
 *       when it is back within it. An RPO of 0 turns the alert off.
 *   <li><b>Metrics and status page</b>, when an address is given: the node admin port's server
 *       ({@link AdminServer#serve}) with {@code GET /} (a page that reloads every 2 s),
 *       {@code /status.json}, {@code /metrics} and {@code /healthz}. Metric names (all with the
 *       tags {@code session}, {@code volume}):
 *       <ul>
 *         <li>{@code holdfast_georep_lag_seconds}, {@code holdfast_georep_lag_entries} (gauges);
 *         <li>{@code holdfast_georep_position} (the feed index applied and recorded at the target),
 *             {@code holdfast_georep_feed_index} (the source's applied index as last seen);
 *         <li>{@code holdfast_georep_rpo_seconds} (the threshold; 0 = off),
 *             {@code holdfast_georep_rpo_breached} (1 while the lag is above it, else 0);
 *         <li>{@code holdfast_georep_files_copied_total}, {@code _bytes_copied_total},
 *             {@code _deletes_total}, {@code _renames_total}, {@code _resyncs_total},
 *             {@code _errors_total} (counters since the worker started).
 *       </ul>
 *       A worker that is not running has no endpoint, so alert on the scrape failing as well
 *       ({@code up == 0}); {@code holdfast georep status} computes the lag from the source and the
 *       target's state file without a worker.
 * </ul>
 *
 * <p>Thread safety: {@link #check()} is called from one thread; the HTTP handlers read only the
 * status supplier and volatile state. {@link #close()} stops the HTTP server; idempotent.
 */
final class GeorepMonitor extends StatusServer<GeoStatus> {
    private final String session;
    private final String volume;
    private final double rpoSeconds;
    private final PrintStream out;
    private volatile boolean breached;

    /**
     * @param rpoSeconds the recovery point objective in seconds; 0 turns the alert off
     * @param metrics where to serve metrics and the status page; {@link AdminOptions#off()} for
     *     nowhere
     * @throws IOException if the address cannot be bound (the message says which and how to change
     *     it)
     */
    GeorepMonitor(
            String session,
            String volume,
            double rpoSeconds,
            Supplier<GeoStatus> status,
            AdminOptions metrics,
            PrintStream out)
            throws IOException {
        super(status);
        if (!(rpoSeconds >= 0) || Double.isInfinite(rpoSeconds)) {
            throw new IllegalArgumentException("the RPO must be 0 (off) or more seconds, got " + rpoSeconds);
        }
        this.session = session;
        this.volume = volume;
        this.rpoSeconds = rpoSeconds;
        this.out = out;
        register();
        serve(metrics);
    }

    /** Whether the lag was above the RPO at the last {@link #check()}. */
    boolean breached() {
        return breached;
    }

    /** Evaluates the RPO against the current lag; prints a line when that changes. */
    void check() {
        GeoStatus s = status.get();
        boolean now = breaches(s, rpoSeconds);
        if (now != breached) {
            breached = now;
            out.println(
                    now
                            ? String.format(
                                    Locale.ROOT,
                                    "georep %s: RPO BREACHED: lag %.1f s (%d entries behind) is above the RPO of %s s",
                                    session,
                                    s.lagSeconds(),
                                    s.lagEntries(),
                                    seconds(rpoSeconds))
                            : String.format(
                                    Locale.ROOT,
                                    "georep %s: within the RPO again: lag %.1f s (RPO %s s)",
                                    session,
                                    s.lagSeconds(),
                                    seconds(rpoSeconds)));
        }
    }

    /** Whether {@code s}'s lag is above {@code rpoSeconds} (never, if that is 0). */
    static boolean breaches(GeoStatus s, double rpoSeconds) {
        return above(s.lagSeconds(), rpoSeconds);
    }

    /**
     * Whether {@code lag} is above the objective {@code rpo}, both in one unit; never if {@code rpo}
     * is 0 (no objective) or the lag is unknown (NaN).
     */
    static boolean above(double lag, double rpo) {
        return rpo > 0 && lag > rpo;
    }

    static String seconds(double s) {
        return s == Math.rint(s) ? Long.toString((long) s) : Double.toString(s);
    }

    private void register() {
        Tags tags = Tags.of("session", session, "volume", volume);
        gauge(
                "holdfast.georep.lag",
                "seconds",
                "now minus the commit time of the last change applied",
                tags,
                s -> s.lagSeconds());
        gauge(
                "holdfast.georep.lag.entries",
                null,
                "feed entries not yet applied at the target",
                tags,
                s -> s.lagEntries());
        gauge(
                "holdfast.georep.position",
                null,
                "feed index applied and recorded at the target",
                tags,
                s -> s.position());
        gauge("holdfast.georep.feed.index", null, "the source's applied index as last seen", tags, s -> s.feedIndex());
        gauge("holdfast.georep.rpo", "seconds", "the recovery point objective (0: no alert)", tags, s -> rpoSeconds);
        gauge(
                "holdfast.georep.rpo.breached",
                null,
                "1 while the lag is above the RPO",
                tags,
                s -> breaches(s, rpoSeconds) ? 1 : 0);
        counter("holdfast.georep.files.copied", "regular files copied to the target", tags, GeoStatus::filesCopied);
        counter("holdfast.georep.bytes.copied", "bytes of content copied to the target", tags, GeoStatus::bytesCopied);
        counter("holdfast.georep.deletes", "entries deleted at the target", tags, GeoStatus::deletes);
        counter("holdfast.georep.renames", "renames done at the target", tags, GeoStatus::renames);
        counter("holdfast.georep.resyncs", "full synchronisations run", tags, GeoStatus::resyncs);
        counter("holdfast.georep.errors", "failed attempts (retried) and entries skipped", tags, GeoStatus::errors);
    }

    /** The status as a JSON object: the worker's {@link GeoStatus} and the RPO. */
    @Override
    String json() {
        GeoStatus s = status.get();
        Map<String, Object> m = document("holdfast-georep-status");
        m.put("status", s);
        m.put("rpoSeconds", rpoSeconds);
        m.put("rpoBreached", breaches(s, rpoSeconds));
        m.put(
                "commitTime",
                s.commitNanos() == 0
                        ? null
                        : Instant.ofEpochSecond(0, s.commitNanos()).toString());
        return toJson(m);
    }

    @Override
    String html() {
        GeoStatus s = status.get();
        boolean over = breaches(s, rpoSeconds);
        StringBuilder b = page("georep " + session);
        row(b, "volume", volume);
        row(b, "phase", s.phase().name().toLowerCase(Locale.ROOT));
        row(b, "position", s.position() + " of " + s.feedIndex() + " (" + s.lagEntries() + " behind)");
        row(
                b,
                "last commit applied",
                s.commitNanos() == 0
                        ? "unknown"
                        : Instant.ofEpochSecond(0, s.commitNanos()).toString());
        b.append("<tr><td>lag</td><td")
                .append(over ? " class=\"bad\"" : "")
                .append('>')
                .append(String.format(Locale.ROOT, "%.1f s", s.lagSeconds()))
                .append(
                        rpoSeconds == 0
                                ? " (no RPO set)"
                                : over
                                        ? " &mdash; above the RPO of " + seconds(rpoSeconds) + " s"
                                        : " (RPO " + seconds(rpoSeconds) + " s)")
                .append("</td></tr>");
        row(b, "copied", s.filesCopied() + " files, " + Units.size(s.bytesCopied()));
        row(b, "deletes / renames / links", s.deletes() + " / " + s.renames() + " / " + s.links());
        row(b, "full synchronisations", Long.toString(s.resyncs()));
        row(b, "errors", Long.toString(s.errors()));
        return endPage(b);
    }
}
