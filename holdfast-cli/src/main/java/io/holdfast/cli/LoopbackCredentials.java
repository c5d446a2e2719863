package io.holdfast.cli;

import io.holdfast.server.CertificateAuthority;
import io.holdfast.server.NodeConfig;
import io.holdfast.server.NodeSecurity;
import io.holdfast.transport.Role;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The TLS material of a cluster whose nodes all listen on this machine's loopback address (the
 * demo): a cluster CA, one node certificate per node, and an admin
 * client certificate. Every connection is then mutual TLS 1.3, as in a real cluster.
 */
final class LoopbackCredentials {
    private LoopbackCredentials() {}

    /**
     * Creates a cluster CA in {@code caDir} named after the nodes' cluster id, issues each node's
     * certificate (its address as the name, {@code 127.0.0.1} as the host) into its data
     * directory's {@code tls/}, and an admin client certificate into {@code adminTls}.
     *
     * @param nodes the nodes, all of one cluster (at least one)
     * @throws IllegalArgumentException if {@code nodes} is empty or spans clusters
     * @throws IOException if a directory cannot be written
     */
    static void issue(Path caDir, List<NodeConfig> nodes, Path adminTls) throws IOException {
        if (nodes.isEmpty()
                || nodes.stream().map(NodeConfig::clusterId).distinct().count() != 1) {
            throw new IllegalArgumentException("nodes of exactly one cluster expected, got " + nodes);
        }
        CertificateAuthority ca =
                CertificateAuthority.create(caDir, nodes.getFirst().clusterId().toString());
        for (NodeConfig n : nodes) {
            ca.issue(n.address(), Role.NODE, List.of("127.0.0.1")).writeTo(NodeSecurity.tlsDirectory(n.dataDir()));
        }
        ca.issue("admin", Role.ADMIN, List.of()).writeTo(adminTls);
    }
}
