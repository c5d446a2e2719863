package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.MemberProbe;
import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.DirEntry;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.Placement;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.server.HoldfastNode;
import io.holdfast.transport.ClusterIds;
import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;

/** Helpers shared by the cluster integration tests: blocking calls, tree dumps, pinned reads. */
final class Volumes {
    static final long CALL_TIMEOUT_SECONDS = 90;

    private Volumes() {}

    /** Waits for a response; an exception (outcome unknown) fails the test. */
    static Response call(CompletableFuture<Response> f) {
        try {
            return f.get(CALL_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("request failed: " + e, e);
        }
    }

    static <T extends Response> T expect(Class<T> type, Response r, String what) {
        assertThat(r).as(what).isInstanceOf(type);
        return type.cast(r);
    }

    static Attr mkdir(VolumeService v, String path) {
        return expect(
                        Response.AttrReply.class,
                        call(v.submit(new Request.Mkdir(Caller.ROOT, path, 0755))),
                        "mkdir " + path)
                .attr();
    }

    static Attr createExclusive(VolumeService v, String path) {
        return expect(
                        Response.AttrReply.class,
                        call(v.submit(new Request.Create(Caller.ROOT, path, 0644, true))),
                        "create " + path)
                .attr();
    }

    /** Writes {@code data} at {@code offset} in chunks of at most {@link Limits#MAX_DATA_BYTES}. */
    static void write(VolumeService v, long inode, long offset, byte[] data) {
        int done = 0;
        do {
            int n = Math.min(Limits.MAX_DATA_BYTES, data.length - done);
            byte[] chunk = Arrays.copyOfRange(data, done, done + n);
            expect(
                    Response.AttrReply.class,
                    call(v.submit(
                            new Request.Write(Caller.ROOT, inode, offset + done, chunk, Checksums.crc32c(chunk)))),
                    "write " + n + " bytes to inode " + inode + " at " + (offset + done));
            done += n;
        } while (done < data.length);
    }

    /** A reader of one volume: answers queries. */
    interface Reader extends Function<Request.Query, Response> {}

    static Reader reader(VolumeService v) {
        return q -> call(v.query(q));
    }

    /** The file's whole content, checking every chunk's CRC32C; empty if it does not exist. */
    static Optional<byte[]> readFile(Reader r, String path) {
        Response a = r.apply(new Request.GetAttr(path, false));
        if (a instanceof Response.Error e && e.errno() == Errno.ENOENT) {
            return Optional.empty();
        }
        Attr attr = expect(Response.AttrReply.class, a, "getattr " + path).attr();
        assertThat(attr.type()).as("type of " + path).isEqualTo(FileType.FILE);
        return Optional.of(readInode(r, attr.inode(), attr.size(), path));
    }

    static byte[] readInode(Reader r, long inode, long size, String what) {
        byte[] out = new byte[Math.toIntExact(size)];
        int done = 0;
        while (done < out.length) {
            int n = Math.min(Limits.MAX_DATA_BYTES, out.length - done);
            Response.Data d = expect(
                    Response.Data.class, r.apply(new Request.Read(inode, done, n)), "read " + what + " at " + done);
            assertThat(Checksums.crc32c(d.bytes()))
                    .as("crc32c of data read from " + what)
                    .isEqualTo(d.crc32c());
            assertThat(d.bytes().length)
                    .as("bytes read from " + what + " at " + done)
                    .isEqualTo(n);
            System.arraycopy(d.bytes(), 0, out, done, n);
            done += n;
        }
        Response.Data eof =
                expect(Response.Data.class, r.apply(new Request.Read(inode, size, 1)), "read past end of " + what);
        assertThat(eof.bytes()).as("read past end of " + what).isEmpty();
        return out;
    }

    /** All entries of a directory, over every page. */
    static TreeMap<String, DirEntry> list(Reader r, String dir) {
        TreeMap<String, DirEntry> out = new TreeMap<>();
        String after = "";
        while (true) {
            Response.DirPage p =
                    expect(Response.DirPage.class, r.apply(new Request.ReadDir(dir, after, 1000)), "readdir " + dir);
            for (DirEntry e : p.entries()) {
                assertThat(out.put(e.name(), e))
                        .as("entry " + e.name() + " listed twice in " + dir)
                        .isNull();
                after = e.name();
            }
            if (!p.more()) {
                return out;
            }
            assertThat(p.entries()).as("a page with more=true has entries").isNotEmpty();
        }
    }

    /**
     * The whole tree as path → description: "dir" for a directory, "file:<size>:<sha-ish hex>"
     * (content hex, shortened for readability of failures) for a file.
     */
    static TreeMap<String, String> dump(Reader r) {
        TreeMap<String, String> out = new TreeMap<>();
        dump(r, "/", out);
        return out;
    }

    private static void dump(Reader r, String dir, Map<String, String> out) {
        for (DirEntry e : list(r, dir).values()) {
            String p = (dir.equals("/") ? "" : dir) + "/" + e.name();
            switch (e.type()) {
                case DIRECTORY -> {
                    out.put(p, "dir");
                    dump(r, p, out);
                }
                case FILE ->
                    out.put(p, describe(readFile(r, p).orElseThrow(() -> new AssertionError(p + " listed but gone"))));
                default -> out.put(p, e.type().name());
            }
        }
    }

    static String describe(byte[] content) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(content);
            return "file:" + content.length + ":" + HexFormat.of().formatHex(h, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    static UUID groupId(MiniCluster c, String volume) throws IOException {
        return Placement.onlyGroup(c.map().volume(volume).orElseThrow());
    }

    static HoldfastNode.GroupStatus status(MiniCluster c, int i, UUID group) {
        return c.node(i)
                .groupStatus(group)
                .orElseThrow(() -> new AssertionError("node " + i + " does not serve " + group));
    }

    /** The index of the node that is leader of the group now, or -1. */
    static int leader(MiniCluster c, int size, UUID group) {
        for (int i = 0; i < size; i++) {
            if (c.node(i) != null
                    && c.node(i)
                            .groupStatus(group)
                            .map(s -> s.role().equals("LEADER"))
                            .orElse(false)) {
                return i;
            }
        }
        return -1;
    }

    /**
     * The address of the member that leads {@code volume} now, as the members themselves answer a
     * client's probe (works for nodes in child JVMs too); empty while none does.
     */
    static Optional<String> leaderAddress(HoldfastClient client, String volume) {
        ClusterMap.Volume vol = client.map().volume(volume).orElseThrow();
        return client.probe().groupInfo(Placement.onlyGroup(vol), vol.replicas()).values().stream()
                .filter(m -> m.answered() && m.role().equals("leader"))
                .map(MemberProbe.MemberInfo::address)
                .findFirst();
    }

    static int awaitLeader(MiniCluster c, int size, UUID group) {
        int[] box = {-1};
        MiniCluster.await(
                Duration.ofSeconds(30),
                () -> (box[0] = leader(c, size, group)) >= 0,
                "group " + group + " has a leader");
        return box[0];
    }

    /**
     * Reads served by one member from its own applied state (stale reads with min index 0), so a
     * test can check what that member holds rather than what the group agrees on.
     */
    static final class Pinned implements Reader, AutoCloseable {
        private final RaftClient client;
        private final RaftPeerId member;

        Pinned(MiniCluster c, String volume, String memberAddress) throws IOException {
            // the cached map: refreshing it right after a restart fails with EIO "Leader is unknown"
            var v = c.client().map().volume(volume).orElseThrow();
            RaftProperties props = new RaftProperties();
            RaftClientConfigKeys.Rpc.setRequestTimeout(props, TimeDuration.valueOf(10, TimeUnit.SECONDS));
            GrpcConfigKeys.setMessageSizeMax(props, SizeInBytes.valueOf("32MB"));
            this.client = RaftClient.newBuilder()
                    .setProperties(props)
                    .setParameters(c.adminSecurity().parameters())
                    .setRaftGroup(ClusterIds.group(RaftGroupId.valueOf(Placement.onlyGroup(v)), v.replicas()))
                    .setClientId(ClientId.randomId())
                    .setRetryPolicy(RetryPolicies.retryUpToMaximumCountWithFixedSleep(
                            5, TimeDuration.valueOf(200, TimeUnit.MILLISECONDS)))
                    .build();
            this.member = ClusterIds.peer(memberAddress).getId();
        }

        @Override
        public Response apply(Request.Query q) {
            Message m = Message.valueOf(ByteString.copyFrom(Codec.encode(q)));
            try {
                RaftClientReply reply =
                        client.async().sendStaleRead(m, 0, member).get(CALL_TIMEOUT_SECONDS, TimeUnit.SECONDS);
                assertThat(reply.isSuccess())
                        .as("stale read " + q + " on " + member + ": " + reply.getException())
                        .isTrue();
                return Codec.decodeResponse(reply.getMessage().getContent().toByteArray());
            } catch (Exception e) {
                throw new AssertionError("stale read " + q + " on " + member + " failed: " + e, e);
            }
        }

        @Override
        public void close() throws IOException {
            client.close();
        }
    }
}
