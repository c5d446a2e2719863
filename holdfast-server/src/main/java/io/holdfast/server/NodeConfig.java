package io.holdfast.server;

import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.LogFormat;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * How to run one Holdfast node.
 *
 * @param dataDir where the node keeps its Raft logs ({@code raft/}) and bricks ({@code bricks/})
 * @param address this node's {@code host:port}; it listens there and is named by it
 * @param peers the cluster's initial nodes ({@code host:port}); the first three form the
 *     cluster group that holds the cluster map. A node added at run time ({@code holdfast
 *     cluster add-node}) is not among them: it is configured with the initial peers, to find
 *     the cluster group
 * @param clusterId the cluster's identity, the same on every node
 * @param snapshotThreshold applied entries between automatic snapshots (default 20,000)
 * @param maxLogFormat the newest log format this node reads, advertises and lets its groups log
 *     ({@link LogFormat#newest()} normally; lower only to simulate older code in upgrade tests)
 */
public record NodeConfig(
        Path dataDir, String address, List<String> peers, UUID clusterId, long snapshotThreshold, int maxLogFormat) {

    /** A node that supports every log format this code reads. */
    public NodeConfig(Path dataDir, String address, List<String> peers, UUID clusterId, long snapshotThreshold) {
        this(dataDir, address, peers, clusterId, snapshotThreshold, LogFormat.newest());
    }

    /** This configuration with another {@link #maxLogFormat}. */
    public NodeConfig withMaxLogFormat(int max) {
        return new NodeConfig(dataDir, address, peers, clusterId, snapshotThreshold, max);
    }

    /**
     * Checks the configuration.
     *
     * @throws IllegalArgumentException if an address is malformed, the peers are empty or have
     *     duplicates, the threshold is not positive, or the log format is not one this code reads
     */
    public NodeConfig {
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(clusterId, "clusterId");
        ClusterMap.checkAddress(address);
        peers = List.copyOf(peers);
        if (peers.isEmpty()) {
            throw new IllegalArgumentException("no peers given");
        }
        peers.forEach(ClusterMap::checkAddress);
        if (peers.stream().distinct().count() != peers.size()) {
            throw new IllegalArgumentException("duplicate peers in " + peers);
        }
        if (snapshotThreshold <= 0) {
            throw new IllegalArgumentException("snapshotThreshold must be positive, got " + snapshotThreshold);
        }
        if (maxLogFormat < LogFormat.MIN || maxLogFormat > LogFormat.newest()) {
            throw new IllegalArgumentException("maxLogFormat " + maxLogFormat + " outside the formats this code reads, "
                    + LogFormat.range(LogFormat.MIN, LogFormat.newest()));
        }
    }

    /** Whether this node is one of the initial peers (otherwise it joins with {@code add-node}). */
    public boolean initialPeer() {
        return peers.contains(address);
    }

    /** The nodes of the cluster group: the first three peers. */
    public List<String> clusterGroupMembers() {
        return ClusterMap.clusterGroup(peers);
    }

    /** The port this node listens on. */
    public int port() {
        return Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
    }

    /** The host this node listens on. */
    public String host() {
        return address.substring(0, address.lastIndexOf(':'));
    }
}
