package io.holdfast.storage;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;

/**
 * An operation's POSIX outcome ({@code ENOENT}, {@code EACCES}, ...) decided at apply or query
 * time: deterministic, part of the answer, never a failure of the brick. Thrown without a stack
 * trace; {@link Brick#apply} and {@link Brick#query} turn it into a {@code Response.Error}.
 */
final class Fail extends Exception {
    private static final long serialVersionUID = 1L;
    final transient Errno errno;

    Fail(Errno errno, String message) {
        super(message, null, false, false);
        this.errno = errno;
    }

    /** The message of {@code e} without the {@code "ERRNO: "} prefix {@link HoldfastException} adds. */
    static String detail(HoldfastException e) {
        String m = e.getMessage();
        String p = e.errno() + ": ";
        return m != null && m.startsWith(p) ? m.substring(p.length()) : String.valueOf(m);
    }
}
