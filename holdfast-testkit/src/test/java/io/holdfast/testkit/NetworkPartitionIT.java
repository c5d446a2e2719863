package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.server.HoldfastNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A minority cut off by a network partition while a client writes: the majority keeps
 * accepting writes, the isolated member applies nothing while cut off, and once the network
 * heals it catches up until every member has the same digest and every acknowledged write.
 * First a follower is isolated, then the leader (the majority elects another).
 */
class NetworkPartitionIT {
    @TempDir
    Path root;

    @Test
    void anIsolatedMinorityCatchesUpAfterTheNetworkHeals() throws Exception {
        try (MiniCluster cluster =
                MiniCluster.builder(root).nodes(3).faultyNetwork().start()) {
            VolumeService v = cluster.createVolume("vol", 0, 1, 2);
            UUID group = Volumes.groupId(cluster, "vol");
            FaultyNetwork net = cluster.network();
            // node-to-node traffic goes through the per-link listeners, not the clients' ones
            int leader = Volumes.awaitLeader(cluster, 3, group);
            MiniCluster.await(
                    Duration.ofSeconds(30),
                    () -> net.bytesDelivered(leader, (leader + 1) % 3) > 0
                            && net.bytesDelivered(leader, (leader + 2) % 3) > 0,
                    "the leader's appends pass its own links");

            Writer w = new Writer(v);
            try (w) {
                w.awaitAcknowledged(20);

                int follower = (Volumes.awaitLeader(cluster, 3, group) + 1) % 3;
                net.partition(follower);
                // what the follower knows to be committed at the cut it may still apply (under load its
                // applies lag its commit index by more than a few entries)
                HoldfastNode.GroupStatus atCut = Volumes.status(cluster, follower, group);
                long appliedAtCut = atCut.appliedIndex();
                long knownAtCut = Math.max(atCut.commitIndex(), appliedAtCut);
                int before = w.acknowledged();
                w.awaitAcknowledged(before + 40);
                long appliedLater = Volumes.status(cluster, follower, group).appliedIndex();
                System.out.printf(
                        "follower %d isolated: applied %d at the cut, %d after %d more writes%n",
                        follower, appliedAtCut, appliedLater, w.acknowledged() - before);
                // whatever was in flight at the cut may still land; nothing after it
                assertThat(appliedLater)
                        .as("the isolated follower applies nothing new")
                        .isLessThanOrEqualTo(knownAtCut + 2);
                int majority = (follower + 1) % 3;
                assertThat(Volumes.status(cluster, majority, group).appliedIndex())
                        .isGreaterThan(appliedLater + 30);
                net.heal();

                int oldLeader = Volumes.awaitLeader(cluster, 3, group);
                net.partition(oldLeader);
                before = w.acknowledged();
                w.awaitAcknowledged(before + 40); // after the majority elects another leader
                int newLeader = MiniCluster.awaitValue(
                        Duration.ofSeconds(60),
                        () -> {
                            for (int i = 0; i < 3; i++) {
                                if (i != oldLeader
                                        && Volumes.status(cluster, i, group)
                                                .role()
                                                .equals("LEADER")) {
                                    return Optional.of(i);
                                }
                            }
                            return Optional.empty();
                        },
                        "the majority has a leader of its own");
                System.out.printf(
                        "leader %d isolated: node %d leads the majority, %d writes acknowledged meanwhile%n",
                        oldLeader, newLeader, w.acknowledged() - before);
                net.heal();
                w.awaitAcknowledged(w.acknowledged() + 10);
            } // stops the writer

            Response.Digest d = cluster.awaitConvergence("vol", Duration.ofSeconds(120));
            System.out.println("converged at applied index " + d.appliedIndex());
            Map<String, String> expected = new TreeMap<>();
            for (String name : w.names()) {
                expected.put("/" + name, Volumes.describe(Writer.content(name)));
            }
            for (int i = 0; i < 3; i++) {
                try (Volumes.Pinned member =
                        new Volumes.Pinned(cluster, "vol", cluster.addresses().get(i))) {
                    Map<String, String> tree = Volumes.dump(member);
                    assertThat(tree)
                            .as("member " + i + " holds every acknowledged write")
                            .containsAllEntriesOf(expected);
                }
            }
        }
    }

    /** Writes one small file after another from a thread of its own, remembering what was acknowledged. */
    static final class Writer implements AutoCloseable {
        private final Set<String> acknowledged = new ConcurrentSkipListSet<>();
        private final AtomicBoolean stop = new AtomicBoolean();
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final Thread thread;

        Writer(VolumeService v) {
            this.thread = Thread.ofPlatform().name("partition-writer").start(() -> {
                try {
                    for (int n = 0; !stop.get(); n++) {
                        String name = "f" + n;
                        Response r = v.submit(new Request.Create(Caller.ROOT, "/" + name, 0644, true))
                                .get(120, TimeUnit.SECONDS);
                        long inode = Volumes.expect(Response.AttrReply.class, r, "create " + name)
                                .attr()
                                .inode();
                        byte[] data = content(name);
                        Volumes.expect(
                                Response.AttrReply.class,
                                v.submit(new Request.Write(Caller.ROOT, inode, 0, data, Checksums.crc32c(data)))
                                        .get(120, TimeUnit.SECONDS),
                                "write " + name);
                        acknowledged.add(name);
                    }
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
        }

        static byte[] content(String name) {
            return (name + " ").repeat(64).getBytes(StandardCharsets.UTF_8);
        }

        /** The names of the files whose creation and write were acknowledged. */
        Set<String> names() {
            return Set.copyOf(acknowledged);
        }

        int acknowledged() {
            return acknowledged.size();
        }

        void awaitAcknowledged(int n) {
            MiniCluster.await(
                    Duration.ofSeconds(120),
                    () -> {
                        if (failure.get() != null) {
                            throw new AssertionError("a write failed: " + failure.get(), failure.get());
                        }
                        return acknowledged.size() >= n;
                    },
                    n + " writes acknowledged");
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            thread.join(Duration.ofSeconds(150));
            if (failure.get() != null) {
                throw new AssertionError("a write failed: " + failure.get(), failure.get());
            }
        }
    }
}
