package io.holdfast.server.volume;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.common.Pacer;
import io.holdfast.protocol.Access;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.Compression;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.LogEntry;
import io.holdfast.protocol.LogFormat;
import io.holdfast.protocol.LogFormatException;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.ScrubStats;
import io.holdfast.server.AccessControl;
import io.holdfast.server.Envelope;
import io.holdfast.server.LifecycleStateMachine;
import io.holdfast.server.LogFormatGuard;
import io.holdfast.server.ScrubSettings;
import io.holdfast.server.admin.NodeMetrics;
import io.holdfast.server.scrub.Scrubber;
import io.holdfast.storage.Brick;
import io.holdfast.storage.ChangeFeedRetention;
import io.holdfast.storage.FrozenImage;
import io.holdfast.storage.SnapshotManifest;
import io.holdfast.transport.TransportSecurity;
import java.io.BufferedInputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.ToLongFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.ratis.io.MD5Hash;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftGroupMemberId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.exceptions.StaleReadException;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotInfo;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.FileListSnapshotInfo;
import org.apache.ratis.statemachine.impl.SimpleStateMachineStorage;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.apache.ratis.util.MD5FileUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Raft state machine of one volume's replica group: it turns client requests into
 * deterministic log entries and applies them to this member's {@link Brick}.
 *
 * <h2>Design</h2>
 *
 * <ul>
 *   <li><b>Proposal</b> ({@link #startTransaction}, leader only): the request is decoded and
 *       checked (codec limits, data CRC32C); a bad request is refused with an error and never
 *       logged. The leader stamps it with its clock, once; the log entry is
 *       {@link LogEntry}{@code (timestamp, mutation)}.
 *   <li><b>Apply</b> ({@link #applyTransaction}, every member, in log order, on Ratis's single
 *       state-machine updater thread): {@link Brick#apply} writes one RocksDB batch that
 *       includes the applied index; outcomes such as EEXIST are decided there.
 *   <li><b>Snapshot</b> ({@link #takeSnapshot}, same thread, so no apply runs meanwhile):
 *       freeze the brick ({@link #freezeSnapshot}: hard links, no copy); a background thread
 *       then checkpoints the brick at the image's index (fsync data files) and writes the full
 *       logical snapshot file from the frozen image, which Ratis can send to a member too far
 *       behind, while entries go on being applied. Once it is written, Ratis purges the log up
 *       to it.
 *   <li><b>Identity</b>: before the brick is opened, its {@link BrickIdentity} (cluster, group,
 *       member, generation) must be this member's; a brick copied in from elsewhere is refused.
 *   <li><b>Restart</b>: the brick survives in RocksDB; Ratis replays entries after the latest
 *       snapshot and the brick redoes only the data-file effects of entries it had already
 *       applied (redo from checkpoint; data operations are idempotent).
 *   <li><b>Snapshot installation</b> ({@link #reinitialize}): the brick's state is replaced by
 *       the installed snapshot.
 * </ul>
 *
 * <p>A brick failure during apply (disk error) is fatal for this member: it would otherwise
 * diverge from the others. The member halts there ({@link LogFormatGuard}). So is an entry this
 * member's code cannot decode (a newer log format, an unknown kind, corrupt bytes): the member
 * halts there and never skips it ({@link LogFormatGuard}); the leader logs an entry of a newer
 * format only once every member advertised support for it.
 *
 * <p>It is the Ratis adapter of a {@link VolumeMember}, which owns the brick, the scrubber, the
 * disk reserve and the quarantine's veto on snapshots; the catch-up log hold stays here, since
 * it reads the Raft division.
 *
 * <p>A {@link Scrubber} runs beside it (started in {@link #initialize}). Queries are routed by
 * type: the scrub queries ({@link Scrubber#handles}) go to the scrubber, file-system queries go
 * straight to the brick. While the scrubber holds this member quarantined (a volatile flag
 * read), file-system queries fail (clients read from another member) with a message that says
 * why and how to rebuild the member.
 */
public final class VolumeStateMachine extends LifecycleStateMachine {
    private static final Logger LOG = LoggerFactory.getLogger(VolumeStateMachine.class);
    /** A snapshot's manifest beside it: {@code manifest.<term>_<index>}. */
    static final String MANIFEST_PREFIX = "manifest.";

    private static final Pattern MANIFEST_REGEX = Pattern.compile("manifest\\.(\\d+)_(\\d+)");
    /** Largest manifest file read (about 28 bytes per data file). */
    static final long MAX_MANIFEST_BYTES = 256L << 20;
    /** Catch-up totals; guarded by itself. */
    private final CatchUpTotals[] totals = {new CatchUpTotals(0, 0, 0, 0, 0)};
    /** The node's catch-up rate, bytes per second: an installed snapshot is restored at most this fast. */
    private final long catchUpBytesPerSecond;
    /** How many snapshot thresholds of log the leader keeps at most for a member catching up. */
    static final long HOLD_LOG_THRESHOLDS = 4;

    private volatile long holdLogEntries;
    private volatile long lagEntries;
    /** When automatic snapshots are taken (a large brick waits for log volume); set in {@link #initialize}. */
    private volatile SnapshotPacing pacing = new SnapshotPacing(1);

    private volatile long lastHoldLogNanos = System.nanoTime() - 20_000_000_000L;
    /** Completed when {@link #close} has run. */
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    /** Change feed reads held until an entry is applied. */
    private final ChangeWaiters changeWaiters = new ChangeWaiters();

    private final Path brickDir;
    private final InstantSource clock;
    private final AccessControl access;
    private final UUID clusterId;
    private final String member;
    private final ToLongFunction<UUID> joinedGeneration;
    private final NodeMetrics.VolumeMeters meters;
    private final ScrubSettings scrub;
    private final TransportSecurity transport;
    private final VolumeMember volume;
    private final int maxLogFormat;
    private volatile LogFormatGuard guard;
    /** Client sessions' read leases, used while this member leads (see {@link LeaseTable}). */
    private final LeaseTable leases = new LeaseTable(LeaseTable.DEFAULT_LEASE_MILLIS, System::nanoTime);

    /**
     * @param joinedGeneration the membership generation at which this member joined a group, per
     *     the latest cluster map this node knows (1 if it knows none yet)
     * @param meters where this member's operations are counted
     * @param scrub pace and schedule of this member's scrubber
     * @param transport how this node reaches the other members (scrub repairs)
     * @param diskReserveBytes free bytes to keep on the brick's file system (writes get ENOSPC past it)
     * @param changeFeedRetention how much change feed history the brick keeps
     * @param maxLogFormat the newest log format this member reads (see {@link LogFormatGuard})
     */
    public VolumeStateMachine(
            Path brickDir,
            InstantSource clock,
            AccessControl access,
            UUID clusterId,
            String member,
            ToLongFunction<UUID> joinedGeneration,
            NodeMetrics.VolumeMeters meters,
            ScrubSettings scrub,
            TransportSecurity transport,
            long diskReserveBytes,
            long catchUpBytesPerSecond,
            ChangeFeedRetention changeFeedRetention,
            int maxLogFormat) {
        this.maxLogFormat = maxLogFormat;
        this.brickDir = brickDir;
        this.clock = clock;
        this.access = access;
        this.clusterId = clusterId;
        this.member = member;
        this.joinedGeneration = joinedGeneration;
        this.meters = meters;
        this.scrub = scrub;
        this.transport = transport;
        this.volume = new VolumeMember(brickDir, member, diskReserveBytes, changeFeedRetention);
        this.catchUpBytesPerSecond = catchUpBytesPerSecond;
    }

    @Override
    public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage raftStorage) throws IOException {
        super.initialize(server, groupId, raftStorage);
        storage.init(raftStorage);
        guard = new LogFormatGuard(
                () -> "volume " + access.volumeName(groupId.getUuid()).orElse("?") + " (group " + groupId.getUuid()
                        + ")",
                maxLogFormat);
        getLifeCycle()
                .startAndTransition(
                        () -> {
                            volume.open(new BrickIdentity(
                                    clusterId,
                                    groupId.getUuid(),
                                    member,
                                    joinedGeneration.applyAsLong(groupId.getUuid())));
                            Brick brick = volume.brick();
                            SingleFileSnapshotInfo snapshot = storage.loadLatestSnapshot();
                            // a manifest received from the leader whose stream was not assembled yet (the
                            // node stopped mid-fetch): assemble it now, from the members it names
                            SnapshotManifest pending = pendingManifest(snapshot);
                            if (pending != null) {
                                snapshot = assemble(pending, sourcesOf(pending, List.of()));
                            }
                            if (snapshot != null) {
                                long snapIndex = snapshot.getIndex();
                                long covered = Math.max(brick.checkpointIndex(), volume.coveredIndex());
                                if (covered < snapIndex) {
                                    LOG.info(
                                            "{}: brick checkpoint covers index {}, older than snapshot {}; restoring "
                                                    + "the snapshot",
                                            groupId,
                                            covered,
                                            snapIndex);
                                    restore(snapshot, 0);
                                }
                                setLastAppliedTermIndex(snapshot.getTermIndex());
                            }
                        },
                        IOException.class);
        LOG.info(
                "{}: brick {} at applied index {}, checkpoint {}",
                groupId,
                brickDir,
                volume.brick().appliedIndex(),
                volume.brick().checkpointIndex());
        volume.startScrubber(
                member, () -> server.getDivision(groupId), () -> storage.getLatestSnapshot(), scrub, transport, clock);
        long threshold = RaftServerConfigKeys.Snapshot.autoTriggerThreshold(server.getProperties());
        holdLogEntries = HOLD_LOG_THRESHOLDS * threshold;
        lagEntries = Math.max(1, threshold / 2);
        SnapshotPacing p = new SnapshotPacing(threshold);
        p.written(latestSnapshotBytes());
        pacing = p;
    }

    /** Size of the latest snapshot file, or -1 if there is none (or it cannot be read). */
    private long latestSnapshotBytes() {
        SingleFileSnapshotInfo latest = storage.getLatestSnapshot();
        if (latest == null) {
            return -1;
        }
        try {
            return Files.size(latest.getFile().getPath());
        } catch (IOException e) {
            return -1;
        }
    }

    /**
     * Asks that the next snapshot Ratis asks this member for be taken whatever the log volume since
     * the last one (see {@link SnapshotPacing}); for {@code HoldfastNode.takeSnapshot}.
     */
    public void requestSnapshot() {
        pacing.request();
    }

    /** Where this member stopped applying an entry it cannot decode, if it has (see {@link LogFormatGuard}). */
    public Optional<LogFormatGuard.Halt> halted() {
        LogFormatGuard g = guard;
        return g == null ? Optional.empty() : g.halted();
    }

    @Override
    protected LogFormatGuard logFormatGuard() {
        return guard;
    }

    /** This member's scrub state and counters; empty before {@link #initialize}. */
    public Optional<ScrubStats> scrubStats() {
        return volume.scrubStats();
    }

    /** Called by Ratis after a snapshot from the leader was installed: load it (PAUSED → RUNNING). */
    @Override
    public void reinitialize() throws IOException {
        SingleFileSnapshotInfo snapshot = loadLatestOnDisk();
        SnapshotManifest pending = pendingManifest(snapshot);
        if (pending != null) {
            List<String> preferred = new ArrayList<>();
            try {
                RaftServer.Division div = division();
                RaftPeerId leader = div.getInfo().getLeaderId();
                for (RaftPeer p : div.getGroup().getPeers()) {
                    if (p.getId().equals(leader)) {
                        preferred.add(0, p.getAddress());
                    } else {
                        preferred.add(p.getAddress());
                    }
                }
            } catch (HoldfastException | RuntimeException e) {
                // only the manifest's sources then
            }
            snapshot = assemble(pending, sourcesOf(pending, preferred));
        }
        if (snapshot == null) {
            throw new IOException("reinitialize without a snapshot in " + storage);
        }
        LOG.info(
                "{}: installing snapshot at index {} ({} bytes, restored at most at {} bytes/s)",
                getGroupId(),
                snapshot.getIndex(),
                snapshot.getFile().getPath().toFile().length(),
                catchUpBytesPerSecond);
        long started = System.nanoTime();
        restore(snapshot, catchUpBytesPerSecond);
        LOG.info(
                "{}: snapshot at index {} restored in {} ms",
                getGroupId(),
                snapshot.getIndex(),
                (System.nanoTime() - started) / 1_000_000);
        volume.recordCovered(snapshot.getIndex());
        setLastAppliedTermIndex(snapshot.getTermIndex());
        pacing.frozen(); // the state is the snapshot's: no log applied since
        pacing.written(snapshot.getFile().getPath().toFile().length());
        resume();
    }

    /** Totals of the catch-ups from manifests this member made since start ({@link #catchUpTotals}). */
    public record CatchUpTotals(
            long fetchedBytes, long reusedBytes, long fetchedFiles, long reusedFiles, int assemblies) {}

    /** What this member fetched and reused catching up from snapshot manifests since it started. Thread-safe. */
    public CatchUpTotals catchUpTotals() {
        synchronized (totals) {
            return totals[0];
        }
    }

    /** The manifest found for snapshot {@code of}, so that it is looked for once. */
    private record ManifestSnapshot(SingleFileSnapshotInfo of, FileListSnapshotInfo info) {}

    private volatile ManifestSnapshot manifestSnapshot;

    /**
     * What Ratis sends a member that needs a snapshot: the manifest of the latest snapshot
     * ({@code manifest.<term>_<index>}, a few bytes per data file) once every node of the
     * cluster map reads log format {@link LogFormat#SNAPSHOT_MANIFESTS} (so every member knows
     * what to do with one) and the manifest exists; otherwise the whole stream, as before.
     * Everything else (the index, purging) is the same either way.
     */
    @Override
    public SnapshotInfo getLatestSnapshot() {
        SingleFileSnapshotInfo s = storage.getLatestSnapshot();
        if (s == null || maxLogFormat < LogFormat.SNAPSHOT_MANIFESTS) {
            return s;
        }
        try {
            if (access.map().featureLevel() < LogFormat.SNAPSHOT_MANIFESTS) {
                return s;
            }
            ManifestSnapshot known = manifestSnapshot;
            if (known != null && known.of() == s) {
                return known.info(); // Ratis asks on every pass of its log appender: no stat each time
            }
            Path m = manifestPath(s.getTerm(), s.getIndex());
            if (!Files.isRegularFile(m)) {
                return s;
            }
            FileListSnapshotInfo info = new FileListSnapshotInfo(List.of(new FileInfo(m, null)), s.getTermIndex());
            manifestSnapshot = new ManifestSnapshot(s, info);
            return info;
        } catch (RuntimeException e) {
            return s;
        }
    }

    /**
     * The newest snapshot file in the snapshot directory, or null if there is none. After Ratis
     * installed a manifest from the leader, the directory holds only the manifest, and Ratis's own
     * {@code loadLatestSnapshot} then fails (it keeps the moved-away previous one in memory and
     * dereferences the missing new one).
     */
    private SingleFileSnapshotInfo loadLatestOnDisk() throws IOException {
        Path dir = storage.getSnapshotFile(0, 0).toPath().getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            return null;
        }
        try (var files = Files.list(dir)) {
            if (files.noneMatch(p -> SimpleStateMachineStorage.SNAPSHOT_REGEX
                    .matcher(p.getFileName().toString())
                    .matches())) {
                return null;
            }
        }
        return storage.loadLatestSnapshot();
    }

    /** Where the manifest of the snapshot at (term, index) lives: beside the snapshot file. */
    private Path manifestPath(long term, long index) {
        return storage.getSnapshotFile(term, index).toPath().resolveSibling(MANIFEST_PREFIX + term + "_" + index);
    }

    /**
     * Describes a snapshot just written ({@link SnapshotManifest#scan}, one read of the file,
     * which is still in the page cache), naming this group's members as its sources, and drops
     * the manifests of snapshots no longer kept.
     */
    @Override
    protected void snapshotWritten(Path file, TermIndex at, byte[] md5) throws IOException {
        List<String> sources = new ArrayList<>();
        sources.add(member);
        try {
            for (RaftPeer p : division().getGroup().getPeers()) {
                if (!sources.contains(p.getAddress())) {
                    sources.add(p.getAddress());
                }
            }
        } catch (HoldfastException | RuntimeException e) {
            // this member alone
        }
        pacing.written(Files.size(file));
        long started = System.nanoTime();
        SnapshotManifest m = SnapshotManifest.scan(file, at.getTerm(), at.getIndex(), md5, sources);
        m.write(manifestPath(at.getTerm(), at.getIndex()));
        LOG.info(
                "{}: manifest of snapshot {} ({} data files, {} bytes of metadata) in {} ms",
                getGroupId(),
                at.getIndex(),
                m.files().size(),
                m.prefixBytes(),
                (System.nanoTime() - started) / 1_000_000);
        dropStaleManifests();
    }

    /** Deletes manifests whose snapshot file is gone and that are not pending (older than the latest snapshot). */
    private void dropStaleManifests() throws IOException {
        SingleFileSnapshotInfo latest = storage.getLatestSnapshot();
        Path dir = storage.getSnapshotFile(0, 0).toPath().getParent();
        if (latest == null || dir == null) {
            return;
        }
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                Matcher x = MANIFEST_REGEX.matcher(p.getFileName().toString());
                if (x.matches()
                        && Long.parseLong(x.group(2)) <= latest.getIndex()
                        && !Files.exists(storage.getSnapshotFile(Long.parseLong(x.group(1)), Long.parseLong(x.group(2)))
                                .toPath())) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /**
     * The newest manifest in the snapshot directory that is newer than {@code latest} (a
     * manifest Ratis installed from the leader, whose stream is not assembled yet), or null.
     */
    private SnapshotManifest pendingManifest(SingleFileSnapshotInfo latest) throws IOException {
        Path dir = storage.getSnapshotFile(0, 0).toPath().getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            return null;
        }
        Path newest = null;
        long newestIndex = latest == null ? -1 : latest.getIndex();
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                Matcher x = MANIFEST_REGEX.matcher(p.getFileName().toString());
                if (x.matches() && Long.parseLong(x.group(2)) > newestIndex) {
                    newest = p;
                    newestIndex = Long.parseLong(x.group(2));
                }
            }
        }
        return newest == null ? null : SnapshotManifest.read(newest, MAX_MANIFEST_BYTES);
    }

    /** {@code preferred} first, then the manifest's sources, without this member. */
    private List<String> sourcesOf(SnapshotManifest m, List<String> preferred) {
        List<String> out = new ArrayList<>();
        for (List<String> l : List.of(preferred, m.sources())) {
            for (String a : l) {
                if (!a.equals(member) && !out.contains(a)) {
                    out.add(a);
                }
            }
        }
        return out;
    }

    /**
     * Builds the stream of a manifest from the leader: the data files this member's brick holds
     * with the same length and CRC32C are copied from it, the rest (and the metadata part) is
     * fetched from {@code sources} at the catch-up rate; the result must have the leader's MD5.
     * It becomes this member's latest snapshot file (MD5 beside it); the manifest stays, so this
     * member can serve it too. A crash in between leaves the manifest and no stream: the next
     * start assembles it again ({@link #initialize}).
     */
    private SingleFileSnapshotInfo assemble(SnapshotManifest m, List<String> sources) throws IOException {
        File file = storage.getSnapshotFile(m.term(), m.index());
        long started = System.nanoTime();
        UUID group = getGroupId().getUuid();
        long expectedFetch = m.streamBytes();
        LOG.info(
                "{}: catching up from the manifest of snapshot {} ({} bytes, {} data files), from {}",
                getGroupId(),
                m.index(),
                m.streamBytes(),
                m.files().size(),
                sources);
        SnapshotManifest.Assembly a;
        try (SnapshotFetch fetch = new SnapshotFetch(
                transport,
                getGroupId(),
                sources,
                m.index(),
                new Pacer(catchUpBytesPerSecond > 0 ? catchUpBytesPerSecond : Long.MAX_VALUE / 4),
                fetched -> meters.catchUpProgress(fetched, expectedFetch))) {
            a = m.assemble(volume.brickDir().resolve("data"), fetch, file.toPath(), true);
        } finally {
            meters.catchUpFinished();
        }
        MD5Hash md5 = MD5Hash.newInstance(m.md5());
        MD5FileUtil.saveMD5File(file, md5);
        synchronized (totals) {
            CatchUpTotals t = totals[0];
            totals[0] = new CatchUpTotals(
                    t.fetchedBytes() + a.fetchedBytes(),
                    t.reusedBytes() + a.reusedBytes(),
                    t.fetchedFiles() + a.fetchedFiles(),
                    t.reusedFiles() + a.reusedFiles(),
                    t.assemblies() + 1);
        }
        meters.catchUpAssembled(a.fetchedBytes(), a.reusedBytes());
        LOG.info(
                "{}: snapshot {} assembled in {} ms: {} bytes fetched ({} data files), {} bytes reused ({} data files)",
                getGroupId(),
                m.index(),
                (System.nanoTime() - started) / 1_000_000,
                a.fetchedBytes(),
                a.fetchedFiles(),
                a.reusedBytes(),
                a.reusedFiles());
        SingleFileSnapshotInfo loaded = storage.loadLatestSnapshot();
        if (loaded == null || loaded.getIndex() != m.index()) {
            throw new IOException("snapshot " + m.index() + " was assembled but is not the latest: " + loaded);
        }
        return loaded;
    }

    /**
     * Replaces the brick's state with a snapshot file's.
     *
     * <ul>
     *   <li>At start-up ({@code bytesPerSecond} 0) the file is first checked against its saved MD5
     *       and then read at full speed.
     *   <li>A snapshot installed from the leader is read at most at {@code bytesPerSecond} (the
     *       node's catch-up rate), so restoring it costs the foreground no more than receiving it
     *       did; unpaced, restoring 1 GiB took the two cores for about 7 s at the end of every
     *       catch-up. Ratis checked it against the leader's MD5 as it arrived, so it is not read
     *       once more for that; the brick checks the snapshot's own CRC32C before it swaps
     *       anything in.
     * </ul>
     */
    private void restore(SingleFileSnapshotInfo snapshot, long bytesPerSecond) throws IOException {
        if (bytesPerSecond <= 0) {
            File file = verifiedFile(snapshot);
            try (InputStream in = new BufferedInputStream(Files.newInputStream(file.toPath()), 1 << 20)) {
                volume.brick().restoreSnapshot(in);
            }
            return;
        }
        try (InputStream in = new Pacer(bytesPerSecond)
                .paced(Files.newInputStream(snapshot.getFile().getPath()))) {
            volume.brick().restoreSnapshot(in);
        }
    }

    /**
     * No snapshots of a quarantined brick: a snapshot is what a rebuilt brick restores, and it
     * must not carry the damage the scrubber found. The log is kept instead.
     */
    @Override
    protected boolean snapshotsAllowed() {
        if (!volume.snapshotsAllowed()) {
            LOG.warn(
                    "{}: no snapshot of this member's brick while it is quarantined by scrub; the log is kept",
                    getGroupId());
            return false;
        }
        return !holdingLogForCatchUp() && !pacedByLogVolume();
    }

    /** Entries applied up to {@code applied} since the latest snapshot's index (all, without one). */
    private long entriesSinceSnapshot(TermIndex applied) {
        var latest = storage.getLatestSnapshot();
        return applied.getIndex() - (latest == null ? 0 : latest.getIndex());
    }

    /**
     * Whether an automatic snapshot waits for more log, this member's brick being large (see
     * {@link SnapshotPacing}); logged once per snapshot.
     */
    private boolean pacedByLogVolume() {
        TermIndex applied = getLastAppliedTermIndex();
        if (applied == null) {
            return false;
        }
        SnapshotPacing p = pacing;
        if (!p.defer(entriesSinceSnapshot(applied))) {
            return false;
        }
        if (p.firstWait()) {
            LOG.info(
                    "{}: snapshot paced: {} bytes of log since the last snapshot ({} bytes); the next one at {} "
                            + "bytes of log or {} entries",
                    getGroupId(),
                    p.logBytes(),
                    p.snapshotBytes(),
                    SnapshotPacing.due(p.snapshotBytes()),
                    p.maxEntries());
        }
        return true;
    }

    /**
     * Whether this member, as leader, keeps its log for a member that is catching up instead of
     * taking a snapshot now. A snapshot purges the log up to its index; a member that is still
     * receiving an older snapshot then needs log entries that are gone, and must start over with
     * the new snapshot. When a transfer takes longer than the leader needs to apply a snapshot
     * threshold's worth of entries (1 GiB at 8 MiB/s under a steady small-file load, measured),
     * it starts over for ever. So while some member's commit index (as the leader last heard it)
     * is more than half a threshold behind, the leader takes no snapshot, up to
     * {@link #HOLD_LOG_THRESHOLDS} thresholds of entries since its last one; past that it takes it
     * anyway (a member that is down must not make the log grow without bound).
     */
    private boolean holdingLogForCatchUp() {
        TermIndex applied = getLastAppliedTermIndex();
        RaftServer server = getServer().getNow(null);
        if (server == null || applied == null) {
            return false;
        }
        try {
            RaftServer.Division div = server.getDivision(getGroupId());
            if (!div.getInfo().isLeader()) {
                return false;
            }
            if (entriesSinceSnapshot(applied) >= holdLogEntries) {
                return false;
            }
            String self = div.getId().toString();
            var behind = div.getCommitInfos().stream()
                    .filter(c -> !c.getServer().getId().toStringUtf8().equals(self))
                    .filter(c -> c.getCommitIndex() < applied.getIndex() - lagEntries)
                    .findFirst();
            if (behind.isEmpty()) {
                return false;
            }
            long now = System.nanoTime();
            if (now - lastHoldLogNanos > 10_000_000_000L) {
                lastHoldLogNanos = now;
                LOG.info(
                        "{}: no snapshot yet, keeping the log for {} (commit index {}, applied here {}; at most {} "
                                + "entries)",
                        getGroupId(),
                        behind.get().getServer().getAddress(),
                        behind.get().getCommitIndex(),
                        applied.getIndex(),
                        holdLogEntries);
            }
            return true;
        } catch (IOException | RuntimeException e) {
            return false; // no division (closing): nothing to keep the log for
        }
    }

    /**
     * Freezes the brick ({@link Brick#freeze}: a RocksDB checkpoint and hard links of the data
     * files) so that the snapshot file is written from the image on another thread while entries
     * go on being applied. That thread first makes the brick's checkpoint cover the image's index
     * ({@link Brick#checkpoint(FrozenImage)}: the fsyncs, off the apply thread) and records it
     * ({@code checkpoint-covers}), and only then writes the file: a snapshot file is never newer
     * than the brick's checkpoint, so a restart restores none unless the brick is older (moved
     * away, or a snapshot installed from the leader was not loaded yet).
     */
    @Override
    protected Frozen freezeSnapshot(long index) throws IOException {
        Brick brick = volume.brick();
        FrozenImage image = brick.freeze();
        pacing.frozen();
        return new Frozen() {
            @Override
            public void write(OutputStream out) throws IOException {
                brick.checkpoint(image);
                volume.recordCovered(index);
                image.writeSnapshot(out);
            }

            @Override
            public void close() throws IOException {
                image.close();
            }
        };
    }

    @Override
    protected void writeSnapshot(OutputStream out, long index) throws IOException {
        long started = System.nanoTime();
        volume.brick().writeSnapshot(out);
        LOG.info(
                "{}: snapshot at index {} written in {} ms",
                getGroupId(),
                index,
                (System.nanoTime() - started) / 1_000_000);
    }

    @Override
    public TransactionContext startTransaction(RaftClientRequest request) throws IOException {
        TransactionContext.Builder b =
                TransactionContext.newBuilder().setStateMachine(this).setClientRequest(request);
        String op = NodeMetrics.UNKNOWN_OP;
        try {
            Envelope.Opened opened = Envelope.open(request.getMessage().getContent());
            access.check(opened.peer(), getGroupId().getUuid(), true);
            Request decoded = Codec.decodeRequest(opened.payload().toByteArray());
            op = decoded.getClass().getSimpleName();
            if (!(decoded instanceof Request.Mutation mutation)) {
                throw new HoldfastException(Errno.EINVAL, "a query sent as a mutation");
            }
            if (mutation instanceof Request.ScrubMark && !opened.peer().role().privileged()) {
                throw new HoldfastException(
                        Errno.EACCES,
                        "scrub marks need the admin certificate or a node's; " + opened.peer() + " has neither");
            }
            String halted = guard.refusal();
            if (halted != null) {
                throw new HoldfastException(Errno.EIO, halted);
            }
            check(mutation);
            guard.checkMembers(LogFormat.required(mutation), op, member, members(), access.map());
            volume.checkDisk(mutation);
            LogEntry entry = new LogEntry(epochNanos(clock), mutation);
            return b.setLogData(ByteString.copyFrom(Codec.encode(entry)))
                    .setStateMachineContext(entry)
                    .build();
        } catch (HoldfastException e) {
            meters.refused(op, e.errno());
            return refused(b, e);
        }
    }

    /** The addresses of this group's members, from its Raft configuration (current and, during a change, old). */
    private List<String> members() throws HoldfastException {
        return division().getRaftConf().getAllPeers().stream()
                .map(p -> p.getAddress())
                .toList();
    }

    /** This member's Raft division. */
    private RaftServer.Division division() throws HoldfastException {
        try {
            return getServer().get().getDivision(getGroupId());
        } catch (IOException | ExecutionException e) {
            throw new HoldfastException(Errno.EAGAIN, "this member's Raft configuration is not available: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HoldfastException(Errno.EAGAIN, "interrupted while reading this member's Raft configuration");
        }
    }

    private static void check(Request.Mutation m) throws HoldfastException {
        if (Request.Write.carriedBy(m) instanceof Request.Write w) {
            if (Checksums.crc32c(w.data()) != w.crc32c()) {
                throw new HoldfastException(
                        Errno.EBADMSG,
                        "data checksum mismatch in write to inode " + w.inode() + " at offset " + w.offset());
            }
            if (w.offset() < 0 || w.offset() > Limits.MAX_FILE_SIZE - w.data().length) {
                throw new HoldfastException(Errno.EFBIG, "write beyond the largest file size");
            }
        }
    }

    @Override
    public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
        LogEntryProto proto = trx.getLogEntry();
        long index = proto.getIndex();
        String halted = guard.refusal();
        if (halted != null) {
            return CompletableFuture.failedFuture(new IOException(halted)); // applies nothing after the halt
        }
        try {
            LogEntry entry = trx.getStateMachineContext() instanceof LogEntry e
                    ? e
                    : Codec.decodeLogEntry(
                            proto.getStateMachineLogEntry().getLogData().toByteArray(), maxLogFormat);
            long started = System.nanoTime();
            Response response = volume.brick().apply(index, entry);
            pacing.applied(proto.getSerializedSize());
            changeWaiters.applied();
            meters.applied(entry.mutation(), response, System.nanoTime() - started);
            updateLastAppliedTermIndex(proto.getTerm(), index);
            Message reply = message(response);
            RaftClientRequest request = trx.getClientRequest(); // set on the leader that proposed it
            if (!(response instanceof Response.Error)
                    && !(entry.mutation() instanceof Request.ScrubMark)
                    && (request != null || leadingNow())) {
                // other clients' cached state is now stale: the reply waits until they dropped it.
                // A leader also holds a client's entry that an earlier leader proposed: its reply
                // reaches the client from the retry cache when the client resends the request,
                // which must not happen before the grace of the new term is over
                ClientId mutator = request != null
                        ? request.getClientId()
                        : ClientId.valueOf(proto.getStateMachineLogEntry().getClientId());
                return leases.afterMutation(mutator.getUuid(), proto.getTerm()).thenApply(v -> reply);
            }
            return CompletableFuture.completedFuture(reply);
        } catch (LogFormatException e) {
            // never skipped: a member that skipped it would diverge from those that applied it
            LogFormatGuard.Halt h = guard.halt(index, e, getServer().getNow(null), getGroupId());
            return CompletableFuture.failedFuture(new IOException(h.reason()));
        } catch (IOException | RuntimeException e) {
            // applying later entries on top of a half-applied one would diverge from the other members
            LOG.error("{}: FATAL: brick failed applying entry {}", getGroupId(), index, e);
            LogFormatGuard.Halt h = guard.halt(
                    index,
                    "failed in this member's brick (" + e + "); check the brick's disk,"
                            + " then restart the node (the entry is applied again from the log)",
                    getServer().getNow(null),
                    getGroupId());
            return CompletableFuture.failedFuture(new IOException(h.reason(), e));
        }
    }

    /**
     * A stale read at {@code minIndex} (a client's read under its lease): answered once this member
     * has applied {@code minIndex}, else refused with {@link StaleReadException}, on which the client
     * asks again through the linearizable path. Ratis 3.3.0's {@code BaseStateMachine.queryStale}
     * would wait for the applied index on futures that its {@code updateLastAppliedTermIndex} never
     * completes when the index moves (it returns first), so such a read hung until its deadline.
     */
    @Override
    public CompletableFuture<Message> queryStale(Message request, long minIndex) {
        TermIndex last = getLastAppliedTermIndex();
        long applied = last == null ? -1 : last.getIndex();
        if (applied < minIndex) {
            return CompletableFuture.failedFuture(new StaleReadException(
                    getGroupId() + ": applied index " + applied + " is below the read's " + minIndex));
        }
        return query(request);
    }

    @Override
    public CompletableFuture<Message> query(Message request) {
        long started = System.nanoTime();
        String op = NodeMetrics.UNKNOWN_OP;
        Request.Compressed compressed = null;
        Response r;
        try {
            Envelope.Opened opened = Envelope.open(request.getContent());
            Access granted = access.check(opened.peer(), getGroupId().getUuid(), false);
            Request decoded = Codec.decodeRequest(opened.payload().toByteArray());
            if (decoded instanceof Request.Compressed c) { // the reply travels compressed; the query is the inner one
                compressed = c;
                decoded = c.query();
            }
            op = decoded.getClass().getSimpleName();
            String halted = guard == null ? null : guard.refusal();
            if (!(decoded instanceof Request.Query q)) {
                r = new Response.Error(Errno.EINVAL, "a mutation sent as a query");
            } else if (halted != null && q instanceof Request.GetDigest) {
                r = new Response.Error(Errno.EIO, halted); // what holdfast cluster status shows for this member
            } else if (halted != null) {
                return CompletableFuture.failedFuture(new IOException(halted)); // clients read from another member
            } else if (q instanceof Request.LeaseRenew || q instanceof Request.LeasePoll) {
                return leaseQuery(q).thenApply(VolumeStateMachine::message);
            } else if (q instanceof Request.Changes c && c.waitMillis() > 0 && volume.refusal(q) == null) {
                String what = op;
                Request.Compressed wrapper = compressed;
                return changeWaiters.answer(c, x -> readOrError(x, granted)).thenApply(answer -> {
                    meters.queried(what, answer, System.nanoTime() - started);
                    return message(answer, wrapper);
                });
            } else if (Scrubber.handles(q)) {
                // scrub queries are not counted as file-system ones
                return CompletableFuture.completedFuture(message(volume.answerScrub(q, opened.peer())));
            } else {
                // a file-system query: straight to the brick, unless the scrubber holds this member quarantined
                String quarantined = volume.refusal(q);
                if (quarantined != null) {
                    // an exception, not an error reply: clients then ask another member
                    return CompletableFuture.failedFuture(new IOException(quarantined));
                }
                r = volume.read(q, granted);
            }
        } catch (HoldfastException e) {
            r = new Response.Error(e.errno(), e.getMessage());
        }
        meters.queried(op, r, System.nanoTime() - started);
        return CompletableFuture.completedFuture(message(r, compressed));
    }

    /** A file-system query answered by the brick, a refusal as an error reply. */
    private Response readOrError(Request.Query q, Access granted) {
        try {
            return volume.read(q, granted);
        } catch (HoldfastException e) {
            return new Response.Error(e.errno(), e.getMessage());
        }
    }

    /** Answers a lease request: only the leader keeps leases (see {@link LeaseTable}). */
    private CompletableFuture<Response> leaseQuery(Request.Query q) throws HoldfastException {
        RaftServer.Division div = division();
        if (!div.getInfo().isLeader()) {
            throw LeaseTable.notLeader(getGroupId().toString());
        }
        long term = div.getInfo().getCurrentTerm();
        return switch (q) {
            case Request.LeaseRenew r -> CompletableFuture.completedFuture(leases.renew(r.session(), term));
            case Request.LeasePoll p -> leases.poll(p, term);
            default -> throw new IllegalArgumentException("not a lease request: " + q);
        };
    }

    /**
     * When this member is elected, its lease table starts the term at once (see
     * {@link LeaseTable#leading}): the grace that holds mutation replies after a leader change then
     * runs while clients are still finding this member, not from the term's first mutation.
     */
    @Override
    public void notifyLeaderChanged(RaftGroupMemberId memberId, RaftPeerId newLeaderId) {
        super.notifyLeaderChanged(memberId, newLeaderId);
        if (!memberId.getPeerId().equals(newLeaderId)) {
            return;
        }
        RaftServer server = getServer().getNow(null);
        if (server == null) {
            return; // not started: the table starts the term at its first use
        }
        try {
            long term = server.getDivision(getGroupId()).getInfo().getCurrentTerm();
            leases.leading(term).thenAccept(started -> {
                if (started) {
                    LOG.info(
                            "{}: leading term {}; mutation replies held {} ms for earlier leaders' read leases",
                            getGroupId(),
                            term,
                            LeaseTable.DEFAULT_LEASE_MILLIS + LeaseTable.MARGIN_MILLIS);
                }
            });
        } catch (IOException e) {
            // the division is going away: the table starts the term at its first use, if any
            LOG.debug("{}: no division to read the new term from", getGroupId(), e);
        }
    }

    /** Whether this member leads its group now (false if its division is not available). */
    private boolean leadingNow() {
        RaftServer server = getServer().getNow(null);
        if (server == null) {
            return false;
        }
        try {
            return server.getDivision(getGroupId()).getInfo().isLeader();
        } catch (IOException e) {
            return false; // going away: it answers no client
        }
    }

    /** Client sessions holding a read lease from this member (0 unless it leads). */
    public int leaseSessions() {
        return leases.sessions();
    }

    /** Leases this member revoked so far, one per session per mutation that had to. */
    public long leaseRevocations() {
        return leases.revocations();
    }

    private static Message message(Response r) {
        // the frame is this reply's alone and never changed: wrapped, not copied (a 1 MiB read reply)
        return Message.valueOf(UnsafeByteOperations.unsafeWrap(Codec.encode(r)));
    }

    /** The reply to a query, compressed ({@link Compression#compress}) if it came as a {@link Request.Compressed}. */
    private static Message message(Response r, Request.Compressed compressed) {
        return message(compressed == null ? r : Compression.compress(r, compressed.maxBytes()));
    }

    @Override
    public void close() throws IOException {
        try {
            cancelBackgroundSnapshot();
            leases.close();
            volume.close();
            super.close();
        } finally {
            closed.complete(null);
        }
    }

    /**
     * Waits until {@link #close} has run, i.e. the brick is closed and its RocksDB lock released.
     * Ratis closes a removed group's state machine on its updater thread, and returns from the
     * removal without waiting when the remover's wait is interrupted.
     *
     * @param timeout how long to wait at most
     * @throws IOException if it has not closed within {@code timeout}, or the wait was interrupted
     */
    public void awaitClosed(Duration timeout) throws IOException {
        try {
            closed.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new IOException(
                    "the brick of group " + getGroupId() + " is still open " + timeout.toSeconds()
                            + " s after its group was removed",
                    e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for the brick of group " + getGroupId() + " to close", e);
        } catch (ExecutionException e) {
            throw new IOException(e.getCause());
        }
    }
}
