package io.holdfast.server;

import io.holdfast.client.ClusterIds;
import io.holdfast.protocol.AclRule;
import io.holdfast.protocol.ClusterCommand;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.Errno;
import io.holdfast.protocol.HoldfastException;
import io.holdfast.protocol.ProtocolException;
import io.holdfast.protocol.Response;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The state machine of the cluster group: the {@link ClusterMap}. Small; kept in memory and
 * written whole to each snapshot. The log entry of a {@code CreateVolume} carries the
 * leader's timestamp (8 bytes) followed by the command, so applying is deterministic.
 *
 * <p>When a volume whose replicas include this node is created (or replayed after a restart),
 * {@code onVolume} is told, and the node starts serving that volume's replica group.
 */
final class ClusterStateMachine extends LifecycleStateMachine {
  private static final Logger LOG = LoggerFactory.getLogger(ClusterStateMachine.class);

  private final UUID clusterId;
  private final List<String> nodes;
  private final InstantSource clock;
  private final Consumer<ClusterMap.Volume> onVolume;
  private final AccessControl access;
  private final Handshake handshake;
  private volatile ClusterMap map;

  ClusterStateMachine(UUID clusterId, List<String> nodes, InstantSource clock, Consumer<ClusterMap.Volume> onVolume,
      AccessControl access, Handshake handshake) {
    this.clusterId = clusterId;
    this.nodes = List.copyOf(nodes);
    this.clock = clock;
    this.onVolume = onVolume;
    this.access = access;
    this.handshake = handshake;
    setMap(new ClusterMap(0, clusterId, nodes, Map.of()));
  }

  private void setMap(ClusterMap m) {
    map = m;
    access.update(m);
  }

  @Override
  public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage raftStorage) throws IOException {
    super.initialize(server, groupId, raftStorage);
    storage.init(raftStorage);
    getLifeCycle().startAndTransition(() -> load(storage.loadLatestSnapshot()), IOException.class);
  }

  @Override
  public void reinitialize() throws IOException {
    load(storage.loadLatestSnapshot());
    resume();
  }

  private void load(SingleFileSnapshotInfo snapshot) throws IOException {
    if (snapshot == null) {
      return;
    }
    File file = verifiedFile(snapshot);
    ClusterMap loaded = ClusterMap.decode(Files.readAllBytes(file.toPath()));
    if (!loaded.clusterId().equals(clusterId)) {
      throw new IOException("cluster group snapshot " + file + " belongs to cluster " + loaded.clusterId()
          + ", but this node is configured for cluster " + clusterId + "; refusing to start");
    }
    setMap(loaded);
    setLastAppliedTermIndex(snapshot.getTermIndex());
    map.volumes().values().forEach(onVolume);
  }

  @Override
  protected void writeSnapshot(OutputStream out, long index) throws IOException {
    out.write(map.withEpoch(index).encode());
  }

  @Override
  public TransactionContext startTransaction(RaftClientRequest request) throws IOException {
    TransactionContext.Builder b = TransactionContext.newBuilder().setStateMachine(this).setClientRequest(request);
    byte[] cmd;
    try {
      Envelope.Opened opened = Envelope.open(request.getMessage().getContent());
      AccessControl.checkAdmin(opened.peer());
      cmd = opened.payload().toByteArray();
      ClusterCommand decoded = ClusterCommand.decode(cmd);
      if (decoded instanceof ClusterCommand.GetMap || decoded instanceof ClusterCommand.Hello) {
        throw new HoldfastException(Errno.EINVAL, "a query sent as a mutation: " + decoded.getClass().getSimpleName());
      }
    } catch (HoldfastException e) {
      return refused(b, e);
    }
    long nanos = epochNanos(clock);
    ByteString data = ByteString.copyFrom(java.nio.ByteBuffer.allocate(8).putLong(0, nanos)).concat(ByteString.copyFrom(cmd));
    return b.setLogData(data).build();
  }

  @Override
  public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
    LogEntryProto proto = trx.getLogEntry();
    ByteString data = proto.getStateMachineLogEntry().getLogData();
    Response.Error error = null;
    try {
      long nanos = data.substring(0, 8).asReadOnlyByteBuffer().getLong();
      ClusterCommand cmd = ClusterCommand.decode(data.substring(8).toByteArray());
      error = switch (cmd) {
        case ClusterCommand.CreateVolume cv -> createVolume(cv, nanos);
        case ClusterCommand.AddAclRule a -> changeAcl(a.volume(), a.rule(), true);
        case ClusterCommand.RemoveAclRule r -> changeAcl(r.volume(), r.rule(), false);
        case ClusterCommand.GetMap g -> null;
        case ClusterCommand.Hello h -> null;
      };
    } catch (ProtocolException | IndexOutOfBoundsException e) {
      error = new Response.Error(Errno.EBADMSG, "undecodable cluster log entry: " + e.getMessage());
    }
    updateLastAppliedTermIndex(proto.getTerm(), proto.getIndex());
    byte[] reply = error != null ? Codec.encode(error) : map.withEpoch(proto.getIndex()).encode();
    return CompletableFuture.completedFuture(Message.valueOf(ByteString.copyFrom(reply)));
  }

  private Response.Error createVolume(ClusterCommand.CreateVolume cv, long nanos) {
    try {
      ClusterMap.checkVolumeName(cv.name());
    } catch (IllegalArgumentException e) {
      return new Response.Error(Errno.EINVAL, e.getMessage());
    }
    if (map.volumes().containsKey(cv.name())) {
      return new Response.Error(Errno.EEXIST, "volume " + cv.name() + " already exists");
    }
    if (cv.replicas().isEmpty() || cv.replicas().stream().distinct().count() != cv.replicas().size()) {
      return new Response.Error(Errno.EINVAL, "replicas must be distinct and at least one: " + cv.replicas());
    }
    for (String r : cv.replicas()) {
      if (!nodes.contains(r)) {
        return new Response.Error(Errno.EINVAL, "unknown node " + r + "; nodes are " + nodes);
      }
    }
    ClusterMap.Volume v = new ClusterMap.Volume(cv.name(), ClusterIds.volumeGroup(clusterId, cv.name()), cv.replicas(), nanos);
    Map<String, ClusterMap.Volume> volumes = new LinkedHashMap<>(map.volumes());
    volumes.put(v.name(), v);
    setMap(new ClusterMap(map.epoch(), clusterId, nodes, volumes));
    LOG.info("volume {} created on {}", v.name(), v.replicas());
    onVolume.accept(v);
    return null;
  }

  private Response.Error changeAcl(String volume, AclRule rule, boolean add) {
    ClusterMap.Volume v = map.volumes().get(volume);
    if (v == null) {
      return new Response.Error(Errno.ENOENT, "no volume " + volume);
    }
    List<AclRule> rules = new ArrayList<>(v.acl());
    if (add && rules.contains(rule)) {
      return new Response.Error(Errno.EEXIST, "volume " + volume + " already has ACL rule " + rule);
    }
    if (add && rules.size() >= ClusterMap.MAX_ACL_RULES) {
      return new Response.Error(Errno.ENOSPC, "volume " + volume + " has " + rules.size() + " ACL rules, the most allowed");
    }
    if (!add && !rules.contains(rule)) {
      return new Response.Error(Errno.ENOENT, "volume " + volume + " has no ACL rule " + rule);
    }
    if (add) {
      rules.add(rule);
    } else {
      rules.remove(rule);
    }
    Map<String, ClusterMap.Volume> volumes = new LinkedHashMap<>(map.volumes());
    volumes.put(volume, v.withAcl(rules));
    ClusterMap changed = new ClusterMap(map.epoch(), clusterId, nodes, volumes);
    if (changed.encode().length > ClusterMap.MAX_BYTES) {
      // every member decides this alike (same map, same encoding), so they stay identical
      return new Response.Error(Errno.ENOSPC, "the cluster map would exceed " + ClusterMap.MAX_BYTES + " bytes");
    }
    setMap(changed);
    LOG.info("volume {}: ACL rule {} {}", volume, rule, add ? "added" : "removed");
    return null;
  }

  @Override
  public CompletableFuture<Message> query(Message request) {
    byte[] reply;
    try {
      Envelope.Opened opened = Envelope.open(request.getContent());
      ClusterCommand cmd = ClusterCommand.decode(opened.payload().toByteArray());
      reply = switch (cmd) {
        case ClusterCommand.GetMap g -> {
          TermIndex last = getLastAppliedTermIndex();
          ClusterMap m = map.withEpoch(last == null ? 0 : last.getIndex());
          yield (opened.peer().role().privileged() ? m : m.withoutAcls()).encode();
        }
        case ClusterCommand.Hello h -> handshake.answer(h, opened.peer());
        default -> Codec.encode(new Response.Error(Errno.EINVAL, "not a query: " + cmd));
      };
    } catch (ProtocolException e) {
      reply = Codec.encode(new Response.Error(e.errno(), e.getMessage()));
    }
    return CompletableFuture.completedFuture(Message.valueOf(ByteString.copyFrom(reply)));
  }
}
