package io.holdfast.client;

import io.holdfast.client.security.TransportSecurity;
import io.holdfast.protocol.AclRule;
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
import org.apache.ratis.conf.Parameters;
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
 * <p>Options ({@code env}):
 *
 * <ul>
 *   <li>{@code holdfast.deadline}: per-request deadline as a {@link Duration} or milliseconds
 *       (default 30 s);
 *   <li>{@code holdfast.tls}: directory with {@code ca.crt}, {@code client.crt} and
 *       {@code client.key} (default {@code $HOLDFAST_TLS}, else {@code ~/.holdfast/tls}); see
 *       {@link TransportSecurity#forClient};
 *   <li>{@code holdfast.insecure}: {@code true} for plaintext without a certificate (the node
 *       must run with {@code --insecure} too);
 *   <li>{@code holdfast.require}: features (comma separated, or a List) the node must offer in
 *       the handshake besides {@code checksum=crc32c}, e.g. {@code compression=zstd}.
 * </ul>
 *
 * <p>On connecting, the client and the node exchange {@link ClusterCommand.Hello}s (protocol
 * version ranges and features); either side refuses an incompatible peer with a message that
 * names both sides' versions or the missing feature.
 *
 * <p>Thread-safe.
 */
public final class HoldfastClient implements AutoCloseable {
  /** Default per-request deadline. */
  public static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(30);

  /** Client option: extra features the node must offer (comma separated String, or a List). */
  public static final String REQUIRE_OPTION = "holdfast.require";

  private final RaftProperties properties;
  private final Parameters parameters;
  private final Duration deadline;
  private final RaftClient cluster;
  private final ClusterCommand.Hello welcome;
  private final Map<String, RaftVolumeService> volumes = new LinkedHashMap<>();
  private volatile ClusterMap map;
  private boolean closed;

  private HoldfastClient(RaftProperties properties, Parameters parameters, Duration deadline, RaftClient cluster,
      ClusterCommand.Hello welcome, ClusterMap map) {
    this.properties = properties;
    this.parameters = parameters;
    this.deadline = deadline;
    this.cluster = cluster;
    this.welcome = welcome;
    this.map = map;
  }

  /**
   * Connects to the cluster that the node at {@code host:port} belongs to.
   *
   * @param env options (see the class comment); unknown keys are ignored
   * @throws HoldfastException {@link Errno#ETIMEDOUT} or {@link Errno#EIO} if the node does
   *     not answer (a refused TLS handshake shows as EIO with the reason),
   *     {@link Errno#EACCES} if no client certificate is found, {@link Errno#EPROTO} if the
   *     handshake finds the two sides incompatible or the node answers with something else
   * @throws IllegalArgumentException if an option has the wrong type
   */
  public static HoldfastClient connect(String host, int port, Map<String, ?> env) throws HoldfastException {
    Duration deadline = duration(env.get("holdfast.deadline"), DEFAULT_DEADLINE);
    TransportSecurity security = TransportSecurity.forClient(env);
    Parameters parameters = security.parameters();
    ClusterCommand.Hello hello = hello(security, env.get(REQUIRE_OPTION));
    RaftProperties props = new RaftProperties();
    RaftClientConfigKeys.Rpc.setRequestTimeout(props, TimeDuration.valueOf(3, TimeUnit.SECONDS));
    RaftClientConfigKeys.Async.setOutstandingRequestsMax(props, 512);
    GrpcConfigKeys.setMessageSizeMax(props, SizeInBytes.valueOf("32MB"));
    String address = host + ":" + port;
    ClusterMap.checkAddress(address);
    ClusterMap first;
    ClusterCommand.Hello welcome;
    try (RaftClient boot = newClient(props, parameters, RaftGroup.valueOf(ClusterIds.CLUSTER_GROUP, ClusterIds.peer(address)), true)) {
      var node = ClusterIds.peer(address).getId();
      // blocking calls: a failed async call closes the Raft client's window and hides the cause
      welcome = handshake(hello, boot.io().sendStaleRead(message(hello), 0, node), address);
      first = decodeMap(boot.io().sendStaleRead(message(new ClusterCommand.GetMap()), 0, node), address);
    } catch (IOException e) {
      throw e instanceof HoldfastException h ? h : connectFailure(address, security, e);
    }
    List<String> groupMembers = first.nodes().subList(0, Math.min(3, first.nodes().size()));
    RaftClient cluster = newClient(props, parameters, ClusterIds.group(ClusterIds.CLUSTER_GROUP, groupMembers), false);
    return new HoldfastClient(props, parameters, deadline, cluster, welcome, first);
  }

  /** Why connecting failed, in words that point at the likely fix. */
  private static HoldfastException connectFailure(String address, TransportSecurity security, IOException e) {
    StringBuilder causes = new StringBuilder();
    boolean tls = false;
    for (Throwable t = e; t != null && causes.length() < 1000; t = t.getCause()) {
      String m = String.valueOf(t.getMessage());
      tls |= t instanceof javax.net.ssl.SSLException || m.contains("ssl") || m.contains("SSL") || m.contains("certificate");
      if (t.getMessage() != null && causes.indexOf(m) < 0) {
        causes.append(causes.isEmpty() ? "" : "; ").append(m);
      }
    }
    String hint;
    if (causes.indexOf("RESOURCE_EXHAUSTED") >= 0) {
      hint = "the node refused the connection because of a connection limit";
    } else if (security.isPlaintext()) {
      hint = "this client speaks plaintext (--insecure); unless the node was started with --insecure it accepts only mutual TLS";
    } else if (tls) {
      hint = "the TLS handshake failed: the node accepts only certificates issued by its cluster CA and not expired"
          + " (this client presents " + security.tls().certFile() + "; check it with 'holdfast doctor'), and this client"
          + " trusts only nodes certified by " + security.tls().directory().resolve("ca.crt")
          + " (a node started with --insecure speaks plaintext and fails this way too)";
    } else {
      hint = "is the node running, and does it speak TLS (a node started with --insecure speaks plaintext)?";
    }
    return new HoldfastException(Errno.EIO, "cannot reach " + address + ": " + hint + " [" + causes + "]", e);
  }

  /** This client's hello: protocol {@link Codec#VERSION}, its features and requirements. */
  private static ClusterCommand.Hello hello(TransportSecurity security, Object require) {
    String identity = security.isPlaintext() ? "identity=none" : "identity=x509";
    List<String> required = new ArrayList<>(List.of("checksum=crc32c"));
    if (!security.isPlaintext()) {
      required.add(identity);
    }
    switch (require) {
      case null -> { }
      case String s -> java.util.Arrays.stream(s.split(",")).map(String::trim).filter(f -> !f.isEmpty()).forEach(required::add);
      case List<?> l -> l.forEach(f -> required.add(f.toString()));
      default -> throw new IllegalArgumentException(REQUIRE_OPTION + " must be a String or List, got " + require.getClass().getName());
    }
    return new ClusterCommand.Hello(Codec.VERSION, Codec.VERSION,
        List.of("checksum=crc32c", "compression=none", identity), required, "");
  }

  /** Checks the node's answer to our hello; returns the node's hello. */
  private static ClusterCommand.Hello handshake(ClusterCommand.Hello mine, RaftClientReply reply, String address)
      throws HoldfastException {
    if (!(ClusterCommand.decode(clusterReply(reply, "node " + address)) instanceof ClusterCommand.Hello theirs)) {
      throw new ProtocolException(Errno.EPROTO, "node " + address + " answered the handshake with something else");
    }
    String why = mine.incompatibility("client", theirs, "node " + address);
    if (why != null) {
      throw new ProtocolException(Errno.EPROTO, why);
    }
    return theirs;
  }

  /**
   * The node's side of the handshake when this client connected: its protocol versions,
   * features, and in {@link ClusterCommand.Hello#peer()} how it identified this client.
   */
  public ClusterCommand.Hello welcome() {
    return welcome;
  }

  /**
   * A Raft client. {@code noRetry}: give up after the first failure (for bootstrap and for reads
   * pinned to one member, where the caller picks another target itself).
   */
  private static RaftClient newClient(RaftProperties props, Parameters parameters, RaftGroup group, boolean noRetry) {
    return RaftClient.newBuilder()
        .setProperties(props)
        .setParameters(parameters)
        .setRaftGroup(group)
        .setClientId(ClientId.randomId())
        .setRetryPolicy(noRetry
            ? RetryPolicies.noRetry()
            : RetryPolicies.retryForeverWithSleep(TimeDuration.valueOf(50, TimeUnit.MILLISECONDS)))
        .build();
  }

  private static Message message(ClusterCommand c) {
    return Message.valueOf(ByteString.copyFrom(ClusterCommand.encode(c)));
  }

  private static ClusterMap decodeMap(RaftClientReply reply, String from) throws HoldfastException {
    return ClusterMap.decode(clusterReply(reply, "cluster group at " + from));
  }

  /**
   * The content of a cluster group's reply: a map or a hello. The group answers an error as a
   * Holdfast error frame ("HF"), thrown here as its exception.
   */
  private static byte[] clusterReply(RaftClientReply reply, String from) throws HoldfastException {
    if (!reply.isSuccess()) {
      throw new HoldfastException(Errno.EIO, from + " failed: " + reply.getException());
    }
    byte[] bytes = reply.getMessage().getContent().toByteArray();
    if (bytes.length >= 2 && bytes[0] == 'H' && bytes[1] == 'F') {
      Response r = Codec.decodeResponse(bytes);
      if (r instanceof Response.Error e) {
        throw e.toException();
      }
      throw new ProtocolException(Errno.EPROTO, "unexpected reply from " + from + ": " + r);
    }
    return bytes;
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
    ClusterMap m = decodeMap(await(cluster.async().sendReadOnly(message(new ClusterCommand.GetMap())), deadline, "cluster map"), "cluster group");
    map = m;
    return m;
  }

  /** The cached cluster map (see {@link #refreshMap()}). */
  public ClusterMap map() {
    return map;
  }

  /**
   * Creates a volume whose replica group is {@code replicas} (node addresses), and waits (up to
   * the deadline) until every replica serves it: nodes start a new volume's replica group when
   * they apply the change, and a write sent to a node that has not yet would fail.
   *
   * @return the cluster map after the change
   * @throws HoldfastException {@link Errno#EEXIST} if it exists, {@link Errno#EINVAL} for a bad
   *     name or unknown node, {@link Errno#ETIMEDOUT} if the cluster group does not answer or
   *     the replicas do not all serve the volume within the deadline
   */
  public ClusterMap createVolume(String name, List<String> replicas) throws HoldfastException {
    ClusterMap.checkVolumeName(name);
    ClusterMap after = change(new ClusterCommand.CreateVolume(name, replicas), "create volume " + name);
    long end = System.nanoTime() + deadline.toNanos();
    long pauseMillis = 10;
    while (!memberDigests(name).values().stream().allMatch(Response.Digest.class::isInstance)) {
      if (System.nanoTime() > end) {
        throw new HoldfastException(Errno.ETIMEDOUT, "volume " + name + " was created, but not all of " + replicas
            + " serve it within " + deadline.toMillis() + " ms; see 'holdfast volume info " + name + "'");
      }
      try {
        Thread.sleep(pauseMillis); // the nodes start the group on their own; nothing to be told
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new HoldfastException(Errno.EIO, "interrupted waiting for volume " + name);
      }
      pauseMillis = Math.min(200, pauseMillis * 2);
    }
    return after;
  }

  /**
   * Appends a rule to a volume's export ACL (admin only). It applies to existing sessions as
   * soon as each node has applied it.
   *
   * @return the cluster map after the change
   * @throws HoldfastException {@link Errno#EACCES} unless this client holds the admin
   *     certificate, {@link Errno#ENOENT} for an unknown volume, {@link Errno#EEXIST} if the
   *     rule is there already
   */
  public ClusterMap addAclRule(String volume, AclRule rule) throws HoldfastException {
    return change(new ClusterCommand.AddAclRule(volume, rule), "add ACL rule to " + volume);
  }

  /**
   * Removes a rule from a volume's export ACL (admin only).
   *
   * @return the cluster map after the change
   * @throws HoldfastException {@link Errno#EACCES} unless this client holds the admin
   *     certificate, {@link Errno#ENOENT} if the volume or rule does not exist
   */
  public ClusterMap removeAclRule(String volume, AclRule rule) throws HoldfastException {
    return change(new ClusterCommand.RemoveAclRule(volume, rule), "remove ACL rule from " + volume);
  }

  private ClusterMap change(ClusterCommand command, String what) throws HoldfastException {
    ClusterMap after = decodeMap(await(cluster.async().send(message(command)), deadline, what), "cluster group");
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
    RaftVolumeService s = new RaftVolumeService(name, newClient(properties, parameters, group, false), newClient(properties, parameters, group, true), new ArrayList<>(group.getPeers()), deadline);
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
    return queryMembers(volume, new Request.GetDigest());
  }

  /**
   * Sends one query to every member of a volume's replica group, without a read index: each
   * answer comes from that member's own applied state. For diagnostics and for per-member
   * requests such as {@link Request.ScrubControl}; file-system reads should use
   * {@link #volume}.
   *
   * @return member address → answer, in replica order; → {@link Errno#EIO} error for a member
   *     that did not answer (down, refused, past the deadline), with the reason
   * @throws HoldfastException {@link Errno#ENOENT} if there is no such volume
   */
  public Map<String, Response> queryMembers(String volume, Request.Query query) throws HoldfastException {
    Map<String, Response> out = new LinkedHashMap<>();
    for (String address : replicas(volume)) {
      out.put(address, queryMember(volume, address, query));
    }
    return out;
  }

  /**
   * Sends one query to one member of a volume's replica group, as {@link #queryMembers}.
   *
   * @param member the member's address ({@code host:port}), one of the volume's replicas
   * @return its answer, or an {@link Errno#EIO} error saying why it did not answer
   * @throws HoldfastException {@link Errno#ENOENT} if there is no such volume or the address is
   *     not one of its replicas
   */
  public Response queryMember(String volume, String member, Request.Query query) throws HoldfastException {
    RaftVolumeService s = raftVolume(volume);
    if (!replicas(volume).contains(member)) {
      throw new HoldfastException(Errno.ENOENT, member + " is not a replica of volume " + volume + " " + replicas(volume));
    }
    try {
      return s.queryMember(ClusterIds.peer(member).getId(), query).get(deadline.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new HoldfastException(Errno.EIO, "interrupted");
    } catch (ExecutionException | TimeoutException e) {
      Throwable c = e instanceof ExecutionException ? e.getCause() : e;
      return new Response.Error(Errno.EIO, String.valueOf(c.getMessage()));
    }
  }

  private List<String> replicas(String volume) throws HoldfastException {
    raftVolume(volume); // refreshes the map if the volume is new to it
    return map.volume(volume).orElseThrow(() -> new HoldfastException(Errno.ENOENT, "no volume " + volume)).replicas();
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
