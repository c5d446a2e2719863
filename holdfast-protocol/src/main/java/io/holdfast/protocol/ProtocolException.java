package io.holdfast.protocol;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;

/**
 * A message could not be decoded: it is truncated, corrupt, over a size limit, or from an
 * unsupported protocol version. A node answers such a message with an error and changes
 * nothing.
 */
public class ProtocolException extends HoldfastException {
    private static final long serialVersionUID = 1L;

    /** Creates an exception; {@code errno} is {@link Errno#EPROTO} or {@link Errno#EBADMSG}. */
    public ProtocolException(Errno errno, String message) {
        super(errno, message);
    }
}
