package io.holdfast.cli;

import io.holdfast.protocol.ClusterMap;
import io.holdfast.server.NodeConfig;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.UUID;

/**
 * The node configuration file {@code holdfast.conf} in a node's data directory, written by
 * {@code holdfast cluster init} and read by {@code holdfast server}. Java properties:
 * {@code cluster.id}, {@code node.address}, {@code cluster.peers} (comma separated),
 * {@code snapshot.threshold}.
 */
final class NodeFiles {
    static final String FILE = "holdfast.conf";

    private NodeFiles() {}

    static void write(NodeConfig c) throws IOException {
        Files.createDirectories(c.dataDir());
        Properties p = new Properties();
        p.setProperty("cluster.id", c.clusterId().toString());
        p.setProperty("node.address", c.address());
        p.setProperty("cluster.peers", String.join(",", c.peers()));
        p.setProperty("snapshot.threshold", Long.toString(c.snapshotThreshold()));
        Path file = c.dataDir().resolve(FILE);
        if (Files.exists(file)) {
            throw new IllegalArgumentException(file + " already exists: this directory is already initialized");
        }
        try (Writer w = Files.newBufferedWriter(file)) {
            p.store(w, "Holdfast node configuration (written by holdfast cluster init)");
        }
    }

    static NodeConfig read(Path dataDir) throws IOException {
        Path file = dataDir.resolve(FILE);
        if (!Files.exists(file)) {
            throw new IllegalArgumentException("no " + FILE + " in " + dataDir + ": run 'holdfast cluster init --data "
                    + dataDir + " --address HOST:PORT --peers A,B,C' first");
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file)) {
            p.load(r);
        }
        try {
            return new NodeConfig(
                    dataDir,
                    req(p, "node.address", file),
                    peers(req(p, "cluster.peers", file)),
                    UUID.fromString(req(p, "cluster.id", file)),
                    Long.parseLong(p.getProperty("snapshot.threshold", "20000")));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    static List<String> peers(String csv) {
        List<String> peers = Arrays.stream(csv.split(","))
                .map(String::trim)
                .filter(s -> !s.isEmpty())
                .toList();
        peers.forEach(ClusterMap::checkAddress);
        return peers;
    }

    private static String req(Properties p, String key, Path file) {
        String v = p.getProperty(key);
        if (v == null || v.isBlank()) {
            throw new IllegalArgumentException(file + " lacks " + key);
        }
        return v.trim();
    }
}
