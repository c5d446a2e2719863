package io.holdfast.common;

/**
 * The escaping of a field in Holdfast's tab-separated, line-based state files (the overlay's merge
 * journal, the geo-replication manifest and reverse plan): {@code '%'} becomes {@code %25}, TAB
 * {@code %09}, LF {@code %0A}, CR {@code %0D}; every other character stands for itself. So a field
 * (a file name may hold any of them) never splits a line or a record. Stateless and thread-safe.
 */
public final class FieldEscape {
    private FieldEscape() {}

    /** {@code s} with {@code %}, TAB, LF and CR escaped. */
    public static String escape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '%' -> b.append("%25");
                case '\t' -> b.append("%09");
                case '\n' -> b.append("%0A");
                case '\r' -> b.append("%0D");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    /**
     * The field {@link #escape} made {@code s} from.
     *
     * @throws IllegalArgumentException if {@code s} holds a {@code %} that is not one of the four
     *     escapes (or is cut short)
     */
    public static String unescape(String s) {
        if (s.indexOf('%') < 0) {
            return s;
        }
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '%') {
                b.append(c);
                continue;
            }
            if (i + 2 >= s.length()) {
                throw new IllegalArgumentException("bad escape in '" + s + "'");
            }
            String hex = s.substring(i + 1, i + 3);
            switch (hex) {
                case "25" -> b.append('%');
                case "09" -> b.append('\t');
                case "0A" -> b.append('\n');
                case "0D" -> b.append('\r');
                default -> throw new IllegalArgumentException("bad escape %" + hex);
            }
            i += 2;
        }
        return b.toString();
    }
}
