package io.holdfast.mirror;

import java.io.IOException;
import java.util.Objects;

/**
 * Change capture cannot work here, for a reason a caller can act on (fall back to another kind of
 * capture, or to periodic full comparison): the message says what failed and why, the
 * {@link #reason()} says which kind of failure it was.
 */
public final class ChangeCaptureUnavailableException extends IOException {
    /** Why capture is unavailable. */
    public enum Reason {
        /** The operating system is not Linux. */
        NOT_LINUX,
        /** The JVM denies this code native access ({@code --enable-native-access}). */
        NO_NATIVE_ACCESS,
        /** The process lacks the privilege the call needs ({@code EPERM}: not root / no CAP_SYS_ADMIN). */
        NO_PERMISSION,
        /**
         * The file system holding the directory cannot report file ids ({@code ENODEV},
         * {@code EOPNOTSUPP}, {@code EXDEV}: e.g. FUSE, a btrfs subvolume, older tmpfs).
         */
        UNSUPPORTED_FILE_SYSTEM,
        /** The kernel lacks the feature ({@code EINVAL} for a newer flag, {@code ENOSYS}). */
        KERNEL_TOO_OLD,
        /** The kernel refused for another reason (a limit on groups or marks, out of memory...). */
        REFUSED
    }

    private final Reason reason;

    /**
     * @param reason which kind of failure
     * @param message what failed and why
     * @param cause the underlying exception, or null
     */
    public ChangeCaptureUnavailableException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    /** Which kind of failure this is. */
    public Reason reason() {
        return reason;
    }
}
