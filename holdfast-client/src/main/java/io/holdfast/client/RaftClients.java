package io.holdfast.client;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.client.ClientFactory;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.client.RaftClientRpc;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.rpc.SupportedRpcType;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;

/**
 * Builds the Raft clients of one {@link HoldfastClient}, and of the {@link ClusterAdmin} and
 * {@link MemberProbe} it hands out: one set of Raft properties (request timeout, outstanding
 * requests, message size), the transport parameters (TLS, from {@code TransportSecurity}), the
 * {@link QuickFailoverRpc} transport and the retry policy.
 *
 * <p>Each Raft client built here opens its own connections (and TLS contexts); the caller owns
 * and closes it. Thread-safe: immutable after construction.
 */
final class RaftClients {
    /**
     * How long a Raft client waits for one attempt of a request before it tries another member:
     * 1 s. Each attempt that goes to a member that just died costs this much (the member that
     * answers NotLeader names the dead leader until an election is over), so it bounds the write
     * stall after a leader fails (measured through a FUSE mount on a loaded 2-core machine: 3-5 s
     * with 1 s, 1.5-8 s with 2 s, 1.3-9 s with 3 s, each with {@link QuickFailoverRpc}). A slower
     * reply is not lost: the resent request carries the same call id, and the leader answers it
     * from its retry cache.
     */
    static final TimeDuration REQUEST_TIMEOUT = TimeDuration.valueOf(1, TimeUnit.SECONDS);

    /** At most this many asynchronous requests of one Raft client under way at once. */
    static final int OUTSTANDING_REQUESTS_MAX = 512;

    /** The largest gRPC message a Raft client sends or accepts. */
    static final SizeInBytes MESSAGE_SIZE_MAX = SizeInBytes.valueOf("32MB");

    /** Runs the Raft clients' blocking reconnects off their timer threads (see {@link QuickFailoverRpc}). */
    private static final Executor RECONNECTS = Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("holdfast-reconnect-", 0).factory());

    private final RaftProperties properties;
    private final Parameters parameters;
    /** Node address → the address dialled instead (a proxy); empty: dial the node itself. */
    private final Map<String, String> dial;

    /**
     * Clients with the default settings above.
     *
     * @param parameters the transport parameters (TLS or plaintext)
     */
    RaftClients(Parameters parameters) {
        this(defaults(), parameters, Map.of());
    }

    private RaftClients(RaftProperties properties, Parameters parameters, Map<String, String> dial) {
        this.properties = properties;
        this.parameters = parameters;
        this.dial = Map.copyOf(dial);
    }

    /**
     * These clients, dialling {@code dial.get(address)} instead of a node whose address (as in the
     * cluster map) is a key; the peers keep their ids, so nodes see the usual requests.
     */
    RaftClients withDial(Map<String, String> dial) {
        return new RaftClients(properties, parameters, dial);
    }

    private static RaftProperties defaults() {
        RaftProperties props = new RaftProperties();
        RaftClientConfigKeys.Rpc.setRequestTimeout(props, REQUEST_TIMEOUT);
        RaftClientConfigKeys.Async.setOutstandingRequestsMax(props, OUTSTANDING_REQUESTS_MAX);
        GrpcConfigKeys.setMessageSizeMax(props, MESSAGE_SIZE_MAX);
        return props;
    }

    /** The same clients, except that one attempt of a request waits {@code timeout} (milliseconds resolution). */
    RaftClients withRequestTimeout(Duration timeout) {
        RaftProperties props = new RaftProperties(properties);
        RaftClientConfigKeys.Rpc.setRequestTimeout(
                props, TimeDuration.valueOf(timeout.toMillis(), TimeUnit.MILLISECONDS));
        return new RaftClients(props, parameters, dial);
    }

    /**
     * A new Raft client of {@code group}.
     *
     * @param noRetry give up after the first failure (for bootstrap, for reads pinned to one
     *     member where the caller picks another target itself, and for per-member diagnostics);
     *     otherwise retry every 50 ms for as long as the caller waits
     */
    RaftClient newClient(RaftGroup group, boolean noRetry) {
        ClientId id = ClientId.randomId();
        RaftClientRpc rpc =
                ClientFactory.cast(SupportedRpcType.GRPC.newFactory(parameters)).newRaftClientRpc(id, properties);
        return RaftClient.newBuilder()
                .setProperties(properties)
                .setParameters(parameters)
                .setRaftGroup(dialled(group))
                .setClientId(id)
                .setClientRpc(new QuickFailoverRpc(rpc, RECONNECTS))
                .setRetryPolicy(
                        noRetry
                                ? RetryPolicies.noRetry()
                                : RetryPolicies.retryForeverWithSleep(TimeDuration.valueOf(50, TimeUnit.MILLISECONDS)))
                .build();
    }

    private RaftGroup dialled(RaftGroup group) {
        if (dial.isEmpty()) {
            return group;
        }
        List<RaftPeer> peers = new ArrayList<>();
        for (RaftPeer p : group.getPeers()) {
            String via = dial.get(p.getAddress());
            peers.add(via == null ? p : RaftPeer.newBuilder(p).setAddress(via).build());
        }
        return RaftGroup.valueOf(group.getGroupId(), peers);
    }

    /** Closes a Raft client; closing only releases connections, so a failure is not reported. */
    static void closeQuietly(RaftClient client) {
        try {
            client.close();
        } catch (IOException e) {
            // releasing connections only: nothing to report to callers
        }
    }
}
