package io.holdfast.client;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.AclRule;
import io.holdfast.protocol.ClusterCommand;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.LogFormat;
import io.holdfast.protocol.Placement;
import io.holdfast.protocol.Response;
import io.holdfast.transport.ClusterIds;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroupId;

/**
 * Changes to the cluster map: creating volumes, export ACL rules, adding and removing nodes,
 * and replacing a volume's replica (the map changes around one Raft configuration change).
 * Every change needs the admin certificate (on a plaintext cluster every client counts as the
 * admin); the cluster group refuses it to others with {@link Errno#EACCES}.
 *
 * <p>Obtained from {@link HoldfastClient#admin()}; it uses that client's connections and
 * deadline, and every change leaves the map it answers with in the client's cache
 * ({@link HoldfastClient#map()}). The volumes themselves are listed by that map
 * ({@code map().volumes()}). Each method blocks until its change is done or refused.
 *
 * <p>Thread-safe. Changes to different volumes may run at once; the cluster group refuses a
 * second replacement of the same volume while one is under way ({@link Errno#EBUSY}).
 */
public final class ClusterAdmin {
    /** How long a leadership transfer before a replacement may take, milliseconds. */
    static final long LEADERSHIP_TRANSFER_MILLIS = 10_000;

    private final HoldfastClient client;
    private final MemberProbe probe;

    ClusterAdmin(HoldfastClient client, MemberProbe probe) {
        this.client = client;
        this.probe = probe;
    }

    /**
     * Creates a volume whose replica group is {@code replicas} (node addresses), and waits (up to
     * the deadline) until every replica serves it: nodes start a new volume's replica group when
     * they apply the change, and a write sent to a node that has not yet would fail.
     *
     * @param name the volume name ({@link ClusterMap#checkVolumeName})
     * @param replicas node addresses ({@code host:port}) of the cluster, one per replica
     * @return the cluster map after the change
     * @throws HoldfastException {@link Errno#EEXIST} if it exists, {@link Errno#EINVAL} for a bad
     *     name or unknown node, {@link Errno#EACCES} unless this client is the admin,
     *     {@link Errno#ETIMEDOUT} if the cluster group does not answer or the replicas do not all
     *     serve the volume within the deadline, {@link Errno#EIO} if interrupted
     * @throws IllegalStateException if the client is closed
     */
    public ClusterMap createVolume(String name, List<String> replicas) throws HoldfastException {
        ClusterMap.checkVolumeName(name);
        ClusterMap after = client.propose(new ClusterCommand.CreateVolume(name, replicas), "create volume " + name);
        awaitCondition(
                () -> probe.memberDigests(name).values().stream().allMatch(Response.Digest.class::isInstance),
                "volume " + name + " was created, but not all of " + replicas + " serve it within " + deadlineMillis()
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
     *     rule is there already, {@link Errno#ETIMEDOUT} if the cluster group does not answer
     *     within the deadline
     * @throws IllegalStateException if the client is closed
     */
    public ClusterMap addAclRule(String volume, AclRule rule) throws HoldfastException {
        return client.propose(new ClusterCommand.AddAclRule(volume, rule), "add ACL rule to " + volume);
    }

    /**
     * Records a geo-replication session in the cluster map, or replaces its definition (admin
     * only; the cluster group's members must support log format {@link
     * LogFormat#GEOREP_SESSIONS}). A replaced session keeps its reported
     * progress if it names the same volume.
     *
     * @param rpoMillis the recovery point objective in milliseconds, 0 for none
     * @return the cluster map after the change
     * @throws HoldfastException {@link Errno#EACCES} unless this client holds the admin
     *     certificate, {@link Errno#ENOENT} for an unknown volume, {@link Errno#ENOTSUP} if a
     *     member of the cluster group runs code too old for sessions, {@link Errno#ETIMEDOUT} if
     *     the cluster group does not answer within the deadline
     * @throws IllegalArgumentException if a name or the target is invalid ({@link
     *     ClusterMap.GeorepSession})
     * @throws IllegalStateException if the client is closed
     */
    public ClusterMap putGeorepSession(String name, String volume, String target, long rpoMillis)
            throws HoldfastException {
        return client.propose(
                new ClusterCommand.PutGeorepSession(name, volume, target, rpoMillis), "record georep session " + name);
    }

    /**
     * Removes a geo-replication session from the cluster map (admin only).
     *
     * @return the cluster map after the change
     * @throws HoldfastException {@link Errno#EACCES} unless this client holds the admin
     *     certificate, {@link Errno#ENOENT} if there is no such session, {@link Errno#ETIMEDOUT}
     *     if the cluster group does not answer within the deadline
     * @throws IllegalStateException if the client is closed
     */
    public ClusterMap removeGeorepSession(String name) throws HoldfastException {
        return client.propose(new ClusterCommand.RemoveGeorepSession(name), "remove georep session " + name);
    }

    /**
     * Reports a geo-replication worker's progress to the source cluster: the feed index applied
     * and recorded at its target, and the commit time of the last change applied there. Allowed
     * to the admin and to any client the session's volume is exported to. One entry in the
     * cluster group's log per call: a worker reports every few seconds, not per page.
     *
     * @throws HoldfastException {@link Errno#EACCES} if this client may not report for the
     *     session, {@link Errno#ENOENT} if the map has no such session, {@link Errno#ENOTSUP} if
     *     the cluster's code is too old, {@link Errno#ETIMEDOUT} if the cluster group does not
     *     answer within the deadline
     * @throws IllegalStateException if the client is closed
     */
    public void reportGeorepProgress(String name, long position, long commitNanos) throws HoldfastException {
        client.propose(
                new ClusterCommand.GeorepProgress(name, position, commitNanos), "report georep progress of " + name);
    }

    /**
     * Removes a rule from a volume's export ACL (admin only).
     *
     * @return the cluster map after the change
     * @throws HoldfastException {@link Errno#EACCES} unless this client holds the admin
     *     certificate, {@link Errno#ENOENT} if the volume or rule does not exist,
     *     {@link Errno#ETIMEDOUT} if the cluster group does not answer within the deadline
     * @throws IllegalStateException if the client is closed
     */
    public ClusterMap removeAclRule(String volume, AclRule rule) throws HoldfastException {
        return client.propose(new ClusterCommand.RemoveAclRule(volume, rule), "remove ACL rule from " + volume);
    }

    /**
     * Adds a running node to the cluster (admin only): it must have been initialized for this
     * cluster ({@code holdfast cluster init} with this cluster's id and initial peers) and hold a
     * node certificate of this cluster's CA. Volumes can then be placed on it.
     *
     * @param address the node's address, {@code host:port}
     * @return the cluster map after the change
     * @throws HoldfastException {@link Errno#EEXIST} if it is a node already, {@link Errno#EINVAL}
     *     for a malformed address, {@link Errno#EACCES} unless this client is the admin,
     *     {@link Errno#ETIMEDOUT} if the cluster group does not answer within the deadline
     * @throws IllegalStateException if the client is closed
     */
    public ClusterMap addNode(String address) throws HoldfastException {
        ClusterMap.checkAddress(address);
        return client.propose(new ClusterCommand.AddNode(address), "add node " + address);
    }

    /**
     * Removes a node from the cluster (admin only), after moving every replica it holds to
     * another node ({@link #replaceReplica}, one volume at a time, to the node holding the
     * fewest replicas that is not in the volume's group yet).
     *
     * @param address the node's address, {@code host:port}
     * @param progress told of each replacement's catch-up, on the calling thread
     * @return the cluster map after the change
     * @throws HoldfastException {@link Errno#ENOENT} if it is not a node, {@link Errno#EBUSY} if it
     *     holds the cluster group or another replacement of one of its volumes is under way,
     *     {@link Errno#ENOSPC} if some volume has no other node to move to, or whatever a
     *     replacement fails with
     * @throws IllegalStateException if the client is closed
     */
    public ClusterMap removeNode(String address, Consumer<CatchUp> progress) throws HoldfastException {
        ClusterMap m = client.refreshMap();
        if (!m.nodes().contains(address)) {
            throw new HoldfastException(
                    Errno.ENOENT, "node " + address + " is not in the cluster; nodes are " + m.nodes());
        }
        List<String> clusterGroup = m.clusterGroup();
        if (clusterGroup.contains(address)) {
            // refused before anything moves (the cluster group would refuse it only after the drain)
            throw new HoldfastException(
                    Errno.EBUSY,
                    "node " + address + " holds the cluster group (the cluster map), with " + clusterGroup
                            + "; those nodes cannot be removed");
        }
        for (ClusterMap.Volume v : m.volumes().values()) {
            if (!v.servedBy(address)) {
                continue;
            }
            String target;
            if (!v.joining().isEmpty() && !v.joining().equals(address)) {
                target = v.joining(); // finish the replacement under way (of this node or not) first
                if (!v.replicas().contains(address)) {
                    throw new HoldfastException(
                            Errno.EBUSY,
                            "volume " + v.name() + " has a replacement by " + target
                                    + " under way; finish it with 'holdfast volume replace-replica' first");
                }
            } else {
                ClusterMap now = client.refreshMap();
                target = leastLoaded(now, v, address)
                        .orElseThrow(() -> new HoldfastException(
                                Errno.ENOSPC,
                                "no node to move volume " + v.name() + "'s replica to: every other node (" + now.nodes()
                                        + ") serves it already; add a node first ('holdfast cluster add-node')"));
            }
            replaceReplica(v.name(), address, target, progress);
        }
        return client.propose(new ClusterCommand.RemoveNode(address), "remove node " + address);
    }

    /**
     * The node outside {@code v}'s group, other than {@code leaving}, that serves the fewest
     * replicas of {@code m}'s volumes (the first in node order among equals); empty if there is none.
     */
    static Optional<String> leastLoaded(ClusterMap m, ClusterMap.Volume v, String leaving) {
        Map<String, Long> load = new LinkedHashMap<>();
        m.nodes().forEach(n -> load.put(n, 0L));
        m.volumes().values().forEach(x -> x.replicas().forEach(r -> load.computeIfPresent(r, (k, c) -> c + 1)));
        return load.entrySet().stream()
                .filter(e -> !e.getKey().equals(leaving) && !v.servedBy(e.getKey()))
                .min(Map.Entry.comparingByValue())
                .map(Map.Entry::getKey);
    }

    /**
     * How far a joining member has caught up. Immutable.
     *
     * @param volume the volume
     * @param member the joining member's address
     * @param appliedIndex the member's applied index (a Raft log index; -1 if it did not answer)
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
     *   <li>if {@code oldNode} leads the group, the leadership is handed to another member;
     *   <li>the group's Raft configuration is changed to the new member set (Ratis: the new
     *       member first catches up as a non-voting member, from a snapshot and then the log;
     *       then the joint configuration, then the new one, are committed);
     *   <li>the map swaps {@code newNode} for {@code oldNode}, and {@code oldNode} leaves the
     *       group (its brick set aside under {@code removed/}).
     * </ol>
     *
     * Running it again after an interruption finishes the same replacement. Blocks until done;
     * fails if the new member does not answer for the deadline (default 30 s), or if Ratis gives
     * up on it. Afterwards {@link HoldfastClient#volume} opens a new service for the volume's new
     * members; one obtained before keeps its old members and is closed with the client.
     *
     * @param oldNode the address of the member that leaves
     * @param newNode the address of the node that joins (a node of the cluster outside the group)
     * @param progress told about twice a second how far the new member has caught up, on the
     *     calling thread
     * @return the cluster map after the change
     * @throws HoldfastException {@link Errno#ENOENT}/{@link Errno#EINVAL}/{@link Errno#EBUSY} as
     *     {@link ClusterCommand.ReplaceReplica} says; {@link Errno#EACCES} unless this client is
     *     the admin; {@link Errno#ETIMEDOUT} if the new member does not start the group or does
     *     not answer within the deadline (the replacement stays begun: run it again, or replace
     *     the joining node by another); {@link Errno#EIO} if the Raft configuration change fails
     *     or the thread is interrupted (run it again to finish)
     * @throws IllegalStateException if the client is closed
     */
    public ClusterMap replaceReplica(String volume, String oldNode, String newNode, Consumer<CatchUp> progress)
            throws HoldfastException {
        long started = System.nanoTime();
        String what = "replace " + oldNode + " by " + newNode + " in volume " + volume;
        ClusterMap begun = client.propose(new ClusterCommand.ReplaceReplica(volume, oldNode, newNode, false), what);
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
        ExecutorService reconfigurer = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "holdfast-replace-" + volume);
            t.setDaemon(true);
            return t;
        });
        Duration deadline = client.deadline();
        try (RaftClient admin = client.clients().newClient(ClusterIds.group(id, all), false)) {
            moveLeadershipOff(admin, groupId, oldNode, v.replicas());
            CompletableFuture<RaftClientReply> reconfigured = CompletableFuture.supplyAsync(
                    () -> {
                        try {
                            return admin.admin()
                                    .setConfiguration(target.stream()
                                            .map(ClusterIds::peer)
                                            .toList());
                        } catch (IOException e) {
                            throw new CompletionException(e);
                        }
                    },
                    reconfigurer);
            long lastApplied = -1;
            long lastProgress = System.nanoTime();
            while (true) {
                try {
                    RaftClientReply r = reconfigured.get(500, TimeUnit.MILLISECONDS);
                    if (!r.isSuccess()) {
                        throw new HoldfastException(
                                Errno.EIO, what + ": the group's configuration change failed: " + r.getException());
                    }
                    break;
                } catch (TimeoutException e) {
                    // still catching up: report, and give up only if nothing moves for a whole deadline
                } catch (ExecutionException e) {
                    throw new HoldfastException(
                            Errno.EIO,
                            what + ": the group's configuration change failed: "
                                    + e.getCause().getMessage(),
                            e.getCause());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new HoldfastException(Errno.EIO, what + ": interrupted; run it again to finish");
                }
                Map<String, MemberProbe.MemberInfo> infos = probe.groupInfo(groupId, all);
                MemberProbe.MemberInfo info = infos.get(newNode);
                long applied = info.appliedIndex();
                long commit = v.replicas().stream()
                        .mapToLong(r -> infos.get(r).commitIndex())
                        .max()
                        .orElse(-1);
                progress.accept(
                        new CatchUp(volume, newNode, applied, commit, Duration.ofNanos(System.nanoTime() - started)));
                // While a snapshot streams in, the applied index stays put for as long as the transfer
                // takes (1 GiB at 32 MiB/s: 32 s); a member that answers is alive, and Ratis fails the
                // configuration change itself if the new member stops making progress.
                if (info.answered()) { // an unanswered member reports applied index -1
                    lastApplied = Math.max(lastApplied, applied);
                    lastProgress = System.nanoTime();
                } else if (System.nanoTime() - lastProgress > deadline.toNanos()) {
                    reconfigured.cancel(true);
                    throw new HoldfastException(
                            Errno.ETIMEDOUT,
                            what + ": the new member did not answer for "
                                    + deadline.toSeconds() + " s (applied index " + lastApplied + " of " + commit
                                    + "); is " + newNode
                                    + " running? Run the same command again to go on, or replace " + newNode
                                    + " by another node");
                }
            }
        } catch (IOException e) {
            throw e instanceof HoldfastException h
                    ? h
                    : new HoldfastException(Errno.EIO, what + ": " + e.getMessage(), e);
        } finally {
            reconfigurer.shutdownNow();
        }
        ClusterMap done = client.propose(new ClusterCommand.ReplaceReplica(volume, oldNode, newNode, true), what);
        client.retire(volume); // its members changed; reopened on next use
        return done;
    }

    /**
     * If {@code leaving} leads the group, hands the leadership to the most up-to-date other member
     * of {@code replicas} first (Ratis's leadership transfer; best effort: a transfer refused or
     * timed out leaves things as they were). Why: Ratis 3.3.0 shuts down a leader that a new
     * configuration leaves out from its own leader-state thread while holding the division's lock,
     * and there waits for the division's client request threads to end; a client request waiting
     * for that lock never ends, so the member never finishes closing and never leaves the group
     * (MembershipIT.aReplacedLeaderStepsDownAndLeaves: 2 of 4 runs under load; a CI run hung on it).
     * A follower left out has no such path: its node removes the group when it learns the map.
     */
    private void moveLeadershipOff(RaftClient admin, UUID group, String leaving, List<String> replicas) {
        Map<String, MemberProbe.MemberInfo> infos = probe.groupInfo(group, replicas);
        MemberProbe.MemberInfo old = infos.get(leaving);
        if (old == null || !old.answered() || !"leader".equals(old.role())) {
            return;
        }
        Optional<String> to = replicas.stream()
                .filter(r -> !r.equals(leaving) && infos.get(r).answered())
                .max(Comparator.comparingLong(r -> infos.get(r).commitIndex()));
        if (to.isEmpty()) {
            return;
        }
        try {
            admin.admin()
                    .transferLeadership(
                            ClusterIds.peer(to.get()).getId(), Math.min(deadlineMillis(), LEADERSHIP_TRANSFER_MILLIS));
        } catch (IOException e) {
            // best effort: the configuration change works with the old leader too, nearly always
        }
    }

    /** Waits until {@code member} serves group {@code id} (it starts the group when it learns the map). */
    private void awaitServing(String member, UUID group, String what) throws HoldfastException {
        awaitCondition(
                () -> probe.groupInfo(group, List.of(member)).get(member).answered(),
                what + ": " + member + " did not start the volume's group within " + deadlineMillis()
                        + " ms; is it running, and configured for this cluster?",
                what + ": interrupted; run it again to finish");
    }

    private long deadlineMillis() {
        return client.deadline().toMillis();
    }

    /** A condition to wait for; checking it may fail. */
    @FunctionalInterface
    private interface Condition {
        boolean holds() throws HoldfastException;
    }

    /**
     * Checks {@code condition} until it holds, pausing 10 ms, then twice as long each time up to
     * 200 ms: the nodes start a group on their own when they learn the map, and nothing tells us.
     *
     * @throws HoldfastException {@link Errno#ETIMEDOUT} with {@code timedOut} past the client
     *     deadline, {@link Errno#EIO} with {@code interrupted} if interrupted, or what checking
     *     the condition threw
     */
    private void awaitCondition(Condition condition, String timedOut, String interrupted) throws HoldfastException {
        long end = System.nanoTime() + client.deadline().toNanos();
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
}
