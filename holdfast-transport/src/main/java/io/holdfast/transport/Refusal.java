package io.holdfast.transport;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Response;
import java.io.IOException;
import org.apache.ratis.thirdparty.io.grpc.Status;
import org.apache.ratis.thirdparty.io.grpc.StatusRuntimeException;

/**
 * How a node says "no" to a client, in the one place both sides read: the node encodes here and
 * the client decodes here.
 *
 * <ul>
 *   <li><b>A request refused before it is logged</b> (bad checksum, malformed, access denied,
 *       disk reserve, quarantined member): the node fails the Ratis transaction with an
 *       exception whose message is {@code HOLDFAST-ERRNO:<errno name>:<message>}
 *       ({@link #exception}); Ratis carries the message to the client, which turns it back into
 *       a {@link Response.Error} ({@link #decode}).
 *   <li><b>A connection refused for a limit</b>: the node's gRPC gate closes calls with
 *       {@code RESOURCE_EXHAUSTED} ({@link #connectionLimit}); the client recognises it
 *       ({@link #isConnectionLimit}) to say why it cannot connect.
 * </ul>
 *
 * <p>Other refusals are Ratis's own (a member that does not serve the group answers
 * {@code GroupMismatchException}; a wrong cluster CA fails the TLS handshake). Stateless.
 */
public final class Refusal {
    /**
     * Prefix of the message of an exception a node refuses a request with; the errno name and a
     * message follow, separated by ':'.
     */
    static final String PREFIX = "HOLDFAST-ERRNO:";

    private Refusal() {}

    /** The message a node refuses a request with; read back by {@link #decode}. */
    static String encode(Errno errno, String message) {
        return PREFIX + errno.name() + ":" + message;
    }

    /**
     * The exception a node fails a transaction with to refuse it with {@code error}'s errno and
     * message (without the {@code "ERRNO: "} prefix that {@link HoldfastException} adds).
     */
    public static IOException exception(HoldfastException error) {
        String message = error.getMessage();
        String prefix = error.errno() + ": ";
        return new IOException(
                encode(error.errno(), message.startsWith(prefix) ? message.substring(prefix.length()) : message));
    }

    /**
     * A node's refusal found in {@code t} or its causes, or null if there is none. An errno name
     * this side does not know becomes {@link Errno#EIO} with the rest of the message.
     */
    public static Response.Error decode(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            String msg = c.getMessage();
            int i = msg == null ? -1 : msg.indexOf(PREFIX);
            if (i >= 0) {
                String rest = msg.substring(i + PREFIX.length());
                int colon = rest.indexOf(':');
                try {
                    Errno errno = Errno.valueOf(colon < 0 ? rest : rest.substring(0, colon));
                    if (errno != Errno.OK) {
                        return new Response.Error(errno, colon < 0 ? "" : rest.substring(colon + 1));
                    }
                } catch (IllegalArgumentException ignored) {
                    return new Response.Error(Errno.EIO, rest);
                }
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return null;
    }

    /** The status a node closes a call with when the caller is past a connection limit. */
    public static Status connectionLimit(String description) {
        return Status.RESOURCE_EXHAUSTED.withDescription(description);
    }

    /**
     * Whether {@code t} or one of its causes is a node's {@link #connectionLimit} refusal, as a
     * gRPC status or as the text Ratis made of one.
     */
    public static boolean isConnectionLimit(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof StatusRuntimeException s && s.getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED
                    || String.valueOf(c.getMessage()).contains(Status.Code.RESOURCE_EXHAUSTED.name())) {
                return true;
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return false;
    }
}
