package io.holdfast.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.apache.ratis.client.RaftClientRpc;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftGroupMemberId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.exceptions.LeaderNotReadyException;
import org.apache.ratis.protocol.exceptions.LeaderSteppingDownException;
import org.apache.ratis.protocol.exceptions.NotLeaderException;
import org.apache.ratis.protocol.exceptions.ResourceUnavailableException;
import org.apache.ratis.util.ProtoUtils;
import org.junit.jupiter.api.Test;

class QuickFailoverRpcTest {
    private static final ClientId CLIENT = ClientId.randomId();
    private static final RaftGroupId GROUP = RaftGroupId.randomId();
    private static final RaftPeerId A = RaftPeerId.valueOf("a");
    private static final RaftPeerId B = RaftPeerId.valueOf("b");

    /** Records what reaches the wire and which members were reconnected. */
    private static final class Recording implements RaftClientRpc {
        final List<RaftClientRequest> sent = new ArrayList<>();
        final List<RaftPeerId> reconnected = new ArrayList<>();
        /** How a member answers, or null: never (only what was sent matters then). */
        volatile Function<RaftClientRequest, RaftClientReply> answer;

        @Override
        public synchronized CompletableFuture<RaftClientReply> sendRequestAsync(RaftClientRequest request) {
            sent.add(request);
            Function<RaftClientRequest, RaftClientReply> a = answer;
            return a == null ? new CompletableFuture<>() : CompletableFuture.completedFuture(a.apply(request));
        }

        @Override
        public RaftClientReply sendRequest(RaftClientRequest request) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void addRaftPeers(Collection<RaftPeer> peers) {}

        @Override
        public boolean shouldReconnect(Throwable t) {
            return false;
        }

        @Override
        public synchronized boolean handleException(RaftPeerId serverId, Throwable t, boolean reconnect) {
            if (reconnect) {
                reconnected.add(serverId);
            }
            return reconnect;
        }

        @Override
        public void close() {}
    }

    private final Recording wire = new Recording();
    private final QuickFailoverRpc rpc = new QuickFailoverRpc(wire, Executors.newVirtualThreadPerTaskExecutor());

    private static RaftClientRequest ordered(RaftPeerId leader, long seq, boolean first) {
        return RaftClientRequest.newBuilder()
                .setClientId(CLIENT)
                .setLeaderId(leader)
                .setGroupId(GROUP)
                .setCallId(seq)
                .setMessage(Message.valueOf("x"))
                .setType(RaftClientRequest.writeRequestType())
                .setSlidingWindowEntry(ProtoUtils.toSlidingWindowEntry(seq, first))
                .build();
    }

    private static RaftClientRequest toMember(RaftPeerId member, long seq, boolean first) {
        return RaftClientRequest.newBuilder()
                .setClientId(CLIENT)
                .setServerId(member)
                .setGroupId(GROUP)
                .setCallId(seq)
                .setMessage(Message.valueOf("x"))
                .setType(RaftClientRequest.staleReadRequestType(0))
                .setSlidingWindowEntry(ProtoUtils.toSlidingWindowEntry(seq, first))
                .build();
    }

    @Test
    void aLeaderSteppingDownIsAnsweredAsNotLeaderSoThatRatisResendsTheRequest() throws Exception {
        wire.answer = request -> RaftClientReply.newBuilder()
                .setRequest(request)
                .setException(new LeaderSteppingDownException(A + " is stepping down"))
                .build();
        CompletableFuture<RaftClientReply> refused = rpc.sendRequestAsync(ordered(A, 1, true));
        ExecutionException e = catchThrowableOfType(ExecutionException.class, () -> refused.get(10, TimeUnit.SECONDS));
        assertThat(e.getCause())
                .as("Ratis's client resends on 'not leader'; it gives up on 'stepping down'")
                .isInstanceOfSatisfying(
                        NotLeaderException.class,
                        nle -> assertThat(nle.getSuggestedLeader()).isNull());

        wire.answer = request -> RaftClientReply.newBuilder()
                .setRequest(request)
                .setException(new LeaderNotReadyException(RaftGroupMemberId.valueOf(A, GROUP)))
                .build();
        assertThat(rpc.sendRequestAsync(ordered(A, 2, false))
                        .get(10, TimeUnit.SECONDS)
                        .getException())
                .as("other refusals pass unchanged")
                .isInstanceOf(LeaderNotReadyException.class);
    }

    @Test
    void orderedRequestsToOneLeaderGoOutAsTheyCome() {
        rpc.sendRequestAsync(ordered(A, 1, true));
        rpc.sendRequestAsync(ordered(A, 2, false));
        rpc.sendRequestAsync(ordered(A, 3, false));
        assertThat(wire.sent)
                .extracting(r -> r.getSlidingWindowEntry().getSeqNum())
                .containsExactly(1L, 2L, 3L);
        assertThat(wire.reconnected).isEmpty();
    }

    @Test
    void anUnflaggedRequestToANewLeaderIsRefusedWithAFreshStreamAndGoesOutWhenResentAsFirst() throws Exception {
        rpc.sendRequestAsync(ordered(A, 1, true));
        rpc.sendRequestAsync(ordered(A, 2, false));
        // the client's leader moved to B through an unordered request: seq 3 would wait on B for seq 2
        CompletableFuture<RaftClientReply> refused = rpc.sendRequestAsync(ordered(B, 3, false));
        ExecutionException e = catchThrowableOfType(ExecutionException.class, () -> refused.get(10, TimeUnit.SECONDS));
        assertThat(e.getCause())
                .isInstanceOf(QuickFailoverRpc.OrderedStreamMovedException.class)
                .isInstanceOf(ResourceUnavailableException.class);
        assertThat(wire.reconnected)
                .as("B's stream started afresh before the refusal")
                .containsExactly(B);
        assertThat(wire.sent).hasSize(2);

        rpc.sendRequestAsync(ordered(B, 3, true)); // Ratis's resend, first of a new window
        rpc.sendRequestAsync(ordered(B, 4, false));
        assertThat(wire.sent)
                .extracting(r -> r.getSlidingWindowEntry().getSeqNum())
                .containsExactly(1L, 2L, 3L, 4L);
    }

    @Test
    void aRequestFlaggedFirstGoesToANewLeaderAtOnce() {
        rpc.sendRequestAsync(ordered(A, 1, true));
        rpc.sendRequestAsync(ordered(B, 2, true)); // after a failure Ratis flags the next one itself
        assertThat(wire.sent).hasSize(2);
        assertThat(wire.reconnected).isEmpty();
    }

    @Test
    void requestsPinnedToAMemberAreNotTracked() {
        rpc.sendRequestAsync(ordered(A, 1, true));
        rpc.sendRequestAsync(toMember(B, 7, false)); // a window of its own, kept by Ratis per member
        rpc.sendRequestAsync(ordered(A, 2, false));
        assertThat(wire.sent).hasSize(3);
        assertThat(wire.reconnected).isEmpty();
    }
}
