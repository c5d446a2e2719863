package io.holdfast.transport;

import io.holdfast.protocol.ClusterMap;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;

/** Raft ids derived from Holdfast names. Shared by nodes and clients; stable forever. */
public final class ClusterIds {
    private ClusterIds() {}

    /**
     * The cluster group's id. It is the same in every cluster, so a client that knows one node's
     * address can ask it for the cluster map; the map carries the cluster's own id.
     */
    public static final RaftGroupId CLUSTER_GROUP =
            RaftGroupId.valueOf(UUID.nameUUIDFromBytes("holdfast-cluster-group".getBytes(StandardCharsets.UTF_8)));

    /** A volume's replica group id. */
    public static UUID volumeGroup(UUID clusterId, String volume) {
        return UUID.nameUUIDFromBytes(("holdfast-volume:" + clusterId + ":" + volume).getBytes(StandardCharsets.UTF_8));
    }

    /** The Raft peer for a node address. */
    public static RaftPeer peer(String address) {
        return RaftPeer.newBuilder()
                .setId(RaftPeerId.valueOf(ClusterMap.peerId(address)))
                .setAddress(address)
                .build();
    }

    /** A Raft group of the given members. */
    public static RaftGroup group(RaftGroupId id, List<String> addresses) {
        List<RaftPeer> peers = new ArrayList<>();
        for (String a : addresses) {
            peers.add(peer(a));
        }
        return RaftGroup.valueOf(id, peers);
    }
}
