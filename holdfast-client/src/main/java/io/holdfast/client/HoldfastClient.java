package io.holdfast.client;

import io.holdfast.protocol.ClusterCommand;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.Errno;
import io.holdfast.protocol.HoldfastException;
import io.holdfast.protocol.ProtocolException;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;

/**
 * A connection to a Holdfast cluster: the cluster map, and one Raft client per volume.
 *
 * <p>{@link #connect} asks the node at {@code host:port} for the cluster map, then talks to
 * the cluster group's members. {@link #volume} returns a {@link VolumeService} for one volume;
 * it is owned by this client and closed with it.
 *
 * <p>Options ({@code env}): {@code holdfast.deadline} — per-request deadline as a
 * {@link Duration} or milliseconds (default 30 s).
 *
 * <p>Thread-safe.
 */
public final class HoldfastClient implements AutoCloseable {
  /** Default per-request deadline. */
  public static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(30);

  private final RaftProperties properties;
  private final Duration deadline;
  private final RaftClient cluster;
  private final Map<String, RaftVolumeService> volumes = new LinkedHashMap<>();
  private volatile ClusterMap map;
  private boolean closed;

  private HoldfastClient(RaftProperties properties, Duration deadline, RaftClient cluster, ClusterMap map) {
    this.properties = properties;
    this.deadline = deadline;
    this.cluster = cluster;
    this.map = map;
  }

  /**
   * Connects to the cluster that the node at {@code host:port} belongs to.
   *
   * @param env options (see the class comment); unknown keys are ignored
   * @throws HoldfastException {@link Errno#ETIMEDOUT} or {@link Errno#EIO} if the node does
   *     not answer, {@link Errno#EPROTO} if it answers with something else than a cluster map
   * @throws IllegalArgumentException if an option has the wrong type
   */
  public static HoldfastClient connect(String host, int port, Map<String, ?> env) throws HoldfastException {
    Duration deadline = duration(env.get("holdfast.deadline"), DEFAULT_DEADLINE);
    RaftProperties props = new RaftProperties();
    RaftClientConfigKeys.Rpc.setRequestTimeout(props, TimeDuration.valueOf(3, TimeUnit.SECONDS));
    RaftClientConfigKeys.Async.setOutstandingRequestsMax(props, 512);
    GrpcConfigKeys.setMessageSizeMax(props, SizeInBytes.valueOf("32MB"));
    String address = host + ":" + port;
    ClusterMap.checkAddress(address);
    ClusterMap first;
    try (RaftClient boot = newClient(props, RaftGroup.valueOf(ClusterIds.CLUSTER_GROUP, ClusterIds.peer(address)), true)) {
      RaftClientReply reply = await(boot.async().sendStaleRead(getMap(), 0, ClusterIds.peer(address).getId()), deadline, "cluster map from " + address);
      first = decodeMap(reply, address);
    } catch (IOException e) {
      throw e instanceof HoldfastException h ? h : new HoldfastException(Errno.EIO, "cannot reach " + address + ": " + e.getMessage(), e);
    }
    List<String> groupMembers = first.nodes().subList(0, Math.min(3, first.nodes().size()));
    RaftClient cluster = newClient(props, ClusterIds.group(ClusterIds.CLUSTER_GROUP, groupMembers), false);
    return new HoldfastClient(props, deadline, cluster, first);
  }

  /**
   * A Raft client. {@code noRetry}: give up after the first failure (for bootstrap and for reads
   * pinned to one member, where the caller picks another target itself).
   */
  private static RaftClient newClient(RaftProperties props, RaftGroup group, boolean noRetry) {
    return RaftClient.newBuilder()
        .setProperties(props)
        .setRaftGroup(group)
        .setClientId(ClientId.randomId())
        .setRetryPolicy(noRetry
            ? RetryPolicies.noRetry()
            : RetryPolicies.retryForeverWithSleep(TimeDuration.valueOf(50, TimeUnit.MILLISECONDS)))
        .build();
  }

  private static Message getMap() {
    return Message.valueOf(ByteString.copyFrom(ClusterCommand.encode(new ClusterCommand.GetMap())));
  }

  private static ClusterMap decodeMap(RaftClientReply reply, String from) throws HoldfastException {
    if (!reply.isSuccess()) {
      throw new HoldfastException(Errno.EIO, "cluster group at " + from + " failed: " + reply.getException());
    }
    byte[] bytes = reply.getMessage().getContent().toByteArray();
    if (bytes.length >= 2 && bytes[0] == 'H' && bytes[1] == 'F') {
      Response r = Codec.decodeResponse(bytes);
      if (r instanceof Response.Error e) {
        throw e.toException();
      }
      throw new ProtocolException(Errno.EPROTO, "unexpected reply from " + from + ": " + r);
    }
    return ClusterMap.decode(bytes);
  }

  private static RaftClientReply await(CompletableFuture<RaftClientReply> f, Duration deadline, String what)
      throws HoldfastException {
    try {
      return f.get(deadline.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new HoldfastException(Errno.ETIMEDOUT, what + ": no answer within " + deadline.toMillis() + " ms", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new HoldfastException(Errno.EIO, what + ": interrupted", e);
    } catch (ExecutionException e) {
      Response refusal = ClusterIds.parseRefusal(e.getCause());
      if (refusal instanceof Response.Error err) {
        throw err.toException();
      }
      throw new HoldfastException(Errno.EIO, what + ": " + e.getCause().getMessage(), e.getCause());
    }
  }

  /**
   * Reads the cluster map from the cluster group (linearizable) and caches it.
   *
   * @throws HoldfastException if the cluster group does not answer within the deadline
   */
  public ClusterMap refreshMap() throws HoldfastException {
    ClusterMap m = decodeMap(await(cluster.async().sendReadOnly(getMap()), deadline, "cluster map"), "cluster group");
    map = m;
    return m;
  }

  /** The cached cluster map (see {@link #refreshMap()}). */
  public ClusterMap map() {
    return map;
  }

  /**
   * Creates a volume whose replica group is {@code replicas} (node addresses).
   *
   * @return the cluster map after the change
   * @throws HoldfastException {@link Errno#EEXIST} if it exists, {@link Errno#EINVAL} for a bad
   *     name or unknown node, {@link Errno#ETIMEDOUT} if the cluster group does not answer
   */
  public ClusterMap createVolume(String name, List<String> replicas) throws HoldfastException {
    ClusterMap.checkVolumeName(name);
    Message m = Message.valueOf(ByteString.copyFrom(ClusterCommand.encode(new ClusterCommand.CreateVolume(name, replicas))));
    ClusterMap after = decodeMap(await(cluster.async().send(m), deadline, "create volume " + name), "cluster group");
    map = after;
    return after;
  }

  /**
   * Opens a volume of this cluster. The service is shared and closed with this client.
   *
   * @throws HoldfastException {@link Errno#ENOENT} if there is no such volume
   */
  public synchronized VolumeService volume(String name) throws HoldfastException {
    return raftVolume(name);
  }

  private synchronized RaftVolumeService raftVolume(String name) throws HoldfastException {
    if (closed) {
      throw new IllegalStateException("client is closed");
    }
    RaftVolumeService existing = volumes.get(name);
    if (existing != null) {
      return existing;
    }
    ClusterMap.Volume v = map.volume(name).orElse(null);
    if (v == null) {
      v = refreshMap().volume(name).orElseThrow(() ->
          new HoldfastException(Errno.ENOENT, "no volume " + name + "; volumes are " + map.volumes().keySet()));
    }
    RaftGroup group = ClusterIds.group(RaftGroupId.valueOf(v.groupId()), v.replicas());
    RaftVolumeService s = new RaftVolumeService(name, newClient(properties, group, false), newClient(properties, group, true), new ArrayList<>(group.getPeers()), deadline);
    volumes.put(name, s);
    return s;
  }

  /**
   * Asks every member of a volume's replica group for its state digest, without a read index:
   * each answer is that member's own applied state.
   *
   * @return member address → digest, or → error for a member that did not answer
   * @throws HoldfastException {@link Errno#ENOENT} if there is no such volume
   */
  public Map<String, Response> memberDigests(String volume) throws HoldfastException {
    RaftVolumeService s = raftVolume(volume);
    Map<String, Response> out = new LinkedHashMap<>();
    for (String address : map.volume(volume).orElseThrow().replicas()) {
      try {
        out.put(address, s.queryMember(ClusterIds.peer(address).getId(), new Request.GetDigest())
            .get(deadline.toMillis(), TimeUnit.MILLISECONDS));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new HoldfastException(Errno.EIO, "interrupted");
      } catch (ExecutionException | TimeoutException e) {
        Throwable c = e instanceof ExecutionException ? e.getCause() : e;
        out.put(address, new Response.Error(Errno.EIO, String.valueOf(c.getMessage())));
      }
    }
    return out;
  }

  /**
   * The address of the volume's current leader, asked of the members; empty if no member
   * answers as leader (e.g. during an election) or if there is no such volume. Blocks for up to
   * one request timeout per member that does not answer.
   */
  public java.util.Optional<String> leaderOf(String volume) {
    try {
      RaftVolumeService s = raftVolume(volume);
      return s.leader().flatMap(id -> map.volume(volume).orElseThrow().replicas().stream()
          .filter(a -> ClusterMap.peerId(a).equals(id.toString())).findFirst());
    } catch (HoldfastException e) {
      return java.util.Optional.empty();
    }
  }

  private static Duration duration(Object v, Duration dflt) {
    if (v == null) {
      return dflt;
    }
    if (v instanceof Duration d) {
      return d;
    }
    if (v instanceof Number n) {
      return Duration.ofMillis(n.longValue());
    }
    if (v instanceof String s) {
      return Duration.ofMillis(Long.parseLong(s.trim()));
    }
    throw new IllegalArgumentException("holdfast.deadline must be a Duration or milliseconds, got " + v.getClass().getName());
  }

  /** Closes every volume service and the cluster connection. Idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    volumes.values().forEach(RaftVolumeService::close);
    volumes.clear();
    try {
      cluster.close();
    } catch (IOException e) {
      // releasing connections only
    }
  }
}
