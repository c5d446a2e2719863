package io.holdfast.server.admin;

import io.holdfast.transport.ClusterIds;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.stream.Stream;
import org.apache.ratis.proto.RaftProtos.CommitInfoProto;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.proto.RaftProtos.ServerRpcProto;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.util.LifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads this node's Raft groups into {@link GroupSample}s.
 *
 * <ul>
 *   <li>Own state: role, term, leader, commit index ({@code RaftLog.getLastCommittedIndex}),
 *       applied index, and every member's commit index as this member knows it
 *       ({@code Division.getCommitInfos}: followers report theirs to the leader, which relays
 *       them).
 *   <li>Leader only: each follower's match index ({@code DivisionInfo.getFollowerMatchIndices})
 *       and time since it last answered ({@code RoleInfoProto}'s leader info). Ratis builds both
 *       from its list of log appenders, in the same order; if their sizes differ (a
 *       membership change in between), the followers are left out of that sample.
 *   <li>Lag in seconds: {@link LagTracker}.
 *   <li>Snapshot installation (Ratis ships snapshots itself today): a member is installing
 *       while Ratis writes the snapshot's chunks into {@code raft/<group>/tmp/snapshot-*}
 *       (modified within the last {@code 30 s}; the received bytes are the files' sizes) and
 *       while its state machine is PAUSED loading it. This is reported through
 *       {@link NodeMetrics#snapshotProgress}, the same method a future snapshot transfer calls
 *       directly.
 * </ul>
 *
 * <p>Thread-safe ({@link #sample} is synchronized).
 */
final class RaftSampler {
    private static final Logger LOG = LoggerFactory.getLogger(RaftSampler.class);
    /** A snapshot chunk directory untouched for longer is an abandoned transfer, not one in progress. */
    static final Duration ACTIVE_TRANSFER = Duration.ofSeconds(30);

    private final RaftServer server;
    private final String self;
    private final Function<UUID, Optional<String>> volumeNames;
    private final Comparator<String> nodeOrder;
    private final NodeMetrics metrics;
    private final InstantSource clock;
    private final LongSupplier nanoClock;
    private final LagTracker lag = new LagTracker();
    private final Set<UUID> watched = new HashSet<>(); // snapshot progress this sampler reported

    RaftSampler(
            RaftServer server,
            String self,
            Function<UUID, Optional<String>> volumeNames,
            Comparator<String> nodeOrder,
            NodeMetrics metrics,
            InstantSource clock,
            LongSupplier nanoClock) {
        this.server = server;
        this.self = self;
        this.volumeNames = volumeNames;
        this.nodeOrder = nodeOrder;
        this.metrics = metrics;
        this.clock = clock;
        this.nanoClock = nanoClock;
    }

    /** Every group this node serves now: the cluster group first, then by volume name. */
    synchronized List<GroupSample> sample() {
        long now = nanoClock.getAsLong();
        List<GroupSample> out = new ArrayList<>();
        Set<UUID> served = new HashSet<>();
        List<RaftGroupId> ids = new ArrayList<>();
        try {
            server.getGroupIds().forEach(ids::add);
        } catch (RuntimeException e) {
            return out; // not started, or closing
        }
        for (RaftGroupId id : ids) {
            RaftServer.Division d;
            try {
                d = server.getDivision(id);
            } catch (IOException e) {
                continue; // removed or closing meanwhile
            }
            served.add(id.getUuid());
            try {
                out.add(sample(id, d, now));
            } catch (RuntimeException e) {
                // a group being added or removed ("log is uninitialized"): left out of this sample only
                LOG.debug("{}: not sampled: {}", id, e.toString());
            }
        }
        lag.retain(served);
        watched.retainAll(served);
        out.sort(Comparator.comparing((GroupSample g) -> !g.name().equals(StatusReport.Group.CLUSTER))
                .thenComparing(GroupSample::name)
                .thenComparing(g -> g.groupId().toString()));
        return out;
    }

    private GroupSample sample(RaftGroupId id, RaftServer.Division d, long now) {
        UUID group = id.getUuid();
        DivisionInfo info = d.getInfo();
        Map<String, String> addressById = new HashMap<>();
        List<String> members = new ArrayList<>();
        for (RaftPeer p : d.getRaftConf().getCurrentPeers()) {
            addressById.put(p.getId().toString(), p.getAddress());
            members.add(p.getAddress());
        }
        members.sort(nodeOrder);
        RaftPeerId leaderId = info.getLeaderId();
        String leader = leaderId == null ? null : addressById.get(leaderId.toString());
        long commit = d.getRaftLog().getLastCommittedIndex();
        long applied = info.getLastAppliedIndex();
        Map<String, Long> commits = new LinkedHashMap<>();
        for (CommitInfoProto ci : d.getCommitInfos()) {
            String a = addressById.get(ci.getServer().getId().toStringUtf8());
            if (a != null) {
                commits.put(a, ci.getCommitIndex());
            }
        }
        commits.put(self, commit);
        long leaderCommit = info.isLeader() ? commit : leader == null ? -1 : commits.getOrDefault(leader, -1L);
        lag.record(group, now, Math.max(commit, leaderCommit));

        Map<String, GroupSample.Follower> followers = new LinkedHashMap<>();
        if (info.isLeader()) {
            RoleInfoProto role = info.getRoleInfoProto();
            long[] match = info.getFollowerMatchIndices();
            if (role.hasLeaderInfo() && match != null && role.getLeaderInfo().getFollowerInfoCount() == match.length) {
                List<ServerRpcProto> rpc = role.getLeaderInfo().getFollowerInfoList();
                for (int i = 0; i < match.length; i++) {
                    String a = addressById.get(rpc.get(i).getId().getId().toStringUtf8());
                    if (a != null) {
                        followers.put(
                                a,
                                new GroupSample.Follower(
                                        match[i],
                                        Math.max(0, commit - match[i]),
                                        lag.lagSeconds(group, match[i], commit, now),
                                        rpc.get(i).getLastRpcElapsedTimeMs() / 1000.0));
                    }
                }
            }
        }

        boolean paused =
                d.getStateMachine() instanceof BaseStateMachine sm && sm.getLifeCycleState() == LifeCycle.State.PAUSED;
        long received = transferBytes(tmpDir(d), clock.instant().minus(ACTIVE_TRANSFER));
        if (received >= 0 || paused) {
            NodeMetrics.SnapshotProgress.View before = metrics.snapshot(group);
            metrics.snapshotProgress(group, received >= 0 ? received : before.received(), before.expected());
            if (watched.add(group)) {
                LOG.info(
                        "{}: installing a snapshot from the leader ({} bytes received so far)",
                        id,
                        Math.max(0, received));
            }
        } else if (watched.remove(group)) {
            LOG.info("{}: snapshot installed, applied index {}", id, applied);
            metrics.snapshotFinished(group);
        }
        NodeMetrics.SnapshotProgress.View snap = metrics.snapshot(group);
        double fraction = leaderCommit <= 0 ? 1 : Math.min(1, Math.max(0, applied) / (double) leaderCommit);

        String name = id.equals(ClusterIds.CLUSTER_GROUP)
                ? StatusReport.Group.CLUSTER
                : volumeNames.apply(group).orElse("");
        return new GroupSample(
                group,
                name,
                self,
                info.getCurrentRole().name().toLowerCase(Locale.ROOT),
                info.getCurrentTerm(),
                leader,
                members,
                applied,
                commits,
                followers,
                new GroupSample.CatchUp(snap.installing(), snap.received(), snap.expected(), fraction));
    }

    private static Path tmpDir(RaftServer.Division d) {
        try {
            return d.getRaftStorage().getStorageDir().getTmpDir().toPath();
        } catch (RuntimeException e) {
            return null; // storage closing
        }
    }

    /**
     * Bytes of a snapshot Ratis is receiving: the files under {@code tmp/snapshot-*} if any was
     * modified after {@code recent}; -1 if there is none.
     */
    static long transferBytes(Path tmp, Instant recent) {
        if (tmp == null || !Files.isDirectory(tmp)) {
            return -1;
        }
        long bytes = 0;
        boolean active = false;
        try (Stream<Path> files = Files.walk(tmp, 3)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                if (!f.equals(tmp)
                        && tmp.relativize(f).getName(0).toString().startsWith("snapshot-")
                        && Files.isRegularFile(f)) {
                    bytes += Files.size(f);
                    active |= Files.getLastModifiedTime(f).toInstant().isAfter(recent);
                }
            }
        } catch (IOException | UncheckedIOException e) {
            return -1; // the directory changed under us (renamed into place); the next sample will tell
        }
        return active ? bytes : -1;
    }
}
