package io.holdfast.server.admin;

import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Renders a {@link StatusReport} as plain-text tables ({@code holdfast cluster status},
 * {@code holdfast volume info}), and the small value formats the HTML page shares with them.
 * Unknown values ({@code null}) print as {@code -}. Stateless and thread-safe.
 */
public final class StatusText {
    private StatusText() {}

    /** The whole report: nodes, volumes, groups (with member tables) and connection counters. */
    public static String render(StatusReport r) {
        StringBuilder out = new StringBuilder();
        out.append("nodes:\n");
        for (StatusReport.Node n : r.nodes()) {
            out.append(
                    String.format(Locale.ROOT, "  %-22s %-5s %s%n", n.address(), n.up() ? "up" : "DOWN", nodeNote(n)));
        }
        if (r.featureLevel() != null) {
            out.append("feature level: log format ")
                    .append(r.featureLevel())
                    .append(" (the newest every node supports; leaders log nothing newer)\n");
        }
        for (StatusReport.Halted h : r.halted()) {
            out.append("HALTED: member ")
                    .append(h.member())
                    .append(" of ")
                    .append(h.group())
                    .append(": ")
                    .append(h.reason())
                    .append('\n');
        }
        out.append("volumes:\n");
        if (r.volumes().isEmpty()) {
            out.append("  (none; create one with 'holdfast volume create NAME')\n");
        }
        for (StatusReport.Volume v : r.volumes()) {
            out.append(String.format(
                    Locale.ROOT,
                    "  %-16s group %s  replicas %d: %s%n",
                    v.name(),
                    v.groupId(),
                    v.replicas().size(),
                    String.join(", ", v.replicas())));
        }
        out.append("groups:\n");
        for (StatusReport.Group g : r.groups()) {
            out.append(group(g));
        }
        if (r.connections() != null) {
            StatusReport.Connections c = r.connections();
            out.append(String.format(
                    Locale.ROOT,
                    "connections: %d open, %d refused, %d calls refused%n",
                    c.open(),
                    c.refusedConnections(),
                    c.refusedCalls()));
        }
        return out.toString();
    }

    /** One group: a heading line with leader, term and health, then its member table. */
    public static String group(StatusReport.Group g) {
        StringBuilder out = new StringBuilder();
        out.append(String.format(
                Locale.ROOT,
                "  %s  group %s  leader %s  term %s  %s%s%n",
                groupName(g),
                g.groupId(),
                g.leader() == null ? "unknown" : g.leader(),
                value(g.term()),
                g.health().label().toUpperCase(Locale.ROOT),
                g.healthReason().isEmpty() ? "" : " (" + g.healthReason() + ")"));
        boolean digests = g.members().stream().anyMatch(m -> m.digest() != null);
        out.append(String.format(
                Locale.ROOT,
                "    %-22s %-9s %-5s %10s %10s %8s %7s %9s%s%n",
                "member",
                "role",
                "state",
                "commit",
                "applied",
                "lag",
                "lag s",
                "contact s",
                digests ? "  digest" : ""));
        for (StatusReport.Member m : g.members()) {
            out.append(String.format(
                    Locale.ROOT,
                    "    %-22s %-9s %-5s %10s %10s %8s %7s %9s%s%n",
                    m.address(),
                    m.role(),
                    m.up() ? "up" : "DOWN",
                    value(m.commitIndex()),
                    value(m.appliedIndex()),
                    value(m.lagEntries()),
                    seconds(m.lagSeconds()),
                    seconds(m.lastContactSeconds()),
                    digests
                            ? "  "
                                    + (m.digest() == null
                                            ? "-"
                                            : m.digest()
                                                    .substring(
                                                            0,
                                                            Math.min(
                                                                    16,
                                                                    m.digest().length())))
                            : ""));
        }
        if (!g.leaderView()) {
            out.append("    (lag and contact are known to the leader" + (g.leader() == null ? "" : ", " + g.leader())
                    + ")\n");
        }
        if (digests) {
            out.append("    members ")
                    .append(identical(g.members()) ? "identical" : "not (yet) identical")
                    .append('\n');
        }
        return out.toString();
    }

    /**
     * Whether every member answered with the same digest at the same applied index (what
     * {@code holdfast cluster status} calls identical).
     */
    public static boolean identical(List<StatusReport.Member> members) {
        if (members.isEmpty()) {
            return false;
        }
        StatusReport.Member first = members.getFirst();
        for (StatusReport.Member m : members) {
            if (m.digest() == null
                    || !m.digest().equals(first.digest())
                    || !Objects.equals(m.appliedIndex(), first.appliedIndex())) {
                return false;
            }
        }
        return true;
    }

    /** A group's display name: the volume, {@code (cluster)}, or {@code (volume ?)} if unknown. */
    public static String groupName(StatusReport.Group g) {
        return g.name().isEmpty() ? "(volume ?)" : g.name();
    }

    /** What to say about a node besides up/down: this node, last seen, cluster group. */
    public static String nodeNote(StatusReport.Node n) {
        StringBuilder s = new StringBuilder();
        if (n.self()) {
            s.append("this node");
        } else if (!n.up()) {
            s.append(
                    n.lastSeenSecondsAgo() == null
                            ? "not seen"
                            : "last seen " + seconds(n.lastSeenSecondsAgo()) + " s ago");
        }
        if (n.clusterGroup()) {
            s.append(s.isEmpty() ? "" : ", ").append("cluster group");
        }
        s.append(s.isEmpty() ? "" : ", ")
                .append(
                        n.logFormats() == null
                                ? "log formats not advertised"
                                : "version " + n.version() + ", log formats " + n.logFormats());
        return s.toString();
    }

    /** A number, or {@code -} if unknown. */
    public static String value(Long v) {
        return v == null ? "-" : Long.toString(v);
    }

    /** Seconds with one decimal, or {@code -} if unknown. */
    public static String seconds(Double s) {
        return s == null ? "-" : String.format(Locale.ROOT, "%.1f", s);
    }
}
