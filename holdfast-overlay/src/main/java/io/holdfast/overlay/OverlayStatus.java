package io.holdfast.overlay;

import java.time.Instant;
import java.util.List;

/**
 * What an overlay has done and seen since it was opened: the content of its status record
 * ({@link OverlayFileSystem#STATUS_FILE} in the work directory, JSON as {@link #toJson}).
 *
 * @param lower the lower layer
 * @param upper the upper layer
 * @param whiteoutFormat how deletes are recorded
 * @param openedAt when the overlay was opened
 * @param updatedAt when this snapshot was taken
 * @param copyUps entries copied up from the lower layer
 * @param copyUpBytes bytes of file content copied up
 * @param whiteouts whiteouts created (deletes and renames of lower names)
 * @param opaqueDirectories directories made opaque
 * @param lowerErrors failed operations on the lower layer, all paths together
 * @param lowerErrorPaths the paths that failed, at most {@link StatusRecorder#MAX_ERROR_PATHS}, first seen first
 * @param lowerErrorPathsDropped paths that failed but were not kept, the list being full
 */
public record OverlayStatus(
        String lower,
        String upper,
        WhiteoutFormat whiteoutFormat,
        Instant openedAt,
        Instant updatedAt,
        long copyUps,
        long copyUpBytes,
        long whiteouts,
        long opaqueDirectories,
        long lowerErrors,
        List<LowerError> lowerErrorPaths,
        long lowerErrorPathsDropped) {

    /** The magic of the status record's {@code "format"} field. */
    public static final String FORMAT = "holdfast-overlay-status";

    /** The version of the record's layout, {@code "version"}: 1. */
    public static final int VERSION = 1;

    /**
     * A path of the lower layer that failed.
     *
     * @param path the path in the overlay ({@code /a/b})
     * @param operation the first failed operation ({@code stat}, {@code open}, {@code read}, {@code readdir}, ...)
     * @param count how many operations on it failed
     * @param first when it first failed
     * @param last when it last failed
     * @param message the first error's message
     */
    public record LowerError(String path, String operation, long count, Instant first, Instant last, String message) {}

    /** The record as one JSON object (UTF-8 text, one field per line). */
    public String toJson() {
        StringBuilder b = new StringBuilder(256 + 128 * lowerErrorPaths.size());
        b.append("{\n");
        field(b, "format", FORMAT);
        b.append("  \"version\": ").append(VERSION).append(",\n");
        field(b, "lower", lower);
        field(b, "upper", upper);
        field(b, "whiteoutFormat", whiteoutFormat.name());
        field(b, "openedAt", openedAt.toString());
        field(b, "updatedAt", updatedAt.toString());
        number(b, "copyUps", copyUps);
        number(b, "copyUpBytes", copyUpBytes);
        number(b, "whiteouts", whiteouts);
        number(b, "opaqueDirectories", opaqueDirectories);
        number(b, "lowerErrors", lowerErrors);
        number(b, "lowerErrorPathsDropped", lowerErrorPathsDropped);
        b.append("  \"lowerErrorPaths\": [");
        for (int i = 0; i < lowerErrorPaths.size(); i++) {
            LowerError e = lowerErrorPaths.get(i);
            b.append(i == 0 ? "\n" : ",\n").append("    {\"path\": ").append(quote(e.path()));
            b.append(", \"operation\": ").append(quote(e.operation()));
            b.append(", \"count\": ").append(e.count());
            b.append(", \"first\": ").append(quote(e.first().toString()));
            b.append(", \"last\": ").append(quote(e.last().toString()));
            b.append(", \"message\": ").append(quote(e.message())).append('}');
        }
        b.append(lowerErrorPaths.isEmpty() ? "]\n" : "\n  ]\n");
        b.append("}\n");
        return b.toString();
    }

    private static void field(StringBuilder b, String name, String value) {
        b.append("  ").append(quote(name)).append(": ").append(quote(value)).append(",\n");
    }

    private static void number(StringBuilder b, String name, long value) {
        b.append("  ").append(quote(name)).append(": ").append(value).append(",\n");
    }

    /** A JSON string literal (RFC 8259, section 7). */
    static String quote(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
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
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
