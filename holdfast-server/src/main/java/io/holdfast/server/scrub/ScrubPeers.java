package io.holdfast.server.scrub;

import io.holdfast.common.Caller;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.transport.TransportSecurity;
import java.io.IOException;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;

/**
 * A scrubber's line to the other members of its volume group: Raft clients that present this
 * node's certificate (so the members' gatekeepers see a node, which may send scrub requests),
 * one that asks one chosen member without retrying and one that proposes entries to the leader.
 *
 * <p>Requests to one member are stale reads ({@code sendStaleRead} with index 0): the member
 * answers from its own applied state, without a read index, which is what a scrubber compares
 * and what works on followers. Blocking, with Ratis's 3 s request timeout.
 *
 * <p>The clients follow the group's membership: {@link #use} rebuilds them when the peers
 * change. Thread-safe.
 */
final class ScrubPeers implements AutoCloseable {
    private final TransportSecurity transport;
    private RaftGroup group;
    private RaftClient oneMember;
    private RaftClient leader;

    ScrubPeers(TransportSecurity transport) {
        this.transport = Objects.requireNonNull(transport, "transport");
    }

    /** Uses {@code current} (the group as this member knows it now) from here on. */
    synchronized void use(RaftGroup current) {
        if (current.equals(group)) {
            return;
        }
        closeClients();
        group = current;
        RaftProperties props = new RaftProperties();
        RaftClientConfigKeys.Rpc.setRequestTimeout(props, TimeDuration.valueOf(3, TimeUnit.SECONDS));
        GrpcConfigKeys.setMessageSizeMax(props, SizeInBytes.valueOf("32MB"));
        oneMember = RaftClient.newBuilder()
                .setProperties(props)
                .setParameters(transport.parameters())
                .setRaftGroup(current)
                .setClientId(ClientId.randomId())
                .setRetryPolicy(RetryPolicies.noRetry())
                .build();
        leader = RaftClient.newBuilder()
                .setProperties(props)
                .setParameters(transport.parameters())
                .setRaftGroup(current)
                .setClientId(ClientId.randomId())
                .setRetryPolicy(RetryPolicies.retryUpToMaximumCountWithFixedSleep(
                        50, TimeDuration.valueOf(200, TimeUnit.MILLISECONDS)))
                .build();
    }

    private synchronized RaftClient oneMember() {
        if (oneMember == null) {
            throw new IllegalStateException("no group in use");
        }
        return oneMember;
    }

    private synchronized RaftClient leader() {
        if (leader == null) {
            throw new IllegalStateException("no group in use");
        }
        return leader;
    }

    /**
     * Asks one member a query about its own state.
     *
     * @return its answer (errors it answered with are {@link Response.Error}s)
     * @throws IOException if it could not be asked or did not answer (down, refused, timed out)
     */
    Response ask(RaftPeer member, Request.Query query) throws IOException {
        RaftClientReply reply = oneMember().io().sendStaleRead(message(query), 0, member.getId());
        return decode(reply, "member " + member.getAddress());
    }

    /**
     * Proposes a scrub mark and waits until it is committed and applied by the leader.
     *
     * @return the mark's log index
     * @throws IOException if no leader accepted it
     */
    long proposeMark() throws IOException {
        RaftClientReply reply = leader().io().send(message(new Request.ScrubMark(Caller.ROOT)));
        Response r = decode(reply, "the leader");
        if (r instanceof Response.Error e) {
            throw e.toException();
        }
        return reply.getLogIndex();
    }

    /**
     * Asks the leader (this member, when it calls) to hand leadership to {@code to}.
     *
     * @throws IOException if the transfer did not happen within 10 s
     */
    void transferLeadership(RaftPeerId to) throws IOException {
        RaftClientReply reply = leader().admin().transferLeadership(to, 10_000);
        if (!reply.isSuccess()) {
            throw new IOException("leadership transfer to " + to + " failed: " + reply.getException());
        }
    }

    /**
     * Asks {@code member} to take a snapshot now (Ratis's snapshot management; nodes and the admin
     * may), and waits up to 2 minutes for it.
     *
     * @throws IOException if it did not
     */
    void createSnapshot(RaftPeer member) throws IOException {
        RaftClientReply reply =
                oneMember().getSnapshotManagementApi(member.getId()).create(true, 120_000);
        if (!reply.isSuccess()) {
            throw new IOException("member " + member.getAddress() + " took no snapshot: " + reply.getException());
        }
    }

    private static Message message(Request request) {
        return Message.valueOf(ByteString.copyFrom(Codec.encode(request)));
    }

    private static Response decode(RaftClientReply reply, String who) throws IOException {
        if (!reply.isSuccess()) {
            throw new IOException(who + " failed: " + reply.getException());
        }
        try {
            return Codec.decodeResponse(reply.getMessage().getContent().toByteArray());
        } catch (HoldfastException e) {
            throw new IOException(who + " answered something undecodable: " + e.getMessage(), e);
        }
    }

    private void closeClients() {
        for (RaftClient c : new RaftClient[] {oneMember, leader}) {
            if (c != null) {
                try {
                    c.close();
                } catch (IOException e) {
                    // closing releases connections only
                }
            }
        }
        oneMember = null;
        leader = null;
    }

    @Override
    public synchronized void close() {
        closeClients();
    }

    /** An errno a member answered with, for messages. */
    static String describe(Response r) {
        return r instanceof Response.Error e ? e.errno() + " " + e.message() : String.valueOf(r);
    }
}
