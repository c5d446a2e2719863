package io.holdfast.server;

import io.holdfast.transport.TlsFiles;
import io.holdfast.transport.TransportSecurity;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * How a node protects its port: TLS material and connection limits. (The catch-up rate and the
 * disk reserve are {@link NodeOptions}.)
 *
 * @param transport mutual TLS 1.3 with the node's certificate ({@code DATA/tls/node.crt}), or
 *     plaintext when started with {@code --insecure}
 * @param maxConnectionsPerClient most connections one client identity (certificate name, or
 *     address without TLS) may hold to this node; nodes are exempt (default 128)
 * @param maxConnections most client connections the node accepts in total (default 1024);
 *     connections from nodes count towards it but are never refused
 * @param requiredFeatures handshake features every client must offer (default
 *     {@code checksum=crc32c})
 */
public record NodeSecurity(
        TransportSecurity transport, int maxConnectionsPerClient, int maxConnections, List<String> requiredFeatures) {
    /** Default {@link #maxConnectionsPerClient}. */
    public static final int DEFAULT_PER_CLIENT = 128;
    /** Default {@link #maxConnections}. */
    public static final int DEFAULT_TOTAL = 1024;
    /** Default {@link #requiredFeatures}. */
    public static final List<String> DEFAULT_REQUIRED = List.of("checksum=crc32c");

    public NodeSecurity {
        Objects.requireNonNull(transport, "transport");
        requiredFeatures = List.copyOf(requiredFeatures);
        if (maxConnectionsPerClient < 1 || maxConnections < 1) {
            throw new IllegalArgumentException("connection limits must be positive");
        }
    }

    /** The directory of a node's TLS material: {@code DATA/tls}. */
    public static Path tlsDirectory(Path dataDir) {
        return dataDir.resolve("tls");
    }

    /**
     * Mutual TLS with the material in {@code DATA/tls} and default limits.
     *
     * @throws IOException if {@code ca.crt}, {@code node.crt} or {@code node.key} is missing or
     *     unusable (the message says which and how to issue them)
     */
    public static NodeSecurity tls(Path dataDir) throws IOException {
        Path dir = tlsDirectory(dataDir);
        try {
            return new NodeSecurity(
                    TransportSecurity.tls(TlsFiles.load(dir, "node")),
                    DEFAULT_PER_CLIENT,
                    DEFAULT_TOTAL,
                    DEFAULT_REQUIRED);
        } catch (IOException e) {
            throw new IOException(
                    "cannot start with TLS: " + e.getMessage()
                            + ". Issue this node's certificate with 'holdfast cert node HOST:PORT --data " + dataDir
                            + "' on the machine that holds the cluster CA (or run with --insecure, plaintext)",
                    e);
        }
    }

    /** Plaintext with default limits (only with {@code --insecure}). */
    public static NodeSecurity plaintext() {
        return new NodeSecurity(TransportSecurity.plaintext(), DEFAULT_PER_CLIENT, DEFAULT_TOTAL, DEFAULT_REQUIRED);
    }

    /** These settings with other connection limits. */
    public NodeSecurity withLimits(int perClient, int total) {
        return new NodeSecurity(transport, perClient, total, requiredFeatures);
    }

    /** These settings with other required features. */
    public NodeSecurity withRequired(List<String> features) {
        return new NodeSecurity(transport, maxConnectionsPerClient, maxConnections, features);
    }
}
