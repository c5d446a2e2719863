package io.holdfast.server.admin;

import io.holdfast.server.NodeConfig;
import java.util.Locale;
import java.util.Objects;

/**
 * Where a node serves its admin HTTP port: Prometheus metrics ({@code /metrics}), the status
 * page ({@code /}), the same as JSON ({@code /status.json}) and {@code /healthz}.
 *
 * <p>The port is <b>unauthenticated</b> and read-only: it tells anyone who reaches it the
 * cluster's nodes, volume names, group ids and load. It therefore listens on loopback by
 * default ({@code 127.0.0.1}, on the node's port + {@value #PORT_OFFSET}); bind it to another
 * address only on a trusted network.
 *
 * @param enabled false: no admin port at all ({@code --admin-address off})
 * @param host the address to bind (a literal IP or a host name); ignored when disabled
 * @param port the port to bind, 0 for an ephemeral one (tests); ignored when disabled
 */
public record AdminOptions(boolean enabled, String host, int port) {
    /** The default admin port is the node's port plus this. */
    public static final int PORT_OFFSET = 1000;

    /**
     * Checks the options.
     *
     * @throws IllegalArgumentException if enabled with an empty host or a port outside 0–65535
     */
    public AdminOptions {
        if (enabled) {
            Objects.requireNonNull(host, "host");
            if (host.isBlank()) {
                throw new IllegalArgumentException("admin address needs a host, e.g. 127.0.0.1:8001");
            }
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("admin port must be 0-65535, got " + port);
            }
        } else {
            host = "";
            port = 0;
        }
    }

    /** No admin port. */
    public static AdminOptions off() {
        return new AdminOptions(false, "", 0);
    }

    /** The admin port at {@code host:port} (port 0: ephemeral). */
    public static AdminOptions at(String host, int port) {
        return new AdminOptions(true, host, port);
    }

    /**
     * The default for a node: loopback, on the node's port + {@value #PORT_OFFSET}.
     *
     * @throws IllegalArgumentException if that port would be beyond 65535 (the message says to
     *     pass {@code --admin-address})
     */
    public static AdminOptions defaultFor(NodeConfig config) {
        int port = config.port() + PORT_OFFSET;
        if (port > 65535) {
            throw new IllegalArgumentException("the default admin port (node port " + config.port() + " + "
                    + PORT_OFFSET + ") is beyond 65535; pass --admin-address HOST:PORT or --admin-address off");
        }
        return at("127.0.0.1", port);
    }

    /**
     * Parses {@code --admin-address}: {@code off}, or {@code HOST:PORT}.
     *
     * @param spec the option's value; null means the default for {@code config}
     * @throws IllegalArgumentException if it is neither
     */
    public static AdminOptions parse(String spec, NodeConfig config) {
        if (spec == null) {
            return defaultFor(config);
        }
        String s = spec.trim();
        if (s.toLowerCase(Locale.ROOT).equals("off")) {
            return off();
        }
        int colon = s.lastIndexOf(':');
        String host = colon > 0 ? s.substring(0, colon) : "";
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1); // [::1]:8001
        }
        int port;
        try {
            port = colon > 0 ? Integer.parseInt(s.substring(colon + 1)) : -1;
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (host.isBlank() || port < 0 || port > 65535) {
            throw new IllegalArgumentException(
                    "--admin-address must be HOST:PORT (port 0-65535, 0 for any free one) or off, got \"" + spec
                            + "\"");
        }
        return at(host, port);
    }

    /** {@code host:port} ({@code [host]:port} for an IPv6 literal), or {@code off}. */
    @Override
    public String toString() {
        if (!enabled) {
            return "off";
        }
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }
}
