package io.holdfast.server;

import io.holdfast.protocol.ClusterMap;
import java.util.Map;
import java.util.Objects;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerRpcWithProxy;

/**
 * Where a node listens and how it reaches its peers when that differs from its address: for
 * tests that put a fault-injecting proxy between nodes (holdfast-testkit's {@code FaultyNetwork}).
 * A real node runs {@link #DIRECT}: it listens on its address and dials its peers' addresses.
 *
 * <p>A node's address stays its name everywhere (Raft peer id, cluster map, certificates,
 * Raft configurations); only the sockets change. The routes cover the node's Raft
 * server-to-server connections (appends, votes, snapshots, read indexes), which Ratis dials
 * from the Raft configuration: each route is registered with the node's Ratis RPC before its
 * groups start, and Ratis keeps the first address it learns for a peer id. The node's own
 * Raft clients (scrub repair reads, the map follower of a node outside the cluster group) and
 * its liveness probes dial the peers' addresses, like any client.
 *
 * @param listen {@code host:port} the node's Raft server binds, or null for its own address
 * @param peerRoutes peer address → {@code host:port} this node dials to reach that peer; peers
 *     not named are dialed at their address
 */
public record NodeNetwork(String listen, Map<String, String> peerRoutes) {
    /** Listen on the node's address and dial the peers' addresses. */
    public static final NodeNetwork DIRECT = new NodeNetwork(null, Map.of());

    /**
     * Checks the addresses.
     *
     * @throws IllegalArgumentException if an address is malformed
     */
    public NodeNetwork {
        if (listen != null) {
            ClusterMap.checkAddress(listen);
        }
        peerRoutes = Map.copyOf(Objects.requireNonNull(peerRoutes, "peerRoutes"));
        peerRoutes.forEach((peer, via) -> {
            ClusterMap.checkAddress(peer);
            ClusterMap.checkAddress(via);
        });
    }

    /** The address to bind: {@link #listen} or else the node's own. */
    String listenAddress(NodeConfig config) {
        return listen == null ? config.address() : listen;
    }

    /** Whether any peer is reached through a route. */
    boolean routed() {
        return !peerRoutes.isEmpty();
    }

    /**
     * Registers the routes with {@code server}'s RPC, before any of its groups starts (Ratis
     * keeps the first address registered for a peer id, and creates connections lazily).
     *
     * @throws IllegalStateException if the server's RPC keeps no per-peer proxies (not gRPC)
     */
    void register(RaftServer server) {
        if (!routed()) {
            return;
        }
        if (!(server.getServerRpc() instanceof RaftServerRpcWithProxy<?, ?> rpc)) {
            throw new IllegalStateException("cannot route peers through "
                    + server.getServerRpc().getClass().getName());
        }
        peerRoutes.forEach((peer, via) -> rpc.getProxies()
                .computeIfAbsent(RaftPeer.newBuilder()
                        .setId(ClusterMap.peerId(peer))
                        .setAddress(via)
                        .build()));
    }
}
