package io.holdfast.client;

import io.holdfast.protocol.ClusterMap;
import io.holdfast.common.Errno;
import io.holdfast.protocol.Response;
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
  /**
   * Prefix of the message of an exception a node raises when it refuses a request before
   * logging it (bad checksum, malformed); the errno name and a message follow, separated by
   * ':'. Clients turn it back into a {@link io.holdfast.protocol.Response.Error}.
   */
  public static final String REFUSAL_PREFIX = "HOLDFAST-ERRNO:";

  private ClusterIds() {}

  /** The exception message a node refuses a request with; read back by {@link #parseRefusal}. */
  public static String refusal(Errno errno, String message) {
    return REFUSAL_PREFIX + errno.name() + ":" + message;
  }

  /** A node's refusal before logging, carried as an exception message; null if not one. */
  static Response.Error parseRefusal(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      String msg = c.getMessage();
      int i = msg == null ? -1 : msg.indexOf(REFUSAL_PREFIX);
      if (i >= 0) {
        String rest = msg.substring(i + REFUSAL_PREFIX.length());
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
    return RaftPeer.newBuilder().setId(RaftPeerId.valueOf(ClusterMap.peerId(address))).setAddress(address).build();
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
