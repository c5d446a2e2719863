package io.holdfast.server.admin;

import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * What this node knew of one of its Raft groups at one instant: the input of the Raft
 * gauges ({@link NodeMetrics#update}) and of the status page's group sections. Plain values,
 * so metrics and page can be tested without Ratis.
 *
 * @param groupId the group
 * @param name the volume's name, {@link StatusReport.Group#CLUSTER}, or empty if unknown here
 * @param self this node's address
 * @param role this member's role: {@code leader}, {@code follower}, {@code candidate}, {@code listener}
 * @param term this member's current term
 * @param leader the leader's address, or null if unknown
 * @param members the group's current members (addresses), in configuration order
 * @param appliedIndex this member's applied index
 * @param commitIndexes every member's commit index as this member knows it (its own, and
 *     what the leader relays or followers report); members it has not heard of are absent
 * @param followers (leader only) each follower's replication state; empty elsewhere
 * @param catchUp this member's own catch-up state
 */
record GroupSample(
        UUID groupId,
        String name,
        String self,
        String role,
        long term,
        String leader,
        List<String> members,
        long appliedIndex,
        Map<String, Long> commitIndexes,
        Map<String, Follower> followers,
        CatchUp catchUp) {

    GroupSample {
        members = List.copyOf(members);
        commitIndexes = Map.copyOf(commitIndexes);
        followers = Map.copyOf(followers);
    }

    /** Whether this node leads the group. */
    boolean isLeader() {
        return "leader".equals(role);
    }

    /**
     * A follower as the leader sees it.
     *
     * @param matchIndex the highest index the leader knows the follower holds
     * @param lagEntries the leader's commit index minus {@code matchIndex}, at least 0
     * @param lagSeconds see {@link LagTracker#lagSeconds}
     * @param lastContactSeconds seconds since the follower last answered the leader
     */
    record Follower(long matchIndex, long lagEntries, double lagSeconds, double lastContactSeconds) {}

    /**
     * This member's catch-up state.
     *
     * @param snapshotInstalling whether a snapshot is being received or loaded
     * @param bytesReceived bytes of it received so far (0 when none)
     * @param bytesExpected its size, or -1 if not known
     * @param appliedFraction applied index / leader commit index, in 0–1
     */
    record CatchUp(boolean snapshotInstalling, long bytesReceived, long bytesExpected, double appliedFraction) {}
}
