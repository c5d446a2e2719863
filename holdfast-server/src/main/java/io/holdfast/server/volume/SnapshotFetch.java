package io.holdfast.server.volume;

import io.holdfast.common.HoldfastException;
import io.holdfast.common.Pacer;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.storage.SnapshotManifest;
import io.holdfast.transport.ClusterIds;
import io.holdfast.transport.TransportSecurity;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads byte ranges of another member's snapshot stream at one index
 * ({@link Request.SnapshotRead}, the scrubber's rebuild download), for a member that catches up
 * from a {@link SnapshotManifest}: paced at the node's catch-up rate, every chunk checked against
 * its CRC32C, from the first source that answers (the leader first), trying the others when one
 * fails, every source in turn for up to {@link #PATIENCE_NANOS} per range (a restart, an
 * election). Blocking; one caller at a time.
 */
final class SnapshotFetch implements SnapshotManifest.RangeSource, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SnapshotFetch.class);
    /** How long a range is asked for, of every source in turn, before the fetch gives up. */
    static final long PATIENCE_NANOS = TimeUnit.MINUTES.toNanos(2);

    private final RaftClient client;
    private final List<RaftPeer> sources;
    private final long index;
    private final Pacer pacer;
    private final LongConsumer progress;
    private final AtomicLong fetched = new AtomicLong();
    private int current;

    /**
     * @param sources node addresses to read from, in order of preference (not this member)
     * @param index the snapshot's index
     * @param pacer paces the bytes fetched (the node's catch-up rate)
     * @param progress told the bytes fetched so far after each chunk
     */
    SnapshotFetch(
            TransportSecurity transport,
            RaftGroupId group,
            List<String> sources,
            long index,
            Pacer pacer,
            LongConsumer progress) {
        List<RaftPeer> peers = new ArrayList<>();
        for (String a : sources) {
            peers.add(ClusterIds.peer(a));
        }
        this.sources = List.copyOf(peers);
        this.index = index;
        this.pacer = pacer;
        this.progress = progress;
        RaftProperties props = new RaftProperties();
        RaftClientConfigKeys.Rpc.setRequestTimeout(props, TimeDuration.valueOf(10, TimeUnit.SECONDS));
        GrpcConfigKeys.setMessageSizeMax(props, SizeInBytes.valueOf("32MB"));
        this.client = RaftClient.newBuilder()
                .setProperties(props)
                .setParameters(transport.parameters())
                .setRaftGroup(RaftGroup.valueOf(group, peers))
                .setClientId(ClientId.randomId())
                .setRetryPolicy(RetryPolicies.noRetry())
                .build();
    }

    /** Bytes fetched so far. */
    long fetched() {
        return fetched.get();
    }

    @Override
    public byte[] read(long offset, int length) throws IOException {
        byte[] out = new byte[length];
        int done = 0;
        while (done < length) {
            int n = Math.min(length - done, Limits.MAX_DATA_BYTES);
            byte[] chunk = readChunk(offset + done, n);
            System.arraycopy(chunk, 0, out, done, n);
            done += n;
            try {
                pacer.acquire(n);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while fetching a snapshot", e);
            }
            progress.accept(fetched.addAndGet(n));
        }
        return out;
    }

    private byte[] readChunk(long offset, int length) throws IOException {
        if (sources.isEmpty()) {
            throw new IOException("no other member to fetch snapshot " + index + " from");
        }
        List<String> failures = new ArrayList<>();
        long deadline = System.nanoTime() + PATIENCE_NANOS;
        while (failures.isEmpty() || System.nanoTime() - deadline < 0) {
            RaftPeer source = sources.get(current);
            try {
                return ask(source, offset, length);
            } catch (IOException e) {
                failures.add(source.getAddress() + ": " + e.getMessage());
                LOG.info(
                        "fetching snapshot {} at {} from {} failed: {}",
                        index,
                        offset,
                        source.getAddress(),
                        e.getMessage());
                current = (current + 1) % sources.size();
                if (current == 0) {
                    try {
                        Thread.sleep(1000); // every source failed once: give them a moment (a restart, an election)
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                        throw new IOException("interrupted while fetching a snapshot", ie);
                    }
                }
            }
        }
        throw new IOException("no member sent bytes " + offset + ".." + (offset + length) + " of snapshot " + index
                + ": "
                + String.join("; ", failures.subList(Math.max(0, failures.size() - sources.size()), failures.size())));
    }

    private byte[] ask(RaftPeer source, long offset, int length) throws IOException {
        Message m = Message.valueOf(ByteString.copyFrom(Codec.encode(new Request.SnapshotRead(index, offset, length))));
        RaftClientReply reply = client.io().sendStaleRead(m, 0, source.getId());
        if (!reply.isSuccess()) {
            throw new IOException(String.valueOf(reply.getException()));
        }
        Response r;
        try {
            r = Codec.decodeResponse(reply.getMessage().getContent().toByteArray());
        } catch (HoldfastException e) {
            throw new IOException("an undecodable answer: " + e.getMessage(), e);
        }
        if (!(r instanceof Response.SnapshotChunk c)) {
            throw new IOException(r instanceof Response.Error e ? e.errno() + " " + e.message() : String.valueOf(r));
        }
        if (c.index() != index) {
            throw new IOException("sent snapshot " + c.index() + ", not " + index);
        }
        if (Checksums.crc32c(c.bytes()) != c.crc32c()) {
            throw new IOException("a chunk failing its CRC32C at " + offset);
        }
        if (c.bytes().length != length) {
            throw new IOException("sent " + c.bytes().length + " bytes at " + offset + ", not " + length);
        }
        return c.bytes();
    }

    @Override
    public void close() {
        try {
            client.close();
        } catch (IOException e) {
            // releases connections only
        }
    }
}
