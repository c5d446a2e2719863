package io.holdfast.server;

import io.holdfast.client.ClusterIds;
import io.holdfast.protocol.ClusterMap;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.GroupManagementRequest;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.StateMachine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Holdfast node: a Ratis server that hosts the cluster group (if this node is among the
 * first three peers) and a replica group for every volume with a replica here.
 *
 * <p>Layout of the data directory: {@code raft/<group-uuid>/} holds each group's Raft log and
 * snapshots; {@code bricks/<group-uuid>/} holds each volume replica's brick.
 *
 * <p>Lifecycle: {@link #start} returns a running node; {@link #close} stops it (idempotent).
 * Thread-safe.
 */
public final class HoldfastNode implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(HoldfastNode.class);

  private final NodeConfig config;
  private final Gatekeeper gatekeeper;
  private final AccessControl access = new AccessControl();
  private final RaftServer server;
  private final ExecutorService groupAdder;
  private final AtomicLong callIds = new AtomicLong();
  private final java.util.concurrent.CompletableFuture<Void> running = new java.util.concurrent.CompletableFuture<>();
  private volatile boolean closed;

  private HoldfastNode(NodeConfig config, NodeSecurity security, InstantSource clock, ScrubSettings scrub) throws IOException {
    this.config = config;
    this.gatekeeper = new Gatekeeper(security);
    Handshake handshake = new Handshake(config.address(), security);
    Path raftDir = config.dataDir().resolve("raft");
    Files.createDirectories(raftDir);
    Files.createDirectories(config.dataDir().resolve("bricks"));
    this.groupAdder = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "holdfast-group-adder-" + config.address());
      t.setDaemon(true);
      return t;
    });
    RaftProperties props = RaftSettings.server(raftDir.toFile(), config.host(), config.port(), config.snapshotThreshold());
    RaftGroupId clusterGroup = ClusterIds.CLUSTER_GROUP;
    StateMachine.Registry registry = groupId -> {
      if (groupId.equals(clusterGroup)) {
        return new ClusterStateMachine(config.clusterId(), config.peers(), clock, this::volumeKnown, access, handshake);
      }
      return new VolumeStateMachine(config.dataDir().resolve("bricks").resolve(groupId.getUuid().toString()), clock, access,
          config.clusterId(), config.address(), scrub, security.transport());
    };
    Parameters parameters = security.transport().parameters();
    GrpcConfigKeys.Server.setServicesCustomizer(parameters, gatekeeper);
    RaftServer.Builder b = RaftServer.newBuilder()
        .setServerId(RaftPeerId.valueOf(ClusterMap.peerId(config.address())))
        .setStateMachineRegistry(registry)
        .setProperties(props)
        .setParameters(parameters)
        .setOption(RaftStorage.StartupOption.RECOVER);
    if (config.clusterGroupMembers().contains(config.address())) {
      b.setGroup(ClusterIds.group(clusterGroup, config.clusterGroupMembers()));
    }
    this.server = b.build();
  }

  /**
   * Starts a node.
   *
   * @param security TLS material and connection limits; plaintext only when the operator
   *     asked for it ({@code --insecure})
   * @throws IOException if the data directory cannot be used or the port cannot be bound
   */
  public static HoldfastNode start(NodeConfig config, NodeSecurity security) throws IOException {
    return start(config, security, InstantSource.system());
  }

  /** Starts a node with the given clock (tests). */
  public static HoldfastNode start(NodeConfig config, NodeSecurity security, InstantSource clock) throws IOException {
    return start(config, security, clock, ScrubSettings.DEFAULT);
  }

  /**
   * Starts a node with the given clock and scrub settings.
   *
   * @param scrub pace and schedule of the scrubbers of the volumes this node serves
   * @throws IOException if the data directory cannot be used or the port cannot be bound
   */
  public static HoldfastNode start(NodeConfig config, NodeSecurity security, InstantSource clock, ScrubSettings scrub)
      throws IOException {
    HoldfastNode node = new HoldfastNode(config, security, clock, java.util.Objects.requireNonNull(scrub, "scrub"));
    try {
      node.server.start();
      node.running.complete(null);
    } catch (IOException | RuntimeException e) {
      node.close();
      throw e;
    }
    LOG.info("node {} started, data in {}, {}", config.address(), config.dataDir(),
        security.transport().isPlaintext() ? "PLAINTEXT (--insecure)" : "mutual TLS 1.3");
    return node;
  }

  /** Called by the cluster state machine for every volume it knows, in log order. */
  private void volumeKnown(ClusterMap.Volume volume) {
    if (!volume.replicas().contains(config.address())) {
      return;
    }
    groupAdder.execute(() -> addGroup(volume));
  }

  private void addGroup(ClusterMap.Volume volume) {
    RaftGroupId id = RaftGroupId.valueOf(volume.groupId());
    try {
      running.get(); // groups can be added only once our own server runs
      for (RaftGroupId existing : server.getGroupIds()) {
        if (existing.equals(id)) {
          return;
        }
      }
      RaftClientReply reply = server.groupManagement(GroupManagementRequest.newAdd(
          ClientId.randomId(), server.getId(), callIds.incrementAndGet(), ClusterIds.group(id, volume.replicas())));
      if (!reply.isSuccess()) {
        LOG.error("could not start replica of volume {}: {}", volume.name(), reply.getException());
      } else {
        LOG.info("serving volume {} (group {})", volume.name(), id);
      }
    } catch (IOException e) {
      if (!closed) {
        LOG.error("could not start replica of volume {}", volume.name(), e);
      }
    } catch (InterruptedException | java.util.concurrent.CancellationException e) {
      Thread.currentThread().interrupt();
    } catch (java.util.concurrent.ExecutionException e) {
      LOG.error("node did not start", e);
    }
  }

  /** This node's address. */
  public String address() {
    return config.address();
  }

  /**
   * Connection counters of this node's port.
   *
   * @param open connections open now
   * @param refusedConnections connections refused (limit, unusable certificate) since start
   * @param refusedCalls calls refused (limits, certificates, roles) since start
   */
  public record ConnectionStats(int open, long refusedConnections, long refusedCalls) {}

  /** Connection counters of this node's port. */
  public ConnectionStats connectionStats() {
    return new ConnectionStats(gatekeeper.connections(), gatekeeper.refusedConnections(), gatekeeper.refusedCalls());
  }

  /** The configuration the node runs with. */
  public NodeConfig config() {
    return config;
  }

  /**
   * What this node knows of one of its Raft groups.
   *
   * @param role LEADER, FOLLOWER, CANDIDATE, LISTENER
   * @param term current term
   * @param leader the leader's peer id, or empty if unknown
   * @param commitIndex highest log index known committed
   * @param appliedIndex highest log index applied to the state machine
   * @param logStartIndex first index still in this member's log (earlier ones are purged
   *     into snapshots)
   */
  public record GroupStatus(String role, long term, String leader, long commitIndex, long appliedIndex, long logStartIndex) {}

  /**
   * The status of a Raft group on this node.
   *
   * @param groupId a volume's group id, or {@link ClusterIds#CLUSTER_GROUP}'s UUID
   * @return empty if this node does not serve that group
   */
  public java.util.Optional<GroupStatus> groupStatus(java.util.UUID groupId) {
    try {
      RaftServer.Division d = server.getDivision(RaftGroupId.valueOf(groupId));
      var info = d.getInfo();
      var log = d.getRaftLog();
      RaftPeerId leader = info.getLeaderId();
      return java.util.Optional.of(new GroupStatus(info.getCurrentRole().name(), info.getCurrentTerm(),
          leader == null ? "" : leader.toString(), log.getLastCommittedIndex(), info.getLastAppliedIndex(), log.getStartIndex()));
    } catch (IOException e) {
      return java.util.Optional.empty();
    }
  }

  /**
   * The scrub state and counters of this node's member of a volume group, e.g. for metrics.
   * Cheap: reads counters. Thread-safe.
   *
   * @param groupId a volume's group id
   * @return empty if this node does not serve that group (or not yet)
   */
  public java.util.Optional<io.holdfast.protocol.ScrubStats> scrubStats(java.util.UUID groupId) {
    try {
      return server.getDivision(RaftGroupId.valueOf(groupId)).getStateMachine() instanceof VolumeStateMachine v
          ? v.scrubStats() : java.util.Optional.empty();
    } catch (IOException e) {
      return java.util.Optional.empty();
    }
  }

  /** Stops the node; pending requests fail with retryable errors. Idempotent. */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    running.cancel(false);
    groupAdder.shutdownNow();
    server.close();
    LOG.info("node {} stopped", config.address());
  }
}
