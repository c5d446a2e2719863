package io.holdfast.server.admin;

import java.util.Locale;

/**
 * The status page: one self-contained HTML document (inline CSS, no scripts, no external
 * fonts, styles or images) rendered from a {@link StatusReport}. It reloads itself every 2 s
 * ({@code <meta http-equiv="refresh">}). Every text from the report is HTML-escaped, in text
 * and in attributes. Rows carry {@code data-*} attributes (node address, state, health) so
 * tools and tests can read the page without scraping its prose. Stateless and thread-safe.
 */
final class StatusPage {
    /** Seconds between the page's reloads. */
    static final int REFRESH_SECONDS = 2;

    private static final String STYLE = """
      body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#1d1d1f;background:#fff}
      h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.4em 0 .4em}h3{font-size:1em;margin:1em 0 .3em}
      table{border-collapse:collapse;margin:.3em 0 .6em}
      th,td{border:1px solid #d0d0d5;padding:.25em .6em;text-align:left;vertical-align:top}
      th{background:#f2f2f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
      .up,.healthy{color:#11702c;font-weight:600}.down,.unavailable{color:#b3001b;font-weight:600}
      .degraded{color:#9a5800;font-weight:600}.note{color:#5f5f66;font-size:.92em}code{font-size:.92em}
      """;

    private StatusPage() {}

    /** The page for {@code r}. */
    static String render(StatusReport r) {
        StringBuilder h = new StringBuilder(8192);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<meta http-equiv=\"refresh\" content=\"")
                .append(REFRESH_SECONDS)
                .append("\">")
                .append("<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">")
                .append("<title>Holdfast ")
                .append(esc(r.reporter()))
                .append("</title><style>")
                .append(STYLE)
                .append("</style></head>\n<body>\n");
        h.append("<h1>Holdfast ").append(esc(r.reporter())).append("</h1>\n");
        h.append("<p class=\"note\">cluster <code>")
                .append(esc(r.cluster()))
                .append("</code> &middot; as of ")
                .append(esc(r.generatedAt()))
                .append(" &middot; overall <span class=\"")
                .append(r.worstHealth().label())
                .append("\">")
                .append(r.worstHealth().label())
                .append("</span> &middot; reloads every ")
                .append(REFRESH_SECONDS)
                .append(" s &middot; <a href=\"/status.json\">JSON</a> &middot; "
                        + "<a href=\"/metrics\">metrics</a></p>\n");

        h.append("<h2>Nodes</h2>\n<table id=\"nodes\"><tr><th>node</th><th>state</th><th>last "
                + "seen</th><th>notes</th></tr>\n");
        for (StatusReport.Node n : r.nodes()) {
            String state = n.up() ? "up" : "down";
            h.append("<tr class=\"node\" data-node=\"")
                    .append(esc(n.address()))
                    .append("\" data-state=\"")
                    .append(state)
                    .append("\">")
                    .append("<td>")
                    .append(esc(n.address()))
                    .append("</td><td class=\"")
                    .append(state)
                    .append("\">")
                    .append(state)
                    .append("</td><td>")
                    .append(
                            n.up()
                                    ? "now"
                                    : n.lastSeenSecondsAgo() == null
                                            ? "not seen"
                                            : esc(StatusText.seconds(n.lastSeenSecondsAgo())) + " s ago")
                    .append("</td><td>")
                    .append(esc(notes(n)))
                    .append("</td></tr>\n");
        }
        h.append("</table>\n");

        h.append("<h2>Volumes</h2>\n");
        if (r.volumes().isEmpty()) {
            h.append("<p class=\"note\">none known to this node (only the cluster group's nodes hold the cluster "
                    + "map)</p>\n");
        } else {
            h.append("<table id=\"volumes\"><tr><th>volume</th><th>group</th><th>replicas</th></tr>\n");
            for (StatusReport.Volume v : r.volumes()) {
                h.append("<tr data-volume=\"")
                        .append(esc(v.name()))
                        .append("\"><td>")
                        .append(esc(v.name()))
                        .append("</td><td><code>")
                        .append(esc(v.groupId()))
                        .append("</code></td><td>")
                        .append(esc(String.join(", ", v.replicas())))
                        .append("</td></tr>\n");
            }
            h.append("</table>\n");
        }

        h.append("<h2>Groups on this node</h2>\n");
        if (r.groups().isEmpty()) {
            h.append("<p class=\"note\">this node serves no Raft group</p>\n");
        }
        for (StatusReport.Group g : r.groups()) {
            group(h, g);
        }

        if (!r.georep().isEmpty()) {
            h.append("<h2>Geo-replication sessions</h2>\n<table id=\"georep\"><tr><th>session</th><th>volume</th>"
                    + "<th>state</th><th>position</th><th>entries behind</th><th>lag (s)</th><th>RPO (s)</th>"
                    + "<th>last report (s ago)</th></tr>\n");
            for (StatusReport.Georep g : r.georep()) {
                h.append("<tr class=\"georep\" data-session=\"")
                        .append(esc(g.name()))
                        .append("\" data-state=\"")
                        .append(esc(g.state()))
                        .append("\"><td>")
                        .append(esc(g.name()))
                        .append("</td><td>")
                        .append(esc(g.volume()))
                        .append("</td><td>")
                        .append(esc(g.state()))
                        .append("</td>")
                        .append(num(Long.toString(g.position())))
                        .append(num(
                                g.entriesBehind() == null
                                        ? "-"
                                        : g.entriesBehind().toString()))
                        .append(num(StatusText.seconds(g.lagSeconds())))
                        .append(num(g.rpoSeconds() == 0 ? "none" : StatusText.seconds(g.rpoSeconds())))
                        .append(num(StatusText.seconds(g.reportAgeSeconds())))
                        .append("</tr>\n");
            }
            h.append("</table>\n");
        }

        if (r.connections() != null) {
            StatusReport.Connections c = r.connections();
            h.append("<h2>Connections</h2>\n<table id=\"connections\"><tr><th>open</th><th>refused "
                            + "connections</th><th>refused calls</th></tr>")
                    .append("<tr><td class=\"n\">")
                    .append(c.open())
                    .append("</td><td class=\"n\">")
                    .append(c.refusedConnections())
                    .append("</td><td class=\"n\">")
                    .append(c.refusedCalls())
                    .append("</td></tr></table>\n");
        }
        h.append("<p class=\"note\">Read-only and unauthenticated: expose this port only on a trusted network.</p>\n");
        h.append("</body></html>\n");
        return h.toString();
    }

    private static void group(StringBuilder h, StatusReport.Group g) {
        String health = g.health().label();
        h.append("<section class=\"group\" data-group=\"")
                .append(esc(g.groupId()))
                .append("\" data-health=\"")
                .append(health)
                .append("\">\n")
                .append("<h3>")
                .append(esc(StatusText.groupName(g)))
                .append(" <span class=\"")
                .append(health)
                .append("\">")
                .append(health)
                .append("</span>");
        if (!g.healthReason().isEmpty()) {
            h.append(" <span class=\"note\">(").append(esc(g.healthReason())).append(")</span>");
        }
        h.append("</h3>\n<p>group <code>")
                .append(esc(g.groupId()))
                .append("</code> &middot; leader: ")
                .append(g.leader() == null ? "unknown" : esc(g.leader()))
                .append(" &middot; term ")
                .append(esc(StatusText.value(g.term())));
        if (!g.leaderView()) {
            h.append(" &middot; <span class=\"note\">match index, lag and last contact are known to the leader")
                    .append(g.leader() == null ? "" : " (" + esc(g.leader()) + ")")
                    .append("</span>");
        }
        h.append("</p>\n<table><tr><th>member</th><th>role</th><th>state</th><th>commit index</th><th>applied "
                        + "index</th>")
                .append("<th>match index</th><th>lag (entries)</th><th>lag (s)</th><th>last contact (s)</th></tr>\n");
        for (StatusReport.Member m : g.members()) {
            String state = m.up() ? "up" : "down";
            h.append("<tr data-member=\"")
                    .append(esc(m.address()))
                    .append("\" data-state=\"")
                    .append(state)
                    .append("\"><td>")
                    .append(esc(m.address()))
                    .append("</td><td>")
                    .append(esc(m.role()))
                    .append("</td><td class=\"")
                    .append(state)
                    .append("\">")
                    .append(state)
                    .append("</td>")
                    .append(num(StatusText.value(m.commitIndex())))
                    .append(num(StatusText.value(m.appliedIndex())))
                    .append(num(StatusText.value(m.matchIndex())))
                    .append(num(StatusText.value(m.lagEntries())))
                    .append(num(StatusText.seconds(m.lagSeconds())))
                    .append(num(StatusText.seconds(m.lastContactSeconds())))
                    .append("</tr>\n");
        }
        h.append("</table>\n");
        StatusReport.CatchUp c = g.catchUp();
        if (c != null) {
            h.append("<p class=\"note\">this node's catch-up: applied ")
                    .append(String.format(Locale.ROOT, "%.1f%%", 100 * c.appliedFraction()))
                    .append(" of the leader's commit index");
            if (c.snapshotInstalling()) {
                h.append("; installing a snapshot from the leader, ")
                        .append(c.snapshotBytesReceived())
                        .append(" bytes received")
                        .append(c.snapshotBytesExpected() == null ? "" : " of " + c.snapshotBytesExpected());
            }
            h.append("</p>\n");
        }
        h.append("</section>\n");
    }

    private static String notes(StatusReport.Node n) {
        String s = n.self() ? "this node" : "";
        return n.clusterGroup() ? (s.isEmpty() ? "" : s + ", ") + "cluster group" : s;
    }

    private static String num(String v) {
        return "<td class=\"n\">" + esc(v) + "</td>";
    }

    /**
     * Escapes text for HTML element content and double-quoted attribute values: {@code & < > " '}
     * become character references. Control characters other than tab and newline become
     * U+FFFD, so no input can end an element, an attribute or the document early.
     */
    static String esc(String s) {
        if (s == null) {
            return "";
        }
        StringBuilder out = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            String rep = switch (c) {
                case '&' -> "&amp;";
                case '<' -> "&lt;";
                case '>' -> "&gt;";
                case '"' -> "&quot;";
                case '\'' -> "&#39;";
                default -> (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f ? "\uFFFD" : null;
            };
            if (rep != null && out == null) {
                out = new StringBuilder(s.length() + 16).append(s, 0, i);
            }
            if (out != null) {
                if (rep != null) {
                    out.append(rep);
                } else {
                    out.append(c);
                }
            }
        }
        return out == null ? s : out.toString();
    }
}
