package io.holdfast.server;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Access;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Placement;
import io.holdfast.transport.Peer;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * Enforces export ACLs on one node, from the cluster map this node last applied: a change
 * takes effect on the next request after the node applies it (milliseconds after it commits),
 * for existing connections too.
 *
 * <p>Nodes and the admin (and every peer of a plaintext node) have full access; a client gets
 * what the volume's first matching {@link io.holdfast.protocol.AclRule} grants, else nothing.
 * A node that holds no copy of the cluster map (not a member of the cluster group) denies
 * clients. Thread-safe.
 */
public final class AccessControl {
    private volatile Map<UUID, ClusterMap.Volume> byGroup = Map.of();
    private volatile ClusterMap map;

    /** Called by the cluster state machine whenever its map changes. */
    void update(ClusterMap map) {
        this.map = map;
        byGroup = Placement.volumesByGroup(map);
    }

    /** The latest cluster map this node knows, or an empty one of no cluster before it knows any. */
    public ClusterMap map() {
        ClusterMap m = map;
        return m != null ? m : new ClusterMap(0, new UUID(0, 0), List.of(), Map.of());
    }

    /** The volume served by {@code groupId}, if this node's map has it. */
    Optional<ClusterMap.Volume> volume(UUID groupId) {
        return Optional.ofNullable(byGroup.get(groupId));
    }

    /** The name of the volume served by {@code groupId}, if this node's map has it. */
    public Optional<String> volumeName(UUID groupId) {
        return volume(groupId).map(ClusterMap.Volume::name);
    }

    /**
     * Checks that {@code peer} may read (or write) the volume served by {@code groupId}.
     *
     * @return the peer's access: {@link Access#READ_WRITE} or, for a read, possibly
     *     {@link Access#READ_ONLY}
     * @throws HoldfastException {@link Errno#EACCES} if the ACL grants nothing,
     *     {@link Errno#EROFS} for a write under a read-only rule
     */
    public Access check(Peer peer, UUID groupId, boolean write) throws HoldfastException {
        if (peer.role().privileged()) {
            return Access.READ_WRITE;
        }
        ClusterMap.Volume v = byGroup.get(groupId);
        if (v == null) {
            throw new HoldfastException(
                    Errno.EACCES,
                    "this node knows no export ACL for volume group " + groupId + "; access denied to " + peer);
        }
        Access a = v.accessFor(peer.name(), peer.address());
        if (a == Access.NONE) {
            throw new HoldfastException(
                    Errno.EACCES,
                    "volume " + v.name() + " is not exported to " + peer
                            + " (no ACL rule grants it; see 'holdfast volume acl " + v.name() + " list')");
        }
        if (write && a == Access.READ_ONLY) {
            throw new HoldfastException(Errno.EROFS, "volume " + v.name() + " is exported read-only to " + peer);
        }
        return a;
    }

    /**
     * Checks that {@code peer} may change the cluster map.
     *
     * @throws HoldfastException {@link Errno#EACCES} unless it is the admin or a node
     */
    static void checkAdmin(Peer peer) throws HoldfastException {
        if (!peer.role().privileged()) {
            throw new HoldfastException(
                    Errno.EACCES, "cluster commands need the admin certificate; " + peer + " is not the admin");
        }
    }
}
