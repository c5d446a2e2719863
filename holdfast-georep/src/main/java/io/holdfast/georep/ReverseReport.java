package io.holdfast.georep;

import java.util.List;
import java.util.Locale;

/**
 * What one reverse pass ({@link Failover#reverse}) found and did. Immutable and thread-safe.
 *
 * @param session the session
 * @param splitIndex the source feed index at which the copy was promoted
 * @param baseIndex the source feed index the pass started from (the split index on the first pass,
 *     then where the previous pass ended)
 * @param primaryIndex the source's applied index when the pass was planned
 * @param primarySource how the old primary's changes since {@code baseIndex} were found: {@code
 *     "feed"} (its change feed) or {@code "tree"} (its tree compared with the baseline manifest,
 *     because the feed no longer held that history or named a change it could not place)
 * @param primaryChanged paths the old primary changed since {@code baseIndex}
 * @param renames renames applied to the old primary (one per renamed entry, a directory with its
 *     contents)
 * @param deletes entries deleted at the old primary
 * @param puts entries brought over from the copy (new, modified, attributes changed)
 * @param conflicts paths changed on both sides, in path order
 * @param skipped entries the old primary could not hold (access denied, not supported, name too
 *     long), left out and reported to the listener; 0 in a dry run
 * @param dryRun whether nothing was applied (the plan only)
 * @param resumed whether the pass finished a plan an interrupted pass had recorded
 */
public record ReverseReport(
        String session,
        long splitIndex,
        long baseIndex,
        long primaryIndex,
        String primarySource,
        int primaryChanged,
        int renames,
        int deletes,
        int puts,
        List<Conflict> conflicts,
        int skipped,
        boolean dryRun,
        boolean resumed) {

    /** Suffix of the old primary's version of a conflicting path: {@code NAME.conflict-primary-BASEINDEX}. */
    public static final String CONFLICT_SUFFIX = ".conflict-primary-";

    public ReverseReport {
        conflicts = List.copyOf(conflicts);
    }

    /**
     * One path changed on both sides since the pass's base index. The copy's version wins at the
     * path; the old primary's version, if it still had one, is kept beside it.
     *
     * @param path the path (absolute in the volume, {@code /a/b})
     * @param dr what the disaster-recovery copy did: {@code new}, {@code modified}, {@code
     *     deleted}, {@code type changed}, {@code renamed to /x}, {@code renamed from /x}
     * @param primary what the old primary has there now: {@code changed, now a file} and so on,
     *     or {@code deleted}
     * @param primaryCopy where the old primary's version was kept ({@code path +
     *     ".conflict-primary-" + baseIndex}, with {@code -2}, {@code -3}... if that name was
     *     taken), or null if the old primary had deleted the path
     */
    public record Conflict(String path, String dr, String primary, String primaryCopy) {}

    /** Entries changed at the copy and applied (or to apply, in a dry run). */
    public int applied() {
        return renames + deletes + puts;
    }

    /** The report as text, one line per conflict. */
    public String toText() {
        StringBuilder b = new StringBuilder();
        b.append(String.format(
                Locale.ROOT,
                "reverse%s of session %s: changes at the DR copy since source index %d (split %d) -> old primary%n",
                dryRun ? " (dry run: nothing applied)" : resumed ? " (resumed)" : "",
                session,
                baseIndex,
                splitIndex));
        b.append(String.format(
                Locale.ROOT,
                "  %s %d renames, %d deletes, %d entries brought over; the old primary changed %d paths since"
                        + " (found from its %s, up to index %d)%n",
                dryRun ? "would apply" : "applied",
                renames,
                deletes,
                puts,
                primaryChanged,
                primarySource.equals("feed") ? "change feed" : "tree compared with the baseline",
                primaryIndex));
        if (skipped > 0) {
            b.append("  skipped ")
                    .append(skipped)
                    .append(" entries the old primary could not hold")
                    .append(System.lineSeparator());
        }
        b.append("  conflicts: ")
                .append(conflicts.size())
                .append(conflicts.isEmpty() ? "" : " (the DR version wins")
                .append(conflicts.isEmpty() ? "" : " at the path; the old primary's is kept beside it)")
                .append(System.lineSeparator());
        for (Conflict c : conflicts) {
            b.append("    ")
                    .append(c.path())
                    .append(": DR ")
                    .append(c.dr())
                    .append(", primary ")
                    .append(c.primary())
                    .append(" -> ")
                    .append(
                            c.primaryCopy() == null
                                    ? "the DR version only"
                                    : "primary's version kept as " + c.primaryCopy())
                    .append(System.lineSeparator());
        }
        return b.toString();
    }

    /** The report as one JSON object (RFC 8259). */
    public String toJson() {
        StringBuilder b = new StringBuilder("{");
        b.append("\"session\":").append(quote(session));
        b.append(",\"splitIndex\":").append(splitIndex);
        b.append(",\"baseIndex\":").append(baseIndex);
        b.append(",\"primaryIndex\":").append(primaryIndex);
        b.append(",\"primarySource\":").append(quote(primarySource));
        b.append(",\"primaryChanged\":").append(primaryChanged);
        b.append(",\"renames\":").append(renames);
        b.append(",\"deletes\":").append(deletes);
        b.append(",\"puts\":").append(puts);
        b.append(",\"skipped\":").append(skipped);
        b.append(",\"dryRun\":").append(dryRun);
        b.append(",\"resumed\":").append(resumed);
        b.append(",\"conflicts\":[");
        for (int i = 0; i < conflicts.size(); i++) {
            Conflict c = conflicts.get(i);
            b.append(i == 0 ? "" : ",")
                    .append("{\"path\":")
                    .append(quote(c.path()))
                    .append(",\"dr\":")
                    .append(quote(c.dr()))
                    .append(",\"primary\":")
                    .append(quote(c.primary()))
                    .append(",\"primaryCopy\":")
                    .append(c.primaryCopy() == null ? "null" : quote(c.primaryCopy()))
                    .append('}');
        }
        return b.append("]}").toString();
    }

    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
