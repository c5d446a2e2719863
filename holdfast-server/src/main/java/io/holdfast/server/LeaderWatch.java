package io.holdfast.server;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.event.Level;

/**
 * Starts an election (with pre-vote) on a follower as soon as its leader is known to be gone,
 * rather than when Ratis's follower timer gets round to it.
 *
 * <p><b>Why.</b> Ratis 3.3.0's follower sleeps a fresh random election timeout (1-2 s here,
 * {@link RaftSettings}) and only then compares the time since the last heartbeat with it, so a
 * follower notices a dead leader 1-4 s after its last heartbeat, and a write through a mount
 * stalled 2.9-4.1 s after a leader stopped (docs/architecture.md, "Failover stall").
 *
 * <p><b>What.</b> Every {@link #POLL} a node looks at each group it follows. A follower whose
 * leader has been silent for at least the minimum election timeout (plus {@link #STAGGER} per
 * rank, see below) dials the leader's Raft port; if the connection is <em>refused</em> (nothing
 * listens there: the process is dead or its server closed), the follower becomes a candidate at
 * once, exactly as its own timer would have made it. A connection that is accepted or times out
 * (a slow leader, a partition) changes nothing: Ratis's timer decides as before.
 *
 * <p><b>Why it is safe.</b> It only moves the moment a follower stands within what Ratis already
 * allows: never before the minimum election timeout of silence, and always with pre-vote, so a
 * voter that has heard from a live leader within its minimum election timeout refuses (Raft
 * thesis, section 9.6), and the read leases' arguments (a leader's Ratis lease is 0.9 of the
 * minimum timeout; the client lease grace) hold unchanged. The followers of a group stand in
 * turn, ranked by peer id ({@link #STAGGER} apart), so that two of them seldom split the vote.
 *
 * <p><b>How.</b> Ratis has no public call to make a follower stand; this calls the member's
 * package-private {@code RaftServerImpl.changeToCandidate(false)} (what Ratis's own
 * {@code FollowerState} calls, under the same lock) by reflection. If a Ratis upgrade removes
 * it, the watch logs that once and does nothing: failover falls back to Ratis's timer.
 *
 * <p>Thread safety: one daemon thread per node runs the polls; {@link #close} stops it.
 */
final class LeaderWatch implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LeaderWatch.class);

    /** How often the groups are looked at. */
    static final Duration POLL = Duration.ofMillis(100);
    /** The extra silence each rank of follower waits for before it stands. */
    static final Duration STAGGER = Duration.ofMillis(300);
    /** The least time between two elections this watch starts in one group. */
    static final Duration RETRY = Duration.ofMillis(300);
    /** How long a dial of the leader's port may take; longer counts as "not refused". */
    static final int DIAL_TIMEOUT_MILLIS = 200;

    private static final Method CHANGE_TO_CANDIDATE = changeToCandidate();

    private final RaftServer server;
    private final long minTimeoutNanos;
    private final UnaryOperator<String> route;
    private final Predicate<String> refuses;
    private final Map<RaftGroupId, Tracker> trackers = new ConcurrentHashMap<>();
    private final ScheduledExecutorService poller;

    /**
     * @param server the node's Raft server
     * @param minElectionTimeout its minimum election timeout
     * @param route peer address → the {@code host:port} this node dials for it ({@link NodeNetwork})
     */
    LeaderWatch(RaftServer server, Duration minElectionTimeout, UnaryOperator<String> route) {
        this(server, minElectionTimeout, route, LeaderWatch::refusesConnections);
    }

    LeaderWatch(
            RaftServer server, Duration minElectionTimeout, UnaryOperator<String> route, Predicate<String> refuses) {
        this.server = server;
        this.minTimeoutNanos = minElectionTimeout.toNanos();
        this.route = route;
        this.refuses = refuses;
        this.poller = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "holdfast-leader-watch-" + server.getId());
            t.setDaemon(true);
            return t;
        });
    }

    /** Starts polling (does nothing if Ratis lacks the call this needs). */
    void start() {
        if (CHANGE_TO_CANDIDATE != null) {
            poller.scheduleWithFixedDelay(this::pollQuietly, POLL.toMillis(), POLL.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private void pollQuietly() {
        try {
            poll();
        } catch (IOException | RuntimeException e) {
            LOG.debug("leader watch of {}: {}", server.getId(), e.toString());
        }
    }

    /** One look at every group of this node. */
    void poll() throws IOException {
        long now = System.nanoTime();
        Set<RaftGroupId> seen = new HashSet<>();
        for (RaftGroupId id : server.getGroupIds()) {
            seen.add(id);
            RaftServer.Division d;
            try {
                d = server.getDivision(id);
            } catch (IOException e) {
                trackers.remove(id); // left or not started
                continue;
            }
            if (!d.getInfo().isAlive() || d.getInfo().isLeader()) {
                trackers.remove(id);
                continue;
            }
            if (!d.getInfo().isFollower()) {
                continue; // a candidate: an election is under way; keep what was known of the leader
            }
            Tracker t = trackers.computeIfAbsent(id, k -> new Tracker(minTimeoutNanos));
            View v = view(d, t.leader);
            if (v == null) {
                continue;
            }
            if (t.step(now, v, address -> refuses.test(route.apply(address)))) {
                // the first stand for a leader at INFO; repeats (failed pre-votes) at DEBUG
                LOG.atLevel(t.stands == 1 ? Level.INFO : Level.DEBUG)
                        .log(
                                "group {}: leader {} at {} refuses connections and was last heard {} ms ago:"
                                        + " standing for election now",
                                id,
                                t.leader,
                                t.address,
                                TimeUnit.NANOSECONDS.toMillis(now - t.lastHeardNanos));
                standForElection(d);
            }
        }
        trackers.keySet().retainAll(seen);
    }

    /**
     * What this node's member of a group, a follower, knows of its leader; null if it is not a
     * voter. Its rank leaves out its leader, or the last one known ({@code lastLeader}) while it
     * knows none (after a failed pre-vote), so that a retry keeps its turn.
     */
    private static View view(RaftServer.Division d, String lastLeader) {
        RoleInfoProto role = d.getInfo().getRoleInfoProto();
        if (role.getRole() != RaftPeerRole.FOLLOWER || !role.hasFollowerInfo()) {
            return null;
        }
        var follower = role.getFollowerInfo();
        String leaderId = null;
        String leaderAddress = null;
        if (follower.hasLeaderInfo() && follower.getLeaderInfo().hasId()) {
            var p = follower.getLeaderInfo().getId();
            if (!p.getId().isEmpty() && !p.getAddress().isEmpty()) {
                leaderId = p.getId().toStringUtf8();
                leaderAddress = p.getAddress();
            }
        }
        String self = d.getId().toString();
        List<String> voters = d.getRaftConf().getCurrentPeers().stream()
                .map(RaftPeer::getId)
                .map(Object::toString)
                .sorted(Comparator.naturalOrder())
                .toList();
        if (!voters.contains(self)) {
            return null;
        }
        String leader = leaderId != null ? leaderId : lastLeader;
        int rank = (int) voters.stream()
                .filter(p -> !p.equals(leader))
                .takeWhile(p -> !p.equals(self))
                .count();
        return new View(
                d.getInfo().getCurrentTerm(),
                leaderId,
                leaderAddress,
                follower.getLeaderInfo().getLastRpcElapsedTimeMs(),
                follower.getOutstandingOp(),
                rank);
    }

    private static void standForElection(RaftServer.Division d) {
        synchronized (d) { // the lock changeToCandidate takes: no role change between the check and the call
            if (d.getInfo().isFollower() && d.getInfo().isAlive()) {
                try {
                    CHANGE_TO_CANDIDATE.invoke(d, false);
                } catch (IllegalAccessException | InvocationTargetException | RuntimeException e) {
                    LOG.warn(
                            "could not start an election in group {}: {}",
                            d.getGroup().getGroupId(),
                            e.toString());
                }
            }
        }
    }

    /**
     * Whether a TCP connection to {@code hostPort} is refused (RST: nothing listens there).
     * Accepted, timed out or unresolvable count as not refused. The connection is closed at once.
     */
    static boolean refusesConnections(String hostPort) {
        return Dial.attempt(hostPort, DIAL_TIMEOUT_MILLIS) == Dial.Outcome.REFUSED;
    }

    private static Method changeToCandidate() {
        try {
            Method m = Class.forName("org.apache.ratis.server.impl.RaftServerImpl")
                    .getDeclaredMethod("changeToCandidate", boolean.class);
            m.setAccessible(true);
            return m;
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.warn(
                    "this Ratis has no RaftServerImpl.changeToCandidate(boolean) ({}): a dead leader is noticed by"
                            + " the election timer only",
                    e.toString());
            return null;
        }
    }

    @Override
    public void close() {
        poller.shutdownNow();
    }

    /**
     * One poll's view of a follower member.
     *
     * @param term its current term
     * @param leaderId its leader's peer id, or null when it knows none (after a failed pre-vote)
     * @param leaderAddress the leader's address, or null with {@code leaderId}
     * @param rpcElapsedMillis milliseconds since it last heard from the leader (or became a follower)
     * @param outstandingOps appends it is processing (none: it stands only when idle, as Ratis does)
     * @param rank its place among the group's voters other than the leader, by peer id
     */
    record View(
            long term, String leaderId, String leaderAddress, long rpcElapsedMillis, int outstandingOps, int rank) {}

    /**
     * The decision for one group, kept between polls. Not thread-safe: one poller.
     */
    static final class Tracker {
        private final long minTimeoutNanos;
        String leader;
        String address;
        long term = -1;
        long lastHeardNanos;
        private long lastStoodNanos;
        /** How many times the member stood while this leader was its last. */
        int stands;

        Tracker(long minTimeoutNanos) {
            this.minTimeoutNanos = minTimeoutNanos;
        }

        /**
         * Takes in one view; returns whether the member should stand for election now.
         *
         * @param now {@link System#nanoTime}
         * @param refuses asked, about the leader's address, only when everything else says stand
         */
        boolean step(long now, View v, Predicate<String> refuses) {
            long heard = now - TimeUnit.MILLISECONDS.toNanos(v.rpcElapsedMillis());
            if (v.leaderId() != null && (!v.leaderId().equals(leader) || v.term() != term)) {
                leader = v.leaderId();
                address = v.leaderAddress();
                term = v.term();
                lastHeardNanos = heard;
                stands = 0;
            } else if (leader == null) {
                return false; // no leader known yet
            } else if (v.term() != term) {
                leader = null; // a new term and no leader yet: an election is under way
                return false;
            } else if (v.leaderId() != null) {
                lastHeardNanos = Math.max(lastHeardNanos, heard);
            }
            // with no leader id (after this member's own failed pre-vote) its timer restarted and the
            // elapsed time says nothing of the leader: the last time heard stays as it was
            long silence = now - lastHeardNanos;
            long due = minTimeoutNanos + v.rank() * STAGGER.toNanos();
            if (silence < due || v.outstandingOps() > 0) {
                return false;
            }
            if (stands > 0 && now - lastStoodNanos < RETRY.toNanos()) {
                return false;
            }
            if (!refuses.test(address)) {
                return false;
            }
            stands++;
            lastStoodNanos = now;
            return true;
        }
    }
}
