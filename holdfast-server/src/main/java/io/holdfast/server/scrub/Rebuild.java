package io.holdfast.server.scrub;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.common.Pacer;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.LogEntry;
import io.holdfast.protocol.ProtocolException;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.server.ScrubSettings;
import io.holdfast.storage.Brick;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.raftlog.RaftLog;
import org.apache.ratis.statemachine.impl.SimpleStateMachineStorage;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rebuilding a quarantined member from a member in service, and serving this member's snapshot
 * to one that rebuilds (see {@link Scrubber}'s class comment, "Rebuild").
 *
 * <p>An attempt counts only once this member's Raft division is running and its log is loaded:
 * a scrubber starts before Ratis has loaded the log ({@code IllegalStateException: log is
 * uninitialized}), and an attempt counted then would wait {@link #RETRY_NANOS} for nothing.
 *
 * <p>Thread-safety: {@link #rebuildIfQuarantined} runs on the scrubber's thread;
 * {@link #snapshotChunk} on Ratis's query threads (it only reads the latest snapshot file).
 */
final class Rebuild {
    private static final Logger LOG = LoggerFactory.getLogger(Rebuild.class);
    /** Rebuilds from another member per node start, at most. */
    static final int MAX_REBUILDS = 3;
    /** Time between attempts to rebuild, when one failed. */
    static final long RETRY_NANOS = TimeUnit.MINUTES.toNanos(5);

    private final Brick brick;
    private final Path brickDir;
    private final Path scrubDir;
    private final ScrubSettings settings;
    private final ScrubGroup group;
    private final Quarantine quarantine;
    private final Findings findings;
    private final Pacer pacer;
    private final Supplier<SingleFileSnapshotInfo> latestSnapshot;
    /** The quarantine ({@link Quarantine#entered}) the last attempt was for; -1 before any. */
    private long triedFor = -1;

    private long lastAttemptNanos;
    private int rebuilds;

    Rebuild(
            Brick brick,
            Path brickDir,
            ScrubSettings settings,
            ScrubGroup group,
            Quarantine quarantine,
            Findings findings,
            Pacer pacer,
            Supplier<SingleFileSnapshotInfo> latestSnapshot) {
        this.brick = brick;
        this.brickDir = brickDir;
        this.scrubDir = brickDir.resolve("scrub");
        this.settings = settings;
        this.group = group;
        this.quarantine = quarantine;
        this.findings = findings;
        this.pacer = pacer;
        this.latestSnapshot = latestSnapshot;
    }

    /**
     * Rebuilds this member if it is quarantined and an attempt is due.
     *
     * @return whether the member was rebuilt and is back in service (a pass should check it now)
     */
    boolean rebuildIfQuarantined() throws InterruptedException {
        if (!quarantine.quarantined()
                || !settings.rebuild()
                || rebuilds >= MAX_REBUILDS
                || (triedFor == quarantine.entered() && System.nanoTime() - lastAttemptNanos < RETRY_NANOS)) {
            return false;
        }
        RaftServer.Division d;
        long logStart;
        try {
            d = group.division();
            if (!d.getInfo().isAlive()) {
                return false; // starting or closing: no attempt made
            }
            logStart = d.getRaftLog().getStartIndex();
        } catch (IOException | IllegalStateException e) {
            return false; // not (yet) part of the group, or its log not loaded yet: no attempt made
        }
        String why = quarantine.reason();
        try {
            if (d.getInfo().isLeader()) {
                findings.problem("quarantined (" + why + "); not rebuilding while this member leads");
                return false; // again once leadership has moved
            }
        } catch (IllegalStateException e) {
            return false;
        }
        triedFor = quarantine.entered();
        lastAttemptNanos = System.nanoTime();
        List<String> failures = new ArrayList<>();
        try {
            for (RaftPeer source : group.inServiceOthers()) {
                Path file = scrubDir.resolve("rebuild.snap");
                try {
                    long before = brick.appliedIndex();
                    long downloaded = download(source, file);
                    if (downloaded < 0 ? logStart > 1 : downloaded + 1 < logStart) {
                        // the source's latest snapshot is older than this member's log reaches: ask for a new one
                        group.peers.createSnapshot(source);
                        downloaded = download(source, file);
                    }
                    long index;
                    try (InputStream in =
                            downloaded < 0 ? null : new BufferedInputStream(Files.newInputStream(file), 1 << 20)) {
                        index = brick.rebuild(in, logOf(d.getRaftLog()));
                    }
                    rebuilds++;
                    quarantine.lift();
                    String done = "rebuilt from "
                            + (downloaded < 0
                                    ? "an empty brick"
                                    : source.getAddress() + "'s snapshot at index " + index)
                            + " and this member's log up to " + before + " (quarantined because " + why
                            + "); a new pass checks it";
                    findings.problem(done);
                    LOG.warn("{}: {}", brickDir.getFileName(), done);
                    return true;
                } catch (HoldfastException e) {
                    failures.add(source.getAddress() + ": " + e.getMessage());
                } catch (IOException e) {
                    failures.add(source.getAddress() + ": " + e.getMessage());
                    if (!brick.isOpen()) {
                        break; // replaying the log failed: this member cannot go on; nothing more to try
                    }
                } finally {
                    try {
                        Files.deleteIfExists(file);
                    } catch (IOException e) {
                        LOG.warn("{}: could not remove {}: {}", brickDir.getFileName(), file, e.getMessage());
                    }
                }
            }
        } catch (IOException e) {
            failures.add(e.getMessage());
        }
        findings.problem("quarantined (" + why + "); could not rebuild from another member yet"
                + (failures.isEmpty() ? ": no member in service" : ": " + String.join("; ", failures)));
        LOG.warn("{}: {}", brickDir.getFileName(), findings.lastProblem());
        return false;
    }

    /**
     * Downloads {@code source}'s latest snapshot file into {@code file}, paced.
     *
     * @return its index, or -1 if the source has no snapshot (then nothing is written)
     * @throws IOException if the source fails, sends a bad chunk, or replaces the snapshot meanwhile
     */
    private long download(RaftPeer source, Path file) throws IOException, InterruptedException {
        long index = 0;
        long total = -1;
        long offset = 0;
        try (FileChannel out = FileChannel.open(
                file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            while (total < 0 || offset < total) {
                Response r = group.peers.ask(source, new Request.SnapshotRead(index, offset, Limits.MAX_DATA_BYTES));
                if (index == 0 && r instanceof Response.Error e && e.errno() == Errno.ENOENT) {
                    return -1;
                }
                if (!(r instanceof Response.SnapshotChunk c)) {
                    throw new IOException("did not send its snapshot: " + ScrubPeers.describe(r));
                }
                if (Checksums.crc32c(c.bytes()) != c.crc32c()) {
                    throw new IOException("sent a snapshot chunk failing its CRC32C at offset " + offset);
                }
                if (index == 0) {
                    index = c.index();
                    total = c.totalBytes();
                } else if (c.index() != index || c.totalBytes() != total) {
                    throw new IOException("replaced its snapshot during the download");
                }
                if (c.bytes().length == 0 && offset < total) {
                    throw new IOException("sent an empty chunk at offset " + offset + " of " + total);
                }
                ByteBuffer b = ByteBuffer.wrap(c.bytes());
                while (b.hasRemaining()) {
                    out.write(b, offset + b.position());
                }
                offset += c.bytes().length;
                pacer.acquire(c.bytes().length);
            }
            out.force(true);
        }
        return index;
    }

    /** A chunk of this member's latest snapshot file, for a quarantined member that rebuilds. */
    Response snapshotChunk(Request.SnapshotRead r) throws IOException {
        if (quarantine.quarantined()) {
            return new Response.Error(
                    Errno.EIO,
                    "member quarantined by scrub: its snapshots may carry the damage: " + quarantine.reason());
        }
        if (r.offset() < 0 || r.length() <= 0 || r.length() > Limits.MAX_DATA_BYTES) {
            return new Response.Error(
                    Errno.EINVAL, "bad snapshot read at " + r.offset() + " of " + r.length() + " bytes");
        }
        SingleFileSnapshotInfo s = latestSnapshot.get();
        if (s == null) {
            return new Response.Error(Errno.ENOENT, "no snapshot on this member");
        }
        Path path = s.getFile().getPath();
        long index = s.getIndex();
        if (r.index() != 0 && r.index() != s.getIndex()) {
            // an older snapshot still kept (a member catching up from it, see SnapshotManifest)
            path = olderSnapshot(path, r.index());
            if (path == null) {
                return new Response.Error(
                        Errno.ENOENT,
                        "snapshot " + r.index() + " is no longer kept by this member (latest " + s.getIndex() + ")");
            }
            index = r.index();
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            ByteBuffer buf = ByteBuffer.allocate((int) Math.max(0, Math.min(r.length(), size - r.offset())));
            while (buf.hasRemaining() && ch.read(buf, r.offset() + buf.position()) >= 0) {
                // read on
            }
            byte[] bytes = buf.array();
            return new Response.SnapshotChunk(index, size, bytes, Checksums.crc32c(bytes));
        } catch (NoSuchFileException e) {
            return new Response.Error(Errno.ENOENT, "snapshot " + index + " was just replaced on this member");
        }
    }

    /** The file of a kept snapshot at {@code index} beside {@code latest}, or null. */
    private static Path olderSnapshot(Path latest, long index) throws IOException {
        Path dir = latest.getParent();
        if (dir == null) {
            return null;
        }
        try (var files = Files.list(dir)) {
            return files.filter(p -> {
                        Matcher m = SimpleStateMachineStorage.SNAPSHOT_REGEX.matcher(
                                p.getFileName().toString());
                        return m.matches() && Long.parseLong(m.group(2)) == index;
                    })
                    .findFirst()
                    .orElse(null);
        }
    }

    /** This member's Raft log as a brick replays it: the entries Ratis hands to the state machine. */
    private static Brick.LogSource logOf(RaftLog log) {
        return new Brick.LogSource() {
            @Override
            public long firstIndex() {
                return log.getStartIndex();
            }

            @Override
            public LogEntry entry(long index) throws IOException {
                LogEntryProto p = log.get(index);
                if (p == null) {
                    throw new IOException("entry " + index + " is not in this member's log");
                }
                if (!p.hasStateMachineLogEntry()) {
                    return null;
                }
                try {
                    return Codec.decodeLogEntry(
                            p.getStateMachineLogEntry().getLogData().toByteArray());
                } catch (ProtocolException e) {
                    return null; // the state machine applied it as an error, without the brick
                }
            }
        };
    }
}
