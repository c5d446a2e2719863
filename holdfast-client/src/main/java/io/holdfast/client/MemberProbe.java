package io.holdfast.client;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Placement;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.transport.ClusterIds;
import java.io.IOException;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiFunction;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.RaftGroupId;

/**
 * Diagnostics addressed to individual members rather than to a group: each member's state
 * digest, any query answered from one member's own applied state (no read index: scrub control
 * and status, reads that compare members), what each member says about its Raft group, and
 * whether each node answers at all. For {@code holdfast cluster status}, {@code volume info},
 * the {@code scrub} commands and tests.
 *
 * <p>Obtained from {@link HoldfastClient#probe()}; it uses that client's connections, map and
 * deadline. Volume queries go through the volume's own read client (the one
 * {@link HoldfastClient#volume} uses for reads pinned to a member); group info and node probes
 * open a short-lived, non-retrying Raft client per call and ask all members in parallel.
 * Nothing here changes the cluster map (a {@link Request.ScrubControl} changes only the scrubber
 * of the member it is sent to) or retries on another member: a member that does not answer is
 * reported as such.
 *
 * <p>Thread-safe.
 */
public final class MemberProbe {
    private final HoldfastClient client;

    MemberProbe(HoldfastClient client) {
        this.client = client;
    }

    /**
     * Asks every member of a volume's replica group for its state digest, without a read index:
     * each answer is that member's own applied state. Blocks up to the client deadline per member
     * that does not answer.
     *
     * @return member address → {@link Response.Digest}, or → error for a member that did not
     *     answer (as {@link #queryMembers}), in replica order
     * @throws HoldfastException {@link Errno#ENOENT} if there is no such volume
     * @throws IllegalStateException if the client is closed
     */
    public Map<String, Response> memberDigests(String volume) throws HoldfastException {
        return queryMembers(volume, new Request.GetDigest());
    }

    /**
     * Sends one query to every member of a volume's replica group, one member after the other,
     * without a read index: each answer comes from that member's own applied state. For
     * diagnostics and for per-member requests such as {@link Request.ScrubControl}; file-system
     * reads should use {@link HoldfastClient#volume}. Blocks up to the client deadline per member
     * that does not answer.
     *
     * @return member address → answer, in replica order; → {@link Errno#EIO} error for a member
     *     that did not answer (down, refused, past the deadline), with the reason
     * @throws HoldfastException {@link Errno#ENOENT} if there is no such volume; {@link Errno#EIO}
     *     if interrupted
     * @throws IllegalStateException if the client is closed
     */
    public Map<String, Response> queryMembers(String volume, Request.Query query) throws HoldfastException {
        Map<String, Response> out = new LinkedHashMap<>();
        for (String address : replicas(volume)) {
            out.put(address, queryMember(volume, address, query));
        }
        return out;
    }

    /**
     * Sends one query to one member of a volume's replica group, as {@link #queryMembers}. Blocks
     * up to the client deadline.
     *
     * @param member the member's address ({@code host:port}), one of the volume's replicas
     * @return its answer, or an {@link Errno#EIO} error saying why it did not answer
     * @throws HoldfastException {@link Errno#ENOENT} if there is no such volume or the address is
     *     not one of its replicas; {@link Errno#EIO} if interrupted
     * @throws IllegalStateException if the client is closed
     */
    public Response queryMember(String volume, String member, Request.Query query) throws HoldfastException {
        RaftVolumeService s = client.raftVolume(volume);
        if (!replicas(volume).contains(member)) {
            throw new HoldfastException(
                    Errno.ENOENT, member + " is not a replica of volume " + volume + " " + replicas(volume));
        }
        long deadlineMillis = client.deadline().toMillis();
        try {
            return s.queryMember(ClusterIds.peer(member).getId(), query).get(deadlineMillis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HoldfastException(Errno.EIO, "interrupted");
        } catch (ExecutionException | TimeoutException e) {
            Throwable c = e instanceof ExecutionException ? e.getCause() : e;
            return new Response.Error(Errno.EIO, String.valueOf(c.getMessage()));
        }
    }

    /** The volume's replicas as the map names them (read again if the cached map does not know the volume). */
    private List<String> replicas(String volume) throws HoldfastException {
        return client.knownVolume(volume).replicas();
    }

    /**
     * The address of the volume's current leader, asked of the members (their group info, all in
     * parallel); empty if no member answers as leader (e.g. during an election) or if there is no
     * such volume. Blocks up to one request timeout (1 s) for members that do not answer, and up
     * to the client deadline if the map must be read again.
     *
     * @return the first member in replica order that answers as leader
     * @throws IllegalStateException if the client is closed
     */
    public Optional<String> leaderOf(String volume) {
        ClusterMap.Volume v;
        try {
            v = client.knownVolume(volume);
        } catch (HoldfastException e) {
            return Optional.empty();
        }
        return groupInfo(Placement.onlyGroup(v), v.replicas()).values().stream()
                .filter(i -> "leader".equals(i.role()))
                .map(MemberInfo::address)
                .findFirst();
    }

    /**
     * What one member says about its Raft group, read with the Raft admin API's group info
     * (which clients may read; no read index, no state machine). Immutable.
     *
     * @param address the member's node address
     * @param error null if the member answered; else why not (it is down, unreachable, or does
     *     not serve the group), and every other field is empty
     * @param role {@code leader}, {@code follower}, {@code candidate} or {@code listener}
     * @param term the leader's current term (known only from the leader's answer), or -1
     * @param leader the leader's address as this member knows it, or null
     * @param commitIndex this member's commit index (a Raft log index), or -1
     * @param appliedIndex this member's applied index (a Raft log index), or -1
     * @param commitIndexes every member's commit index as this member knows it, by address
     * @param lastContactMillis (leader only) each follower's milliseconds since it last answered,
     *     by address
     */
    public record MemberInfo(
            String address,
            String error,
            String role,
            long term,
            String leader,
            long commitIndex,
            long appliedIndex,
            Map<String, Long> commitIndexes,
            Map<String, Long> lastContactMillis) {
        /** Copies both maps. */
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
     * @param groupId the group (for a volume: {@link Placement#onlyGroup})
     * @param members the group's members (node addresses)
     * @return member address → its answer (an unanswered {@link MemberInfo} for one that did not
     *     answer), in the order of {@code members}; if interrupted, only the answers collected
     *     until then, with the thread's interrupt status set
     */
    public Map<String, MemberInfo> groupInfo(UUID groupId, List<String> members) {
        RaftGroupId id = RaftGroupId.valueOf(groupId);
        Map<String, String> addressById = new HashMap<>();
        members.forEach(a -> addressById.put(ClusterMap.peerId(a), a));
        return eachNode(
                members,
                (admin, address) -> {
                    var reply = admin.getGroupManagementApi(
                                    ClusterIds.peer(address).getId())
                            .info(id);
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
                            contact.put(
                                    addressById.getOrDefault(
                                            f.getId().getId().toStringUtf8(),
                                            f.getId().getAddress()),
                                    f.getLastRpcElapsedTimeMs());
                        }
                    } else if (role.hasFollowerInfo()
                            && !role.getFollowerInfo()
                                    .getLeaderInfo()
                                    .getId()
                                    .getId()
                                    .isEmpty()) {
                        String id2 = role.getFollowerInfo()
                                .getLeaderInfo()
                                .getId()
                                .getId()
                                .toStringUtf8();
                        leader = addressById.getOrDefault(
                                id2,
                                role.getFollowerInfo().getLeaderInfo().getId().getAddress());
                    }
                    Map<String, Long> commits = new LinkedHashMap<>();
                    for (var ci : reply.getCommitInfos()) {
                        String a = addressById.get(ci.getServer().getId().toStringUtf8());
                        if (a != null) {
                            commits.put(a, ci.getCommitIndex());
                        }
                    }
                    var log = reply.getLogInfoProto();
                    return new MemberInfo(
                            address,
                            null,
                            role.getRole().name().toLowerCase(Locale.ROOT),
                            term,
                            leader,
                            log.getCommitted().getIndex(),
                            log.getApplied().getIndex(),
                            commits,
                            contact);
                },
                MemberInfo::unanswered);
    }

    /**
     * Asks each node whether it answers (the Raft admin API's group list), all in parallel;
     * blocks up to one request timeout (1 s) for nodes that do not.
     *
     * @param nodes node addresses ({@code host:port})
     * @return address → null if it answered, else why not; in the order of {@code nodes}; if
     *     interrupted, only the answers collected until then, with the thread's interrupt status set
     */
    public Map<String, String> probeNodes(List<String> nodes) {
        Map<String, Optional<String>> answers = eachNode(
                nodes,
                (admin, address) -> {
                    var reply = admin.getGroupManagementApi(
                                    ClusterIds.peer(address).getId())
                            .list();
                    return reply.isSuccess()
                            ? Optional.<String>empty()
                            : Optional.of(String.valueOf(reply.getException()));
                },
                (address, error) -> Optional.of(error));
        Map<String, String> out = new LinkedHashMap<>();
        answers.forEach((a, e) -> out.put(a, e.orElse(null)));
        return out;
    }

    /** What to ask one node through the admin API. */
    private interface NodeCall<T> {
        T call(RaftClient admin, String address) throws IOException;
    }

    /** Runs {@code call} for every node in parallel (one virtual thread each) with a non-retrying client. */
    private <T> Map<String, T> eachNode(List<String> nodes, NodeCall<T> call, BiFunction<String, String, T> failed) {
        Map<String, T> out = new LinkedHashMap<>();
        if (nodes.isEmpty()) {
            return out;
        }
        RaftClient admin = client.clients().newClient(ClusterIds.group(ClusterIds.CLUSTER_GROUP, nodes), true);
        try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
            Map<String, Future<T>> pending = new LinkedHashMap<>();
            for (String a : nodes) {
                pending.put(a, threads.submit(() -> {
                    try {
                        return call.call(admin, a);
                    } catch (IOException | RuntimeException e) {
                        return failed.apply(
                                a, e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
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
        } finally {
            RaftClients.closeQuietly(admin);
        }
        return out;
    }
}
