package io.holdfast.server;

import java.io.File;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;

/**
 * Ratis settings for a Holdfast node, with the reasons (see shared DEPENDENCY-NOTES.md).
 *
 * <ul>
 *   <li>Election timeouts 1–2 s: on two cores, GC pauses of the default 150–300 ms caused
 *       spurious leader changes.
 *   <li>Linearizable reads (ReadIndex), served by followers too, so reads can be balanced. The
 *       leader lease lets the leader answer a read index without a heartbeat round (measured:
 *       a pinned read went from ~34 ms to a few ms across processes).
 *   <li>Automatic snapshots every {@code snapshotThreshold} entries with log purging, so a
 *       restarted member does not replay an unbounded log and a member far behind installs
 *       a snapshot. Ratis purges whole closed segments only, so segments are 8 MiB (not the
 *       default 32): otherwise a small volume would never purge.
 *   <li>No Raft log metadata entries: Ratis otherwise appends one (the commit index) after each
 *       commit, so every mutation cost two entries on every member; measured with {@code holdfast
 *       bench VOLUME:/ --quick} (maildir) on a three-node demo: 3,276-3,284 entries and 13.4 msg/s
 *       with them, 1,638 entries and 14.1-14.2 msg/s without, in alternating runs on an idle
 *       machine. What they gave: a restarted member applied its committed entries before it heard
 *       from a leader; without them it applies them once the leader tells it the commit index.
 *   <li>gRPC message size 32 MiB ≥ appender buffer (4 MiB) + 1 MiB; the log write buffer keeps
 *       its default (8 MiB ≥ appender buffer + 8 bytes); entries carry at most 1 MiB of data.
 * </ul>
 */
final class RaftSettings {
    /** The minimum election timeout (the maximum is twice it). */
    static final Duration ELECTION_TIMEOUT_MIN = Duration.ofSeconds(1);

    /** Default number of applied entries between snapshots. */
    static final long DEFAULT_SNAPSHOT_THRESHOLD = 20_000;

    private RaftSettings() {}

    static RaftProperties server(File storageDir, String host, int port, long snapshotThreshold) {
        RaftProperties p = new RaftProperties();
        RaftServerConfigKeys.setStorageDir(p, List.of(storageDir));
        // a group this node leaves (replaced) keeps its log here, never under /tmp (Ratis's default)
        RaftServerConfigKeys.setRemovedGroupsDir(p, new File(storageDir.getParentFile(), "removed/raft"));
        GrpcConfigKeys.Server.setHost(p, host);
        GrpcConfigKeys.Server.setPort(p, port);
        long min = ELECTION_TIMEOUT_MIN.toMillis();
        RaftServerConfigKeys.Rpc.setTimeoutMin(p, TimeDuration.valueOf(min, TimeUnit.MILLISECONDS));
        RaftServerConfigKeys.Rpc.setTimeoutMax(p, TimeDuration.valueOf(2 * min, TimeUnit.MILLISECONDS));
        RaftServerConfigKeys.Rpc.setRequestTimeout(p, TimeDuration.valueOf(10, TimeUnit.SECONDS));
        RaftServerConfigKeys.Read.setOption(p, RaftServerConfigKeys.Read.Option.LINEARIZABLE);
        RaftServerConfigKeys.Read.setLeaderLeaseEnabled(p, true);
        RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, true);
        RaftServerConfigKeys.Snapshot.setAutoTriggerThreshold(p, snapshotThreshold);
        RaftServerConfigKeys.Snapshot.setRetentionFileNum(p, 2);
        // a member that leaves its group (replaced) needs no last snapshot: it cost a full copy of
        // the brick (seconds per GiB) before the member let go of it
        RaftServerConfigKeys.Snapshot.setTriggerWhenRemoveEnabled(p, false);
        RaftServerConfigKeys.Log.setPurgeUptoSnapshotIndex(p, true);
        RaftServerConfigKeys.Log.setPurgeGap(p, (int) Math.max(1, Math.min(snapshotThreshold, 1024)));
        RaftServerConfigKeys.Log.setSegmentSizeMax(p, SizeInBytes.valueOf("8MB"));
        // After a power loss the open segment can end in a torn entry that was never fsynced (so never
        // acknowledged): keep the entries before it instead of refusing to start (CrashRecoveryIT).
        RaftServerConfigKeys.Log.setCorruptionPolicy(p, RaftServerConfigKeys.Log.CorruptionPolicy.WARN_AND_RETURN);
        // Ratis 3.3.0's composed follower appends stall a group for good after a configuration
        // change (every appendEntries to every follower times out; MembershipIT): append directly
        RaftServerConfigKeys.Log.setAppendEntriesComposeEnabled(p, false);
        RaftServerConfigKeys.Log.Appender.setBufferByteLimit(p, SizeInBytes.valueOf("4MB"));
        RaftServerConfigKeys.Log.Appender.setSnapshotChunkSizeMax(p, SizeInBytes.valueOf("4MB"));
        RaftServerConfigKeys.Write.setByteLimit(p, SizeInBytes.valueOf("256MB"));
        // no metadata entry (the new commit index) after each commit: it doubled the entries every
        // member appends, replicates and syncs; a restarted member learns the commit index from the
        // leader instead of its own log (the state machine keeps its own applied index)
        RaftServerConfigKeys.Log.setLogMetadataEnabled(p, false);
        GrpcConfigKeys.setMessageSizeMax(p, SizeInBytes.valueOf("32MB"));
        return p;
    }
}
