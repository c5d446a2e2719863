package io.holdfast.client;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.AclRule;
import io.holdfast.protocol.ClusterCommand;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.Placement;
import io.holdfast.protocol.ProtocolException;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.transport.ClusterIds;
import io.holdfast.transport.Refusal;
import io.holdfast.transport.TransportSecurity;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.apache.ratis.client.ClientFactory;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.client.RaftClientRpc;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.rpc.SupportedRpcType;
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
 *       the handshake besides {@code checksum=crc32c}, e.g. {@code compression=zstd};
 *   <li>{@code holdfast.shortLived}: {@code true} (Boolean or String) for a process that sends a
 *       few requests and exits, such as one CLI command: each volume's reads then stay on one
 *       member (another one only if it fails) instead of being spread over all members, since
 *       every member read from costs a connection and a TLS handshake.
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

  /**
   * How long the Raft client waits for one attempt of a request before it tries another member:
   * 1 s. Each attempt that goes to a member that just died costs this much (the member that
   * answers NotLeader names the dead leader until an election is over), so it bounds the write
   * stall after a leader fails (measured through a FUSE mount on a loaded 2-core machine: 3-5 s
   * with 1 s, 1.5-8 s with 2 s, 1.3-9 s with 3 s, each with {@link QuickFailoverRpc}). A slower reply is not lost: the resent
   * request carries the same call id, and the leader answers it from its retry cache.
   */
  static final TimeDuration REQUEST_TIMEOUT = TimeDuration.valueOf(1, TimeUnit.SECONDS);

  /**
   * How long the first two requests of {@link #connect} (handshake and map, to the one node named)
   * may take: 10 s, at most the deadline. They set up the TLS connection of a cold client, which
   * on a loaded machine took over a second by itself, and they are not retried elsewhere.
   */
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

  /** Runs the Raft clients' blocking reconnects off their timer threads (see {@link QuickFailoverRpc}). */
  private static final java.util.concurrent.Executor RECONNECTS = java.util.concurrent.Executors.newThreadPerTaskExecutor(
      Thread.ofVirtual().name("holdfast-reconnect-", 0).factory());

  /** Client option: extra features the node must offer (comma separated String, or a List). */
  public static final String REQUIRE_OPTION = "holdfast.require";
  /** Client option: {@code true} (Boolean or String) for a short-lived client (see the class comment). */
  public static final String SHORT_LIVED_OPTION = "holdfast.shortLived";

  private final RaftProperties properties;
  private final Parameters parameters;
  private final Duration deadline;
  private final boolean shortLived;
  /** The cluster group's members, for {@link #cluster()}. */
  private final List<String> clusterMembers;
  /** The cluster group's Raft client, built on first use (a file command never needs it); guarded by this. */
  private RaftClient cluster;
  private final ClusterCommand.Hello welcome;
  private final Map<String, RaftVolumeService> volumes = new LinkedHashMap<>();
  /** Services whose volume's members changed: callers may still hold them; closed with this client. */
  private final List<RaftVolumeService> retired = new ArrayList<>();
  private volatile ClusterMap map;
  private boolean closed;

  private HoldfastClient(RaftProperties properties, Parameters parameters, Duration deadline, boolean shortLived,
      List<String> clusterMembers, ClusterCommand.Hello welcome, ClusterMap map) {
    this.properties = properties;
    this.parameters = parameters;
    this.deadline = deadline;
    this.shortLived = shortLived;
    this.clusterMembers = clusterMembers;
    this.welcome = welcome;
    this.map = map;
  }

  /**
   * Connects to the cluster that the node at {@code host:port} belongs to.
   *
   * @param env options (see the class comment); unknown keys are ignored
   * @throws HoldfastException {@link Errno#EIO} "cannot resolve host HOST" if {@code host} does
   *     not resolve (checked first; its cause is then an {@link UnknownHostException} whose
   *     message is {@code host}); {@link Errno#ETIMEDOUT} or {@link Errno#EIO} if the node does
   *     not answer (a refused TLS handshake shows as EIO with the reason),
   *     {@link Errno#EACCES} if no client certificate is found, {@link Errno#EPROTO} if the
   *     handshake finds the two sides incompatible or the node answers with something else
   * @throws IllegalArgumentException if an option has the wrong type
   */
  public static HoldfastClient connect(String host, int port, Map<String, ?> env) throws HoldfastException {
    String address = host + ":" + port;
    ClusterMap.checkAddress(address);
    try {
      // before any gRPC channel exists: gRPC would log the failure with a stack trace, then fail
      // the call like an unreachable node
      InetAddress.getAllByName(host);
    } catch (UnknownHostException e) {
      throw unresolvable(host, e);
    }
    Duration deadline = duration(env.get("holdfast.deadline"), DEFAULT_DEADLINE);
    Object shortLivedOption = env.get(SHORT_LIVED_OPTION);
    boolean shortLived = shortLivedOption instanceof Boolean b ? b
        : shortLivedOption != null && Boolean.parseBoolean(shortLivedOption.toString());
    TransportSecurity security = TransportSecurity.forClient(env);
    Parameters parameters = security.parameters();
    ClusterCommand.Hello hello = hello(security, env.get(REQUIRE_OPTION));
    RaftProperties props = new RaftProperties();
    RaftClientConfigKeys.Rpc.setRequestTimeout(props, REQUEST_TIMEOUT);
    RaftClientConfigKeys.Async.setOutstandingRequestsMax(props, 512);
    GrpcConfigKeys.setMessageSizeMax(props, SizeInBytes.valueOf("32MB"));
    ClusterMap first;
    ClusterCommand.Hello welcome;
    RaftProperties bootProps = new RaftProperties(props);
    RaftClientConfigKeys.Rpc.setRequestTimeout(bootProps,
        TimeDuration.valueOf(Math.min(deadline.toMillis(), CONNECT_TIMEOUT.toMillis()), TimeUnit.MILLISECONDS));
    try (RaftClient boot = newClient(bootProps, parameters, RaftGroup.valueOf(ClusterIds.CLUSTER_GROUP, ClusterIds.peer(address)), true)) {
      var node = ClusterIds.peer(address).getId();
      // blocking calls: a failed async call closes the Raft client's window and hides the cause
      welcome = handshake(hello, boot.io().sendStaleRead(message(hello), 0, node), address);
      first = decodeMap(boot.io().sendStaleRead(message(new ClusterCommand.GetMap()), 0, node), address);
    } catch (IOException e) {
      throw e instanceof HoldfastException h ? h : connectFailure(host, address, security, e);
    }
    return new HoldfastClient(props, parameters, deadline, shortLived, first.clusterGroup(), welcome, first);
  }

  /**
   * The cluster group's Raft client, built on first use: each Raft client sets up its own TLS
   * context, and a command that only reads a volume never talks to the cluster group again.
   */
  private synchronized RaftClient cluster() {
    if (closed) {
      throw new IllegalStateException("client is closed");
    }
    if (cluster == null) {
      cluster = newClient(properties, parameters, ClusterIds.group(ClusterIds.CLUSTER_GROUP, clusterMembers), false);
    }
    return cluster;
  }

  /** The failure of a host name that does not resolve, as {@link #connect} documents it. */
  private static HoldfastException unresolvable(String host, Throwable cause) {
    UnknownHostException named = new UnknownHostException(host);
    named.initCause(cause);
    return new HoldfastException(Errno.EIO, "cannot resolve host " + host, named);
  }

  /** Why connecting failed, in words that point at the likely fix. */
  private static HoldfastException connectFailure(String host, String address, TransportSecurity security, IOException e) {
    StringBuilder causes = new StringBuilder();
    boolean tls = false;
    for (Throwable t = e; t != null && causes.length() < 1000; t = t.getCause()) {
      if (t instanceof UnknownHostException) {
        return unresolvable(host, e); // resolved before connecting, not now: no TLS hint for a DNS failure
      }
      String m = String.valueOf(t.getMessage());
      tls |= t instanceof javax.net.ssl.SSLException || m.contains("ssl") || m.contains("SSL") || m.contains("certificate");
      if (t.getMessage() != null && causes.indexOf(m) < 0) {
        causes.append(causes.isEmpty() ? "" : "; ").append(m);
      }
    }
    String hint;
    if (Refusal.isConnectionLimit(e)) {
      hint = "the node refused the connection because of a connection limit";
    } else if (security.isPlaintext()) {
      hint = "this client speaks plaintext (--insecure); unless the node was started with --insecure it accepts only mutual TLS";
    } else if (tls && issuerProblem(security) != null) {
      hint = "the TLS handshake failed: " + issuerProblem(security) + ", and the node accepts only certificates issued by its cluster CA";
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

  /** Why this client's certificate is not one its CA issued, or null if it is (or on plaintext). */
  private static String issuerProblem(TransportSecurity security) {
    try {
      if (!security.isPlaintext()) {
        security.tls().checkIssuedByCa();
      }
      return null;
    } catch (IOException e) {
      return e.getMessage();
    }
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
    ClientId id = ClientId.randomId();
    RaftClientRpc rpc = ClientFactory.cast(SupportedRpcType.GRPC.newFactory(parameters)).newRaftClientRpc(id, props);
    return RaftClient.newBuilder()
        .setProperties(props)
        .setParameters(parameters)
        .setRaftGroup(group)
        .setClientId(id)
        .setClientRpc(new QuickFailoverRpc(rpc, RECONNECTS))
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
      Response refusal = Refusal.decode(e.getCause());
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
    ClusterMap m = decodeMap(await(cluster().async().sendReadOnly(message(new ClusterCommand.GetMap())), deadline, "cluster map"), "cluster group");
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
    awaitCondition(() -> memberDigests(name).values().stream().allMatch(Response.Digest.class::isInstance),
        "volume " + name + " was created, but not all of " + replicas + " serve it within " + deadline.toMillis()
            + " ms; see 'holdfast volume info " + name + "'",
        "interrupted waiting for volume " + name);
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

  /**
   * Adds a running node to the cluster (admin only): it must have been initialized for this
   * cluster ({@code holdfast cluster init} with this cluster's id and initial peers) and hold a
   * node certificate of this cluster's CA. Volumes can then be placed on it.
   *
   * @return the cluster map after the change
   * @throws HoldfastException {@link Errno#EEXIST} if it is a node already, {@link Errno#EINVAL}
   *     for a malformed address, {@link Errno#EACCES} unless this client is the admin
   */
  public ClusterMap addNode(String address) throws HoldfastException {
    ClusterMap.checkAddress(address);
    return change(new ClusterCommand.AddNode(address), "add node " + address);
  }

  /**
   * Removes a node from the cluster (admin only), after moving every replica it holds to
   * another node ({@link #replaceReplica}, one volume at a time, to the node holding the
   * fewest replicas that is not in the volume's group yet).
   *
   * @param progress told of each replacement's catch-up
   * @return the cluster map after the change
   * @throws HoldfastException {@link Errno#ENOENT} if it is not a node, {@link Errno#EBUSY} if it
   *     holds the cluster group, {@link Errno#ENOSPC} if some volume has no other node to move
   *     to, or whatever a replacement fails with
   */
  public ClusterMap removeNode(String address, Consumer<CatchUp> progress) throws HoldfastException {
    ClusterMap m = refreshMap();
    if (!m.nodes().contains(address)) {
      throw new HoldfastException(Errno.ENOENT, "node " + address + " is not in the cluster; nodes are " + m.nodes());
    }
    List<String> clusterGroup = m.clusterGroup();
    if (clusterGroup.contains(address)) {
      // refused before anything moves (the cluster group would refuse it only after the drain)
      throw new HoldfastException(Errno.EBUSY, "node " + address + " holds the cluster group (the cluster map), with "
          + clusterGroup + "; those nodes cannot be removed");
    }
    for (ClusterMap.Volume v : m.volumes().values()) {
      if (!v.servedBy(address)) {
        continue;
      }
      String target;
      if (!v.joining().isEmpty() && !v.joining().equals(address)) {
        target = v.joining(); // finish the replacement under way (of this node or not) first
        if (!v.replicas().contains(address)) {
          throw new HoldfastException(Errno.EBUSY, "volume " + v.name() + " has a replacement by " + target
              + " under way; finish it with 'holdfast volume replace-replica' first");
        }
      } else {
        ClusterMap now = refreshMap();
        target = placement(now, v, address).orElseThrow(() -> new HoldfastException(Errno.ENOSPC,
            "no node to move volume " + v.name() + "'s replica to: every other node (" + now.nodes()
                + ") serves it already; add a node first ('holdfast cluster add-node')"));
      }
      replaceReplica(v.name(), address, target, progress);
    }
    return change(new ClusterCommand.RemoveNode(address), "remove node " + address);
  }

  /** The node outside {@code v}'s group, other than {@code leaving}, that serves the fewest replicas. */
  private static java.util.Optional<String> placement(ClusterMap m, ClusterMap.Volume v, String leaving) {
    Map<String, Long> load = new LinkedHashMap<>();
    m.nodes().forEach(n -> load.put(n, 0L));
    m.volumes().values().forEach(x -> x.replicas().forEach(r -> load.computeIfPresent(r, (k, c) -> c + 1)));
    return load.entrySet().stream()
        .filter(e -> !e.getKey().equals(leaving) && !v.servedBy(e.getKey()))
        .min(Map.Entry.comparingByValue())
        .map(Map.Entry::getKey);
  }

  /**
   * How far a joining member has caught up.
   *
   * @param volume the volume
   * @param member the joining member's address
   * @param appliedIndex the member's applied index (-1 if it did not answer)
   * @param targetIndex the leader's commit index (-1 if unknown)
   * @param elapsed time since the replacement began
   */
  public record CatchUp(String volume, String member, long appliedIndex, long targetIndex, Duration elapsed) {
    /** Fraction caught up, 0..1. */
    public double fraction() {
      return targetIndex <= 0 ? 0 : Math.max(0, Math.min(1, (double) appliedIndex / targetIndex));
    }
  }

  /**
   * Replaces a volume's replica on {@code oldNode} by a new one on {@code newNode} (admin only),
   * while clients keep reading and writing:
   *
   * <ol>
   *   <li>the cluster map names {@code newNode} as joining (membership generation + 1), and
   *       {@code newNode} starts an empty member of the volume's group;
   *   <li>the group's Raft configuration is changed to the new member set (Ratis: the new
   *       member first catches up as a non-voting member, from a snapshot and then the log;
   *       then the joint configuration, then the new one, are committed);
   *   <li>the map swaps {@code newNode} for {@code oldNode}, and {@code oldNode} leaves the
   *       group (its brick set aside under {@code removed/}).
   * </ol>
   *
   * Running it again after an interruption finishes the same replacement. Blocks until done;
   * fails if the new member does not answer for the deadline (default 30 s), or if Ratis gives
   * up on it.
   *
   * @param progress told about twice a second how far the new member has caught up
   * @return the cluster map after the change
   * @throws HoldfastException {@link Errno#ENOENT}/{@link Errno#EINVAL}/{@link Errno#EBUSY} as
   *     {@link ClusterCommand.ReplaceReplica} says; {@link Errno#ETIMEDOUT} if the new member
   *     does not answer within the deadline (the replacement stays begun: run it again, or
   *     replace the joining node by another)
   */
  public ClusterMap replaceReplica(String volume, String oldNode, String newNode, Consumer<CatchUp> progress)
      throws HoldfastException {
    long started = System.nanoTime();
    String what = "replace " + oldNode + " by " + newNode + " in volume " + volume;
    ClusterMap begun = change(new ClusterCommand.ReplaceReplica(volume, oldNode, newNode, false), what);
    ClusterMap.Volume v = begun.volume(volume).orElseThrow();
    if (!v.joining().equals(newNode)) {
      return begun; // it had completed before
    }
    UUID groupId = Placement.onlyGroup(v);
    RaftGroupId id = RaftGroupId.valueOf(groupId);
    awaitServing(newNode, groupId, what);
    List<String> target = new ArrayList<>(v.replicas());
    target.set(target.indexOf(oldNode), newNode);
    List<String> all = new ArrayList<>(v.replicas());
    all.add(newNode);
    // The blocking call gets a thread of its own: on the common pool (one thread on two cores)
    // it held up every other asynchronous step in this JVM for the whole catch-up, clients'
    // read retries included (found by 'holdfast bench catch-up').
    java.util.concurrent.ExecutorService reconfigurer = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "holdfast-replace-" + volume);
      t.setDaemon(true);
      return t;
    });
    try (RaftClient admin = newClient(properties, parameters, ClusterIds.group(id, all), false)) {
      CompletableFuture<RaftClientReply> reconfigured = CompletableFuture.supplyAsync(() -> {
        try {
          return admin.admin().setConfiguration(target.stream().map(ClusterIds::peer).toList());
        } catch (IOException e) {
          throw new java.util.concurrent.CompletionException(e);
        }
      }, reconfigurer);
      long lastApplied = -1;
      long lastProgress = System.nanoTime();
      while (true) {
        try {
          RaftClientReply r = reconfigured.get(500, TimeUnit.MILLISECONDS);
          if (!r.isSuccess()) {
            throw new HoldfastException(Errno.EIO, what + ": the group's configuration change failed: " + r.getException());
          }
          break;
        } catch (TimeoutException e) {
          // still catching up: report, and give up only if nothing moves for a whole deadline
        } catch (ExecutionException e) {
          throw new HoldfastException(Errno.EIO, what + ": the group's configuration change failed: " + e.getCause().getMessage(),
              e.getCause());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new HoldfastException(Errno.EIO, what + ": interrupted; run it again to finish");
        }
        Map<String, MemberInfo> infos = groupInfo(groupId, all);
        MemberInfo info = infos.get(newNode);
        long applied = info.appliedIndex();
        long commit = v.replicas().stream().mapToLong(r -> infos.get(r).commitIndex()).max().orElse(-1);
        progress.accept(new CatchUp(volume, newNode, applied, commit, Duration.ofNanos(System.nanoTime() - started)));
        // While a snapshot streams in, the applied index stays put for as long as the transfer
        // takes (1 GiB at 32 MiB/s: 32 s); a member that answers is alive, and Ratis fails the
        // configuration change itself if the new member stops making progress.
        if (info.answered()) { // an unanswered member reports applied index -1
          lastApplied = Math.max(lastApplied, applied);
          lastProgress = System.nanoTime();
        } else if (System.nanoTime() - lastProgress > deadline.toNanos()) {
          reconfigured.cancel(true);
          throw new HoldfastException(Errno.ETIMEDOUT, what + ": the new member did not answer for "
              + deadline.toSeconds() + " s (applied index " + lastApplied + " of " + commit + "); is " + newNode
              + " running? Run the same command again to go on, or replace " + newNode + " by another node");
        }
      }
    } catch (IOException e) {
      throw e instanceof HoldfastException h ? h : new HoldfastException(Errno.EIO, what + ": " + e.getMessage(), e);
    } finally {
      reconfigurer.shutdownNow();
    }
    ClusterMap done = change(new ClusterCommand.ReplaceReplica(volume, oldNode, newNode, true), what);
    synchronized (this) {
      RaftVolumeService stale = volumes.remove(volume); // its members changed; reopened on next use
      if (stale != null) {
        retired.add(stale);
      }
    }
    return done;
  }

  /** Waits until {@code member} serves group {@code id} (it starts the group when it learns the map). */
  private void awaitServing(String member, java.util.UUID group, String what) throws HoldfastException {
    awaitCondition(() -> groupInfo(group, List.of(member)).get(member).answered(),
        what + ": " + member + " did not start the volume's group within " + deadline.toMillis()
            + " ms; is it running, and configured for this cluster?",
        what + ": interrupted; run it again to finish");
  }

  /** A condition to wait for; checking it may fail. */
  @FunctionalInterface
  private interface Condition {
    boolean holds() throws HoldfastException;
  }

  /**
   * Checks {@code condition} until it holds, pausing 10 ms, then twice as long each time up to
   * 200 ms: the nodes start a group on their own when they learn the map, nothing tells us.
   *
   * @throws HoldfastException {@link Errno#ETIMEDOUT} with {@code timedOut} past the client
   *     deadline, {@link Errno#EIO} with {@code interrupted} if interrupted, or what checking
   *     the condition threw
   */
  private void awaitCondition(Condition condition, String timedOut, String interrupted) throws HoldfastException {
    long end = System.nanoTime() + deadline.toNanos();
    long pauseMillis = 10;
    while (!condition.holds()) {
      if (System.nanoTime() > end) {
        throw new HoldfastException(Errno.ETIMEDOUT, timedOut);
      }
      try {
        Thread.sleep(pauseMillis); // nothing to be told: see above
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new HoldfastException(Errno.EIO, interrupted);
      }
      pauseMillis = Math.min(200, pauseMillis * 2);
    }
  }

  private ClusterMap change(ClusterCommand command, String what) throws HoldfastException {
    ClusterMap after = decodeMap(await(cluster().async().send(message(command)), deadline, what), "cluster group");
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
    RaftGroup group = ClusterIds.group(RaftGroupId.valueOf(Placement.onlyGroup(v)), v.replicas());
    RaftVolumeService s = new RaftVolumeService(name, () -> newClient(properties, parameters, group, false), newClient(properties, parameters, group, true), new ArrayList<>(group.getPeers()), deadline, !shortLived);
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

  /**
   * What one member says about its Raft group, read with the Raft admin API's group info
   * (which clients may read; no read index, no state machine).
   *
   * @param address the member's node address
   * @param error null if the member answered; else why not (it is down, unreachable, or does
   *     not serve the group), and every other field is empty
   * @param role {@code leader}, {@code follower}, {@code candidate} or {@code listener}
   * @param term the leader's current term (known only from the leader's answer), or -1
   * @param leader the leader's address as this member knows it, or null
   * @param commitIndex this member's commit index
   * @param appliedIndex this member's applied index
   * @param commitIndexes every member's commit index as this member knows it
   * @param lastContactMillis (leader only) each follower's milliseconds since it last answered
   */
  public record MemberInfo(String address, String error, String role, long term, String leader, long commitIndex,
      long appliedIndex, Map<String, Long> commitIndexes, Map<String, Long> lastContactMillis) {
    public MemberInfo {
      commitIndexes = Map.copyOf(commitIndexes);
      lastContactMillis = Map.copyOf(lastContactMillis);
    }

    static MemberInfo unanswered(String address, String error) {
      return new MemberInfo(address, error, null, -1, null, -1, -1, Map.of(), Map.of());
    }

    /** Whether the member answered. */
    public boolean answered() {
      return error == null;
    }
  }

  /**
   * Asks every member of a Raft group (a volume's, or {@link ClusterIds#CLUSTER_GROUP}'s) for
   * its group info, all in parallel; blocks up to one request timeout (1 s) for members that
   * do not answer.
   *
   * @param members the group's members (node addresses)
   * @return member address → its answer, in the order of {@code members}
   */
  public Map<String, MemberInfo> groupInfo(java.util.UUID groupId, List<String> members) {
    RaftGroupId id = RaftGroupId.valueOf(groupId);
    Map<String, String> addressById = new java.util.HashMap<>();
    members.forEach(a -> addressById.put(ClusterMap.peerId(a), a));
    return eachNode(members, (admin, address) -> {
      var reply = admin.getGroupManagementApi(ClusterIds.peer(address).getId()).info(id);
      if (!reply.isSuccess()) {
        return MemberInfo.unanswered(address, String.valueOf(reply.getException()));
      }
      var role = reply.getRoleInfoProto();
      String leader = null;
      long term = -1;
      Map<String, Long> contact = new LinkedHashMap<>();
      if (role.hasLeaderInfo()) {
        leader = address;
        term = role.getLeaderInfo().getTerm();
        for (var f : role.getLeaderInfo().getFollowerInfoList()) {
          contact.put(addressById.getOrDefault(f.getId().getId().toStringUtf8(), f.getId().getAddress()), f.getLastRpcElapsedTimeMs());
        }
      } else if (role.hasFollowerInfo() && !role.getFollowerInfo().getLeaderInfo().getId().getId().isEmpty()) {
        String id2 = role.getFollowerInfo().getLeaderInfo().getId().getId().toStringUtf8();
        leader = addressById.getOrDefault(id2, role.getFollowerInfo().getLeaderInfo().getId().getAddress());
      }
      Map<String, Long> commits = new LinkedHashMap<>();
      for (var ci : reply.getCommitInfos()) {
        String a = addressById.get(ci.getServer().getId().toStringUtf8());
        if (a != null) {
          commits.put(a, ci.getCommitIndex());
        }
      }
      var log = reply.getLogInfoProto();
      return new MemberInfo(address, null, role.getRole().name().toLowerCase(java.util.Locale.ROOT), term, leader,
          log.getCommitted().getIndex(), log.getApplied().getIndex(), commits, contact);
    }, MemberInfo::unanswered);
  }

  /**
   * Asks each node whether it answers (the Raft admin API's group list), all in parallel;
   * blocks up to one request timeout (1 s) for nodes that do not.
   *
   * @return address → null if it answered, else why not; in the order of {@code nodes}
   */
  public Map<String, String> probeNodes(List<String> nodes) {
    Map<String, java.util.Optional<String>> answers = eachNode(nodes, (admin, address) -> {
      var reply = admin.getGroupManagementApi(ClusterIds.peer(address).getId()).list();
      return reply.isSuccess() ? java.util.Optional.<String>empty() : java.util.Optional.of(String.valueOf(reply.getException()));
    }, (address, error) -> java.util.Optional.of(error));
    Map<String, String> out = new LinkedHashMap<>();
    answers.forEach((a, e) -> out.put(a, e.orElse(null)));
    return out;
  }

  /** What to ask one node through the admin API. */
  private interface NodeCall<T> {
    T call(RaftClient admin, String address) throws IOException;
  }

  /** Runs {@code call} for every node in parallel (one virtual thread each) with a non-retrying client. */
  private <T> Map<String, T> eachNode(List<String> nodes, NodeCall<T> call, java.util.function.BiFunction<String, String, T> failed) {
    Map<String, T> out = new LinkedHashMap<>();
    if (nodes.isEmpty()) {
      return out;
    }
    try (RaftClient admin = newClient(properties, parameters, ClusterIds.group(ClusterIds.CLUSTER_GROUP, nodes), true);
        var threads = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
      Map<String, java.util.concurrent.Future<T>> pending = new LinkedHashMap<>();
      for (String a : nodes) {
        pending.put(a, threads.submit(() -> {
          try {
            return call.call(admin, a);
          } catch (IOException | RuntimeException e) {
            return failed.apply(a, e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
          }
        }));
      }
      for (var e : pending.entrySet()) {
        try {
          out.put(e.getKey(), e.getValue().get());
        } catch (ExecutionException ex) {
          out.put(e.getKey(), failed.apply(e.getKey(), String.valueOf(ex.getCause())));
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException e) {
      // closing the admin client only releases connections
    }
    return out;
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
    retired.forEach(RaftVolumeService::close);
    retired.clear();
    try {
      if (cluster != null) {
        cluster.close();
      }
    } catch (IOException e) {
      // releasing connections only
    }
  }
}
