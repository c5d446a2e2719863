package io.holdfast.protocol;

import static org.assertj.core.api.Assertions.fail;

import java.util.Objects;

/**
 * Values as text that is safe in test reports. Generated strings hold NULs, control characters
 * and lone surrogates, which cut the reports short (and with them jqwik's seed); these are
 * escaped, as is everything outside printable ASCII, and long text is cut.
 */
final class Show {
    private static final int MAX_CHARS = 400;

    private Show() {}

    /** {@code o} as printable ASCII, at most about {@value #MAX_CHARS} characters. */
    static String show(Object o) {
        String s = String.valueOf(o);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            if (sb.length() >= MAX_CHARS) {
                return sb.append("… (").append(s.length()).append(" chars)").toString();
            }
            char c = s.charAt(i);
            if (c >= 0x20 && c < 0x7f) {
                sb.append(c);
            } else {
                sb.append(String.format("\\u%04x", (int) c));
            }
        }
        return sb.toString();
    }

    /** Fails, showing both values safely, unless they are equal. */
    static void assertEqual(Object actual, Object expected, String what) {
        if (!Objects.equals(actual, expected)) {
            fail(what + ": got " + show(actual) + ", expected " + show(expected));
        }
    }
}
