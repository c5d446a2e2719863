package io.holdfast.server;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Access;
import io.holdfast.protocol.AclRule;
import io.holdfast.protocol.ClusterCommand;
import io.holdfast.protocol.ClusterLogEntry;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.LogFormatException;
import io.holdfast.protocol.ProtocolException;
import io.holdfast.protocol.Response;
import io.holdfast.transport.ClusterIds;
import io.holdfast.transport.Peer;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
 * written whole to each snapshot. Each log entry is a {@link ClusterLogEntry}: its log format,
 * the leader's timestamp and the command, so applying is deterministic. An entry this member
 * cannot decode halts it ({@link LogFormatGuard}); it is never skipped.
 *
 * <p>Every map this member applies or loads (after a restart, or a snapshot install) is passed
 * to {@code onMap}, in log order: the node starts serving the volumes placed on it and leaves
 * the ones it was replaced in.
 */
final class ClusterStateMachine extends LifecycleStateMachine {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterStateMachine.class);

    private final UUID clusterId;
    private final List<String> groupMembers;
    private final InstantSource clock;
    private final Consumer<ClusterMap> onMap;
    private final AccessControl access;
    private final Handshake handshake;
    private final LogFormatGuard guard;
    private final String self;
    private volatile ClusterMap map;

    /**
     * @param nodes the cluster's initial nodes (the configured peers); more are added at run time
     * @param groupMembers the nodes holding the cluster group, which cannot be removed
     * @param onMap told every map this member applies or loads, in log order
     * @param self this node's address
     * @param maxLogFormat the newest log format this member reads (see {@link LogFormatGuard})
     */
    ClusterStateMachine(
            UUID clusterId,
            List<String> nodes,
            List<String> groupMembers,
            InstantSource clock,
            Consumer<ClusterMap> onMap,
            AccessControl access,
            Handshake handshake,
            String self,
            int maxLogFormat) {
        this.guard = new LogFormatGuard(() -> "cluster group", maxLogFormat);
        this.self = self;
        this.clusterId = clusterId;
        this.groupMembers = List.copyOf(groupMembers);
        this.clock = clock;
        this.onMap = onMap;
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
        onMap.accept(map);
    }

    @Override
    protected void writeSnapshot(OutputStream out, long index) throws IOException {
        out.write(map.withEpoch(index).encode());
    }

    @Override
    public TransactionContext startTransaction(RaftClientRequest request) throws IOException {
        TransactionContext.Builder b =
                TransactionContext.newBuilder().setStateMachine(this).setClientRequest(request);
        ClusterLogEntry entry;
        try {
            Envelope.Opened opened = Envelope.open(request.getMessage().getContent());
            ClusterCommand decoded = ClusterCommand.decode(opened.payload().toByteArray());
            if (decoded instanceof ClusterCommand.GeorepProgress p) {
                checkMayReport(opened.peer(), p);
            } else {
                AccessControl.checkAdmin(opened.peer());
            }
            if (decoded instanceof ClusterCommand.GetMap || decoded instanceof ClusterCommand.Hello) {
                throw new HoldfastException(
                        Errno.EINVAL,
                        "a query sent as a mutation: " + decoded.getClass().getSimpleName());
            }
            String halted = guard.refusal();
            if (halted != null) {
                throw new HoldfastException(Errno.EIO, halted);
            }
            entry = new ClusterLogEntry(epochNanos(clock), decoded);
            guard.checkMembers(entry.format(), decoded.getClass().getSimpleName(), self, map.clusterGroup(), map);
        } catch (HoldfastException e) {
            return refused(b, e);
        }
        return b.setLogData(ByteString.copyFrom(entry.encode())).build();
    }

    @Override
    public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
        LogEntryProto proto = trx.getLogEntry();
        String halted = guard.refusal();
        if (halted != null) {
            return CompletableFuture.failedFuture(new IOException(halted)); // applies nothing after the halt
        }
        ClusterLogEntry entry;
        try {
            entry = ClusterLogEntry.decode(
                    proto.getStateMachineLogEntry().getLogData().toByteArray(), guard.maxFormat());
        } catch (LogFormatException e) {
            // never skipped: a member that skipped it would hold another map than those that applied it
            LogFormatGuard.Halt h = guard.halt(proto.getIndex(), e, getServer().getNow(null), getGroupId());
            return CompletableFuture.failedFuture(new IOException(h.reason()));
        }
        Response.Error error = switch (entry.command()) {
            case ClusterCommand.CreateVolume cv -> createVolume(cv, entry.timestampNanos());
            case ClusterCommand.AddAclRule a -> changeAcl(a.volume(), a.rule(), true);
            case ClusterCommand.RemoveAclRule r -> changeAcl(r.volume(), r.rule(), false);
            case ClusterCommand.AddNode a -> addNode(a.address());
            case ClusterCommand.RemoveNode r -> removeNode(r.address());
            case ClusterCommand.ReplaceReplica r -> replaceReplica(r);
            case ClusterCommand.AdvertiseNode a -> advertise(a);
            case ClusterCommand.PutGeorepSession g -> putSession(g, entry.timestampNanos());
            case ClusterCommand.RemoveGeorepSession r -> removeSession(r);
            case ClusterCommand.GeorepProgress p -> progress(p, entry.timestampNanos());
            case ClusterCommand.GetMap g -> null; // refused by the decoder
            case ClusterCommand.Hello h -> null; // refused by the decoder
        };
        updateLastAppliedTermIndex(proto.getTerm(), proto.getIndex());
        if (error == null) {
            onMap.accept(map.withEpoch(proto.getIndex()));
        }
        // a progress report may come from a client that is not the admin: it is shown what such a client may see
        byte[] reply = error != null
                ? Codec.encode(error)
                : entry.command() instanceof ClusterCommand.GeorepProgress
                        ? map.withEpoch(proto.getIndex()).withoutAcls().encode()
                        : map.withEpoch(proto.getIndex()).encode();
        return CompletableFuture.completedFuture(Message.valueOf(ByteString.copyFrom(reply)));
    }

    /** Where this member stopped applying an entry it cannot decode, if it has. */
    Optional<LogFormatGuard.Halt> halted() {
        return guard.halted();
    }

    @Override
    protected LogFormatGuard logFormatGuard() {
        return guard;
    }

    private Response.Error advertise(ClusterCommand.AdvertiseNode a) {
        if (!map.nodes().contains(a.address())) {
            return new Response.Error(
                    Errno.ENOENT, "node " + a.address() + " is not in the cluster; nodes are " + map.nodes());
        }
        ClusterMap.NodeInfo info = new ClusterMap.NodeInfo(a.minLogFormat(), a.maxLogFormat(), a.version());
        if (info.equals(map.infoOf(a.address()))) {
            return null;
        }
        int before = map.featureLevel();
        Response.Error tooBig = setIfFits(map.withNodeInfo(a.address(), info));
        if (tooBig != null) {
            return tooBig;
        }
        LOG.info(
                "node {} supports log formats {} (version {}); cluster feature level {} (was {})",
                a.address(),
                info.logFormats(),
                a.version().isEmpty() ? "unknown" : a.version(),
                map.featureLevel(),
                before);
        return null;
    }

    /**
     * A progress report needs the admin, a node, or a client the session's volume is exported to
     * (read access is enough).
     */
    private void checkMayReport(Peer peer, ClusterCommand.GeorepProgress p) throws HoldfastException {
        if (peer.role().privileged()) {
            return;
        }
        ClusterMap.GeorepSession g = map.georep().get(p.name());
        ClusterMap.Volume v = g == null ? null : map.volumes().get(g.volume());
        if (v == null || v.accessFor(peer.name(), peer.address()) == Access.NONE) {
            throw new HoldfastException(
                    Errno.EACCES,
                    "georep session " + p.name() + ": only the admin or a client its volume is exported to may"
                            + " report progress; " + peer + " may not");
        }
    }

    private Response.Error putSession(ClusterCommand.PutGeorepSession g, long nanos) {
        if (!map.volumes().containsKey(g.volume())) {
            return new Response.Error(Errno.ENOENT, "no volume " + g.volume() + " for georep session " + g.name());
        }
        ClusterMap.GeorepSession old = map.georep().get(g.name());
        boolean keep = old != null && old.volume().equals(g.volume());
        ClusterMap.GeorepSession s = new ClusterMap.GeorepSession(
                g.name(),
                g.volume(),
                g.target(),
                g.rpoMillis(),
                keep ? old.createdNanos() : nanos,
                keep ? old.position() : 0,
                keep ? old.commitNanos() : 0,
                keep ? old.reportedNanos() : 0);
        Response.Error tooBig = setIfFits(map.withGeorepSession(s));
        if (tooBig != null) {
            return tooBig;
        }
        LOG.info("georep session {}: volume {} -> {}, RPO {} ms", g.name(), g.volume(), g.target(), g.rpoMillis());
        return null;
    }

    private Response.Error removeSession(ClusterCommand.RemoveGeorepSession r) {
        if (!map.georep().containsKey(r.name())) {
            return new Response.Error(Errno.ENOENT, "no georep session " + r.name());
        }
        setMap(map.withoutGeorepSession(r.name()));
        LOG.info("georep session {} removed", r.name());
        return null;
    }

    private Response.Error progress(ClusterCommand.GeorepProgress p, long nanos) {
        ClusterMap.GeorepSession g = map.georep().get(p.name());
        if (g == null) {
            return new Response.Error(Errno.ENOENT, "no georep session " + p.name());
        }
        boolean forward = p.position() >= g.position();
        setMap(map.withGeorepSession(
                g.reported(forward ? p.position() : g.position(), forward ? p.commitNanos() : g.commitNanos(), nanos)));
        return null;
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
        if (cv.replicas().isEmpty()
                || cv.replicas().stream().distinct().count() != cv.replicas().size()) {
            return new Response.Error(Errno.EINVAL, "replicas must be distinct and at least one: " + cv.replicas());
        }
        for (String r : cv.replicas()) {
            if (!map.nodes().contains(r)) {
                return new Response.Error(Errno.EINVAL, "unknown node " + r + "; nodes are " + map.nodes());
            }
        }
        ClusterMap.Volume v =
                new ClusterMap.Volume(cv.name(), ClusterIds.volumeGroup(clusterId, cv.name()), cv.replicas(), nanos);
        setMap(map.withVolume(v));
        LOG.info("volume {} created on {}", v.name(), v.replicas());
        return null;
    }

    private Response.Error addNode(String address) {
        try {
            ClusterMap.checkAddress(address);
        } catch (IllegalArgumentException e) {
            return new Response.Error(Errno.EINVAL, e.getMessage());
        }
        if (map.nodes().contains(address)) {
            return new Response.Error(Errno.EEXIST, "node " + address + " is in the cluster already");
        }
        if (map.nodes().size() >= ClusterMap.MAX_ENTRIES) {
            return new Response.Error(
                    Errno.ENOSPC, "the cluster has " + map.nodes().size() + " nodes, the most allowed");
        }
        List<String> nodes = new ArrayList<>(map.nodes());
        nodes.add(address);
        Response.Error tooBig = setIfFits(map.withNodes(nodes));
        if (tooBig != null) {
            return tooBig;
        }
        LOG.info("node {} added", address);
        return null;
    }

    private Response.Error removeNode(String address) {
        if (!map.nodes().contains(address)) {
            return new Response.Error(
                    Errno.ENOENT, "node " + address + " is not in the cluster; nodes are " + map.nodes());
        }
        if (groupMembers.contains(address)) {
            return new Response.Error(
                    Errno.EBUSY,
                    "node " + address + " holds the cluster group (the cluster map), with " + groupMembers
                            + "; those nodes cannot be removed");
        }
        List<String> using = map.volumes().values().stream()
                .filter(v -> v.servedBy(address))
                .map(ClusterMap.Volume::name)
                .toList();
        if (!using.isEmpty()) {
            return new Response.Error(
                    Errno.EBUSY,
                    "node " + address + " still serves volume(s) " + using
                            + "; move them first ('holdfast cluster remove-node' does, or 'holdfast volume "
                            + "replace-replica')");
        }
        List<String> nodes = new ArrayList<>(map.nodes());
        nodes.remove(address);
        setMap(map.withNodes(nodes));
        LOG.info("node {} removed", address);
        return null;
    }

    /** One step of a replacement; see {@link ClusterCommand.ReplaceReplica}. */
    private Response.Error replaceReplica(ClusterCommand.ReplaceReplica r) {
        ClusterMap.Volume v = map.volumes().get(r.volume());
        if (v == null) {
            return new Response.Error(Errno.ENOENT, "no volume " + r.volume());
        }
        String what = "replacing " + r.oldNode() + " by " + r.newNode() + " in volume " + r.volume();
        boolean done = v.joining().isEmpty()
                && v.replicas().contains(r.newNode())
                && !v.replicas().contains(r.oldNode());
        if (done) {
            return null; // repeated after it completed: nothing to do
        }
        if (!map.nodes().contains(r.newNode())) {
            return new Response.Error(
                    Errno.ENOENT,
                    what + ": " + r.newNode() + " is not a node of the cluster (add it with"
                            + " 'holdfast cluster add-node')");
        }
        if (!v.replicas().contains(r.oldNode())) {
            return new Response.Error(
                    Errno.EINVAL, what + ": " + r.oldNode() + " is not a replica; replicas are " + v.replicas());
        }
        if (v.replicas().contains(r.newNode())) {
            return new Response.Error(Errno.EINVAL, what + ": " + r.newNode() + " is a replica already");
        }
        if (!r.commit()) {
            if (v.joining().equals(r.newNode())) {
                return null; // begun already
            }
            if (!v.joining().isEmpty()) {
                return new Response.Error(
                        Errno.EBUSY,
                        what + ": " + v.joining() + " is joining the volume in another"
                                + " replacement; finish that one first by running it again");
            }
            setMap(map.withVolume(v.beginReplace(r.newNode())));
            LOG.info(
                    "volume {}: {} joining to replace {} (membership generation {})",
                    v.name(),
                    r.newNode(),
                    r.oldNode(),
                    v.generation() + 1);
            return null;
        }
        if (!v.joining().equals(r.newNode())) {
            return new Response.Error(
                    Errno.EINVAL,
                    what + ": no such replacement was begun"
                            + (v.joining().isEmpty() ? "" : " (" + v.joining() + " is joining)"));
        }
        setMap(map.withVolume(v.commitReplace(r.oldNode())));
        LOG.info(
                "volume {}: {} replaced by {} (membership generation {})",
                v.name(),
                r.oldNode(),
                r.newNode(),
                v.generation());
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
            return new Response.Error(
                    Errno.ENOSPC, "volume " + volume + " has " + rules.size() + " ACL rules, the most allowed");
        }
        if (!add && !rules.contains(rule)) {
            return new Response.Error(Errno.ENOENT, "volume " + volume + " has no ACL rule " + rule);
        }
        if (add) {
            rules.add(rule);
        } else {
            rules.remove(rule);
        }
        Response.Error tooBig = setIfFits(map.withVolume(v.withAcl(rules)));
        if (tooBig != null) {
            return tooBig;
        }
        LOG.info("volume {}: ACL rule {} {}", volume, rule, add ? "added" : "removed");
        return null;
    }

    /** Makes {@code changed} the map unless it would not fit in {@link ClusterMap#MAX_BYTES}. */
    private Response.Error setIfFits(ClusterMap changed) {
        if (changed.encode().length > ClusterMap.MAX_BYTES) {
            // every member decides this alike (same map, same encoding), so they stay identical
            return new Response.Error(Errno.ENOSPC, "the cluster map would exceed " + ClusterMap.MAX_BYTES + " bytes");
        }
        setMap(changed);
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
