package io.holdfast.common;

import java.io.IOException;
import java.util.Objects;

/**
 * An operating error reported by a Holdfast node or client, carrying the POSIX error number
 * that best describes it (for example {@link Errno#ENOENT} for a missing path).
 *
 * <p>This is the typed error callers handle; programming errors are reported with
 * {@link IllegalArgumentException} and {@link IllegalStateException} instead.
 */
public class HoldfastException extends IOException {
    private static final long serialVersionUID = 1L;
    private final Errno errno;

    /**
     * Creates an exception.
     *
     * @param errno the error number, never {@link Errno#OK}
     * @param message what went wrong, naming the resource involved
     */
    public HoldfastException(Errno errno, String message) {
        super(errno + ": " + message);
        if (errno == Errno.OK) {
            throw new IllegalArgumentException("an error cannot carry OK");
        }
        this.errno = Objects.requireNonNull(errno);
    }

    /** Creates an exception with a cause. */
    public HoldfastException(Errno errno, String message, Throwable cause) {
        this(errno, message);
        initCause(cause);
    }

    /** The POSIX error number. */
    public Errno errno() {
        return errno;
    }
}
