package io.holdfast.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.impl.SingleFileSnapshotInfo;
import org.apache.ratis.util.MD5FileUtil;
import org.apache.ratis.util.SizeInBytes;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The snapshot storage remembers "no snapshot" only until something may have changed that. */
class SnapshotStorageTest {
    @TempDir
    Path dir;

    private final List<RaftStorage> opened = new ArrayList<>();

    @AfterEach
    void close() throws IOException {
        for (RaftStorage r : opened) {
            r.close();
        }
    }

    private SnapshotStorage open(Path where) throws Exception {
        return open(where, RaftStorage.StartupOption.FORMAT);
    }

    private SnapshotStorage reopen(Path where) throws Exception {
        return open(where, RaftStorage.StartupOption.RECOVER);
    }

    private SnapshotStorage open(Path where, RaftStorage.StartupOption option) throws Exception {
        RaftStorage raft = RaftStorage.newBuilder()
                .setDirectory(where.toFile())
                .setOption(option)
                .setStorageFreeSpaceMin(SizeInBytes.valueOf(0))
                .setLogCorruptionPolicy(RaftServerConfigKeys.Log.CorruptionPolicy.EXCEPTION)
                .build();
        raft.initialize();
        opened.add(raft);
        SnapshotStorage s = new SnapshotStorage();
        s.init(raft);
        return s;
    }

    /** Writes a snapshot file with its MD5 file, as a snapshot installed from the leader is. */
    private static SingleFileSnapshotInfo write(SnapshotStorage s, long term, long index) throws Exception {
        File f = s.getSnapshotFile(term, index);
        Files.writeString(f.toPath(), "state at " + index, StandardCharsets.UTF_8);
        var md5 = MD5FileUtil.computeAndSaveMd5ForFile(f);
        return new SingleFileSnapshotInfo(new FileInfo(f.toPath(), md5), TermIndex.valueOf(term, index));
    }

    @Test
    void noneIsRememberedUntilALoadFindsTheOneWrittenSince() throws Exception {
        SnapshotStorage s = open(dir.resolve("a"));
        assertThat(s.getLatestSnapshot()).isNull();
        write(s, 1, 10);
        assertThat(s.getLatestSnapshot())
                .as("not looked for again: nothing told the storage")
                .isNull();
        SingleFileSnapshotInfo loaded = s.loadLatestSnapshot();
        assertThat(loaded).isNotNull();
        assertThat(loaded.getIndex()).isEqualTo(10);
        assertThat(s.getLatestSnapshot().getIndex()).isEqualTo(10);
    }

    @Test
    void anUpdateIsSeenAtOnce() throws Exception {
        SnapshotStorage s = open(dir.resolve("b"));
        assertThat(s.getLatestSnapshot()).isNull();
        s.updateLatestSnapshot(write(s, 2, 20));
        assertThat(s.getLatestSnapshot().getIndex()).isEqualTo(20);
    }

    @Test
    void aFreshStorageLooksAgain() throws Exception {
        SnapshotStorage s = open(dir.resolve("c"));
        assertThat(s.getLatestSnapshot()).isNull();
        write(s, 3, 30);
        opened.removeLast().close(); // a restart
        assertThat(reopen(dir.resolve("c")).getLatestSnapshot().getIndex()).isEqualTo(30);
    }

    /**
     * A listing that finds none while an update is under way never hides the update once it
     * returned: readers spin on the latest snapshot while updates come one after another.
     */
    @Test
    void anUpdateRacingAListingIsNeverHidden() throws Exception {
        for (int round = 0; round < 200; round++) {
            SnapshotStorage s = open(dir.resolve("r" + round));
            SingleFileSnapshotInfo snapshot = write(s, 1, 5);
            Files.delete(snapshot.getFile().getPath()); // listings keep finding none
            AtomicBoolean stop = new AtomicBoolean();
            Thread reader = Thread.ofPlatform().start(() -> {
                while (!stop.get()) {
                    s.getLatestSnapshot();
                }
            });
            try {
                Thread.onSpinWait();
                s.updateLatestSnapshot(snapshot);
                assertThat(s.getLatestSnapshot()).as("round %d", round).isSameAs(snapshot);
            } finally {
                stop.set(true);
                reader.join();
            }
        }
    }
}
