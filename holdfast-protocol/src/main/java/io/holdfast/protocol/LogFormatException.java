package io.holdfast.protocol;

import io.holdfast.common.Errno;
import java.util.Objects;

/**
 * A replicated log entry this member cannot apply as written: its log format is outside the
 * range this code supports, it names a kind this code does not know, or its bytes are corrupt.
 * Unlike a policy refusal (EACCES, EROFS, ENOSPC, decided the same way on every member), this
 * is a property of the member's code, not of the entry: a member that meets it stops applying
 * rather than skip the entry and diverge from members that can apply it (see {@link LogFormat}).
 */
public final class LogFormatException extends ProtocolException {
    private static final long serialVersionUID = 1L;

    /** Why the entry cannot be applied. */
    public enum Reason {
        /** The entry's log format is below {@link LogFormat#MIN}: written by code this member no longer reads. */
        TOO_OLD,
        /** The entry's log format is above the highest this member supports: upgrade this member. */
        TOO_NEW,
        /** The entry's format is supported but its kind is not known to this code. */
        UNKNOWN_KIND,
        /** The bytes do not decode (checksum, truncation, a field out of range, a kind its format cannot hold). */
        CORRUPT
    }

    private final Reason reason;
    private final int format;

    /**
     * @param reason why
     * @param format the log format the entry states, or 0 if it could not be read
     * @param message what was found, without the resource (the caller adds group and index)
     */
    public LogFormatException(Reason reason, int format, String message) {
        super(reason == Reason.CORRUPT ? Errno.EBADMSG : Errno.EPROTO, message);
        this.reason = Objects.requireNonNull(reason, "reason");
        this.format = format;
    }

    /** Why the entry cannot be applied. */
    public Reason reason() {
        return reason;
    }

    /** The log format the entry states, or 0 if it could not be read. */
    public int format() {
        return format;
    }
}
