package io.holdfast.server;

import io.holdfast.common.Pacer;
import io.holdfast.transport.Peer;
import io.holdfast.transport.Refusal;
import io.holdfast.transport.Role;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.EnumSet;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import org.apache.ratis.client.impl.OrderedAsync;
import org.apache.ratis.grpc.server.GrpcServices;
import org.apache.ratis.proto.RaftProtos;
import org.apache.ratis.proto.RaftProtos.ClientMessageEntryProto;
import org.apache.ratis.proto.RaftProtos.RaftClientRequestProto;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.thirdparty.io.grpc.Attributes;
import org.apache.ratis.thirdparty.io.grpc.ForwardingServerCallListener;
import org.apache.ratis.thirdparty.io.grpc.Grpc;
import org.apache.ratis.thirdparty.io.grpc.Metadata;
import org.apache.ratis.thirdparty.io.grpc.ServerCall;
import org.apache.ratis.thirdparty.io.grpc.ServerCallHandler;
import org.apache.ratis.thirdparty.io.grpc.ServerInterceptor;
import org.apache.ratis.thirdparty.io.grpc.ServerTransportFilter;
import org.apache.ratis.thirdparty.io.grpc.Status;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyServerBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The door of a node's port. Installed into the Ratis gRPC server, it
 *
 * <ul>
 *   <li>identifies each connection once, when its TLS handshake has completed, from the peer
 *       certificate's subject ({@link Peer#of}); TLS itself (mutual, 1.3, the cluster CA as
 *       the only trust anchor, validity checked) has already refused unknown, missing and
 *       expired certificates;
 *   <li>counts connections per client identity and in total, and refuses every call on a
 *       client's connection past a limit with {@code RESOURCE_EXHAUSTED} ({@link Refusal#connectionLimit}) and a
 * message naming
 *       the limit (nodes are counted but never refused, so replication survives); connections
 *       that never finish the TLS handshake are closed by Netty after 10 s;
 *   <li>lets only nodes speak the Raft server protocol and only nodes and the admin use the
 *       admin protocol (clients may list groups and read group info);
 *   <li>wraps every client request's message in an {@link Envelope} with the caller, so the
 *       state machines can enforce export ACLs;
 *   <li>paces snapshots arriving from leaders ({@code installSnapshot}) to
 *       {@link NodeSecurity#catchUpBytesPerSecond} for the whole node: a chunk is handed on
 *       only when the token bucket allows, and gRPC's flow control then slows the sender
 *       (DST's "sliding window" resync, bounded); progress goes to the {@link CatchUpListener}.
 * </ul>
 *
 * <p>Thread-safe.
 */
final class Gatekeeper extends ServerTransportFilter implements ServerInterceptor, GrpcServices.Customizer {
    private static final Logger LOG = LoggerFactory.getLogger(Gatekeeper.class);
    private static final Attributes.Key<Peer> PEER = Attributes.Key.create("holdfast.peer");
    private static final Attributes.Key<String> COUNTED_AS = Attributes.Key.create("holdfast.counted-as");
    private static final Attributes.Key<Status> REFUSAL = Attributes.Key.create("holdfast.refusal");
    private static final Set<String> CLIENT_ADMIN_METHODS = Set.of("groupList", "groupInfo");

    private final NodeSecurity security;
    private final ConcurrentHashMap<String, AtomicInteger> perClient = new ConcurrentHashMap<>();
    private final AtomicInteger total = new AtomicInteger();
    private final AtomicLong refusedConnections = new AtomicLong();
    private final AtomicLong refusedCalls = new AtomicLong();
    private final Pacer catchUpPacer;
    private volatile CatchUpListener catchUp = (group, received, expected, done) -> {};

    /** Told of snapshot bytes a member of this node has received. */
    interface CatchUpListener {
        /**
         * @param group the volume group (or cluster group)
         * @param received bytes of this snapshot received so far
         * @param expected the snapshot's total size in bytes, -1 if unknown
         * @param done whether the last chunk has arrived
         */
        void chunk(UUID group, long received, long expected, boolean done);
    }

    /** @param catchUpBytesPerSecond the node's catch-up rate ({@link NodeOptions#catchUpBytesPerSecond}) */
    Gatekeeper(NodeSecurity security, long catchUpBytesPerSecond) {
        this.security = security;
        this.catchUpPacer = new Pacer(catchUpBytesPerSecond);
    }

    /** Where snapshot progress goes (metrics). */
    void onCatchUp(CatchUpListener listener) {
        this.catchUp = listener;
    }

    @Override
    public NettyServerBuilder customize(NettyServerBuilder builder, EnumSet<GrpcServices.Type> types) {
        return builder.intercept(this).addTransportFilter(this);
    }

    /** Connections refused for a limit or an unusable certificate, since start. */
    long refusedConnections() {
        return refusedConnections.get();
    }

    /** Calls refused (limits, certificates, roles), since start. */
    long refusedCalls() {
        return refusedCalls.get();
    }

    /** Open connections now. */
    int connections() {
        return total.get();
    }

    @Override
    public Attributes transportReady(Attributes attrs) {
        String ip = ip(attrs.get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
        Peer peer = null;
        Status refusal = null;
        if (security.transport().isPlaintext()) {
            peer = Peer.anonymous(ip);
        } else {
            try {
                peer = identify(attrs.get(Grpc.TRANSPORT_ATTR_SSL_SESSION), ip);
            } catch (IllegalArgumentException | SSLPeerUnverifiedException e) {
                refusal = Status.PERMISSION_DENIED.withDescription(
                        "unusable client certificate from " + ip + ": " + e.getMessage());
            }
        }
        String key = peer != null && peer.role() != Role.ANONYMOUS
                ? peer.role().unit() + ":" + peer.name()
                : "address:" + ip;
        int all = total.incrementAndGet();
        int mine = perClient.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
        // nodes are counted but never refused: replication must survive clients that use up the limits
        if (refusal == null && peer.role() != Role.NODE && all > security.maxConnections()) {
            refusal = Refusal.connectionLimit("node has " + all + " connections, more than its limit of "
                    + security.maxConnections() + "; try again later or raise --max-connections");
        } else if (refusal == null && peer.role() != Role.NODE && mine > security.maxConnectionsPerClient()) {
            refusal = Refusal.connectionLimit(peer + " holds " + mine + " connections to this node, more than the"
                    + " per-client limit of " + security.maxConnectionsPerClient()
                    + "; close some or raise --max-connections-per-client");
        }
        if (refusal != null) {
            refusedConnections.incrementAndGet();
            LOG.warn("refusing connection: {}", refusal.getDescription());
        }
        Attributes.Builder b = attrs.toBuilder().set(COUNTED_AS, key);
        if (peer != null) {
            b.set(PEER, peer);
        }
        if (refusal != null) {
            b.set(REFUSAL, refusal);
        }
        return b.build();
    }

    @Override
    public void transportTerminated(Attributes attrs) {
        // null when the connection ended before it was ready (e.g. a refused TLS handshake); an
        // exception here would keep gRPC from ever finishing its shutdown
        String key = attrs == null ? null : attrs.get(COUNTED_AS);
        if (key == null) {
            return;
        }
        total.decrementAndGet();
        perClient.computeIfPresent(key, (k, n) -> n.decrementAndGet() <= 0 ? null : n);
    }

    private static Peer identify(SSLSession session, String ip) throws SSLPeerUnverifiedException {
        if (session == null) {
            throw new IllegalArgumentException("no TLS session");
        }
        Certificate[] chain = session.getPeerCertificates();
        if (chain.length == 0 || !(chain[0] instanceof X509Certificate cert)) {
            throw new IllegalArgumentException("no X.509 client certificate");
        }
        return Peer.of(cert, ip);
    }

    private static String ip(SocketAddress address) {
        return address instanceof InetSocketAddress inet && inet.getAddress() != null
                ? inet.getAddress().getHostAddress()
                : "";
    }

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(
            ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
        Attributes attrs = call.getAttributes();
        Status refusal = attrs.get(REFUSAL);
        Peer peer = attrs.get(PEER);
        String service = call.getMethodDescriptor().getServiceName();
        String method = call.getMethodDescriptor().getBareMethodName();
        if (refusal == null && peer == null) {
            refusal = Status.UNAUTHENTICATED.withDescription("connection was not identified");
        }
        if (refusal == null
                && service != null
                && service.endsWith("RaftServerProtocolService")
                && peer.role() != Role.NODE
                && peer.role() != Role.ANONYMOUS) {
            refusal = Status.PERMISSION_DENIED.withDescription(
                    "only cluster nodes may speak the Raft server protocol; " + peer + " is not a node");
        }
        if (refusal == null
                && service != null
                && service.endsWith("AdminProtocolService")
                && !peer.role().privileged()
                && !CLIENT_ADMIN_METHODS.contains(method)) {
            refusal = Status.PERMISSION_DENIED.withDescription(
                    method + " needs the admin certificate; " + peer + " is not the admin");
        }
        if (refusal != null) {
            refusedCalls.incrementAndGet();
            call.close(refusal, new Metadata());
            return new ServerCall.Listener<>() {};
        }
        ServerCall.Listener<Q> listener = next.startCall(call, headers);
        if (service != null && service.endsWith("RaftServerProtocolService") && method.equals("installSnapshot")) {
            return paced(listener);
        }
        if (service == null || !service.endsWith("RaftClientProtocolService")) {
            return listener;
        }
        Peer caller = peer;
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
            @Override
            public void onMessage(Q message) {
                super.onMessage(
                        message instanceof RaftClientRequestProto request ? cast(wrap(request, caller)) : message);
            }
        };
    }

    /**
     * Hands each snapshot chunk on once the catch-up pacer allows its bytes. Blocking here holds
     * only this stream (one gRPC executor thread); the leader's sender waits on flow control.
     */
    private <Q> ServerCall.Listener<Q> paced(ServerCall.Listener<Q> listener) {
        return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
            private long received;

            @Override
            public void onMessage(Q message) {
                if (message instanceof RaftProtos.InstallSnapshotRequestProto r && r.hasSnapshotChunk()) {
                    var chunk = r.getSnapshotChunk();
                    long bytes = 0;
                    for (var f : chunk.getFileChunksList()) {
                        bytes += f.getData().size();
                    }
                    try {
                        catchUpPacer.acquire(bytes);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    received += bytes;
                    try {
                        UUID group = RaftGroupId.valueOf(
                                        r.getServerRequest().getRaftGroupId().getId())
                                .getUuid();
                        catchUp.chunk(
                                group, received, chunk.getTotalSize() > 0 ? chunk.getTotalSize() : -1, chunk.getDone());
                    } catch (RuntimeException e) {
                        // a malformed group id: Ratis refuses the chunk itself; there is no progress to report
                    }
                }
                super.onMessage(message);
            }
        };
    }

    @SuppressWarnings("unchecked")
    private static <Q> Q cast(Object o) {
        return (Q) o;
    }

    /**
     * Ratis's own connection probe ({@link OrderedAsync#DUMMY}) stays as it is: the server
     * answers it without the state machine, and recognizes it by its content. Any other message
     * is wrapped; a state machine refuses an unwrapped one, so this opens nothing.
     */
    private static RaftClientRequestProto wrap(RaftClientRequestProto request, Peer caller) {
        if (request.getMessage().getContent().equals(OrderedAsync.DUMMY.getContent())) {
            return request;
        }
        return request.toBuilder()
                .setMessage(ClientMessageEntryProto.newBuilder()
                        .setContent(Envelope.wrap(caller, request.getMessage().getContent())))
                .build();
    }
}
