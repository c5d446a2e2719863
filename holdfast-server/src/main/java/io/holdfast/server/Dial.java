package io.holdfast.server;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * One TCP connection attempt to a node's address, closed at once: what the status page's liveness
 * probe and {@link LeaderWatch} learn about a peer without speaking its protocol.
 *
 * <p>Thread-safe (no state).
 */
public final class Dial {
    private Dial() {}

    /** What an attempt found. */
    public enum Outcome {
        /** Something listens there. */
        ACCEPTED,
        /** The host answered that nothing listens there (a TCP reset: the process is gone). */
        REFUSED,
        /** Timed out, unreachable, unresolvable or malformed: nothing is known. */
        FAILED
    }

    /**
     * Connects to {@code hostPort} ({@code host:port}, an IPv6 host in brackets) with a timeout.
     *
     * @param timeoutMillis the connect timeout, milliseconds
     */
    public static Outcome attempt(String hostPort, int timeoutMillis) {
        try (Socket s = new Socket()) {
            int colon = hostPort.lastIndexOf(':');
            String host = hostPort.substring(0, colon);
            if (host.startsWith("[") && host.endsWith("]")) {
                host = host.substring(1, host.length() - 1);
            }
            s.connect(new InetSocketAddress(host, Integer.parseInt(hostPort.substring(colon + 1))), timeoutMillis);
            return Outcome.ACCEPTED;
        } catch (ConnectException e) { // also thrown for an OS-level timeout: only a refusal counts
            return e.getMessage() != null && e.getMessage().contains("refused") ? Outcome.REFUSED : Outcome.FAILED;
        } catch (IOException | RuntimeException e) {
            return Outcome.FAILED;
        }
    }
}
