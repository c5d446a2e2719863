package io.holdfast.client;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.ClusterCommand;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Codec;
import io.holdfast.protocol.Compression;
import io.holdfast.protocol.Placement;
import io.holdfast.protocol.ProtocolException;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.transport.ClusterIds;
import io.holdfast.transport.Refusal;
import io.holdfast.transport.TransportSecurity;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLException;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.exceptions.RaftException;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;

/**
 * A connection to a Holdfast cluster: the cluster map, and one Raft client per volume.
 *
 * <p>{@link #connect} asks the node at {@code host:port} for the cluster map, then talks to
 * the cluster group's members. {@link #volume} returns a {@link VolumeService} for one volume;
 * it is owned by this client and closed with it. Two views share this client's connections,
 * its cached map and its deadline, and stop working when it is closed:
 *
 * <ul>
 *   <li>{@link #admin()}: changes to the cluster map (volumes, export ACLs, nodes, replica
 *       replacement), most of them for the admin certificate only;
 *   <li>{@link #probe()}: diagnostics addressed to individual members (state digests, Raft
 *       group info, node probes, per-member queries such as scrub control).
 * </ul>
 *
 * <p>Options ({@code env}):
 *
 * <ul>
 *   <li>{@code holdfast.deadline}: per-request deadline as a {@link Duration} or milliseconds
 *       (default 30 s);
 *   <li>{@code holdfast.tls}: directory with {@code ca.crt}, {@code client.crt} and
 *       {@code client.key} (default {@code $HOLDFAST_TLS}, else {@code ~/.holdfast/tls}); see
 *       {@link TransportSecurity#forClient};
 *   <li>{@code holdfast.insecure}: {@code true} for plaintext without a certificate (the node
 *       must run with {@code --insecure} too);
 *   <li>{@code holdfast.require}: features (comma separated, or a List) the node must offer in
 *       the handshake besides {@code checksum=crc32c}, e.g. {@code compression=zstd};
 *   <li>{@code holdfast.shortLived}: {@code true} (Boolean or String) for a process that sends a
 *       few requests and exits, such as one CLI command: each volume's reads then stay on one
 *       member (another one only if it fails) instead of being spread over all members, since
 *       every member read from costs a connection and a TLS handshake;
 *   <li>{@code holdfast.routes}: where to dial a node instead of its address in the cluster map
 *       (a {@code Map<String, String>}, or a String {@code ADDRESS=DIAL,ADDRESS=DIAL}; each
 *       {@code host:port}), for a client that reaches the nodes through a NAT, a tunnel or a
 *       proxy (tests use it to cut or slow one client's link). Nodes keep their identities: the
 *       map's address still names each node, and TLS still checks the certificate of the host
 *       dialled. Default: none.
 *   <li>{@code holdfast.compression}: {@code zstd} to have bulk replies (file content reads,
 *       directory listings, change feed pages) travel zstd-compressed when the node offers
 *       {@code compression=zstd} in the handshake ({@link Request.Compressed}; worth it over a WAN,
 *       where bytes cost more than the CPU to pack them), or {@code none}. Default: {@code none}.
 * </ul>
 *
 * <p>On connecting, the client and the node exchange {@link ClusterCommand.Hello}s (protocol
 * version ranges and features); either side refuses an incompatible peer with a message that
 * names both sides' versions or the missing feature.
 *
 * <p>Thread-safe.
 */
public final class HoldfastClient implements AutoCloseable {
    /** Default per-request deadline. */
    public static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(30);

    /**
     * How long the first two requests of {@link #connect} (handshake and map, to the one node named)
     * may take: 10 s, at most the deadline. They set up the TLS connection of a cold client, which
     * on a loaded machine took over a second by itself, and they are not retried elsewhere.
     */
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

    /** Client option: extra features the node must offer (comma separated String, or a List). */
    public static final String REQUIRE_OPTION = "holdfast.require";
    /** Client option: {@code true} (Boolean or String) for a short-lived client (see the class comment). */
    public static final String SHORT_LIVED_OPTION = "holdfast.shortLived";
    /** Client option: where to dial nodes instead of their map addresses (see the class comment). */
    public static final String ROUTES_OPTION = "holdfast.routes";
    /** Client option: {@code zstd} or {@code none} (the default), see the class comment. */
    public static final String COMPRESSION_OPTION = "holdfast.compression";

    private final RaftClients clients;
    private final Duration deadline;
    private final boolean shortLived;
    /** The cluster group's members, for {@link #cluster()}. */
    private final List<String> clusterMembers;
    /** The cluster group's Raft client, built on first use (a file command never needs it); guarded by this. */
    private RaftClient cluster;

    private final ClusterCommand.Hello welcome;
    /** Whether bulk replies travel zstd-compressed (asked for, and offered by the node). */
    private final boolean compress;

    private final CompressingVolumeService.Counters compressed = new CompressingVolumeService.Counters();
    private final Map<String, RaftVolumeService> volumes = new LinkedHashMap<>();
    /** The compressing views of {@link #volumes}, when {@link #compress}. */
    private final Map<RaftVolumeService, CompressingVolumeService> compressing = new HashMap<>();
    /** Services whose volume's members changed: callers may still hold them; closed with this client. */
    private final List<RaftVolumeService> retired = new ArrayList<>();

    private final ClusterAdmin admin;
    private final MemberProbe probe;
    private volatile ClusterMap map;
    private boolean closed;

    private HoldfastClient(
            RaftClients clients,
            Duration deadline,
            boolean shortLived,
            List<String> clusterMembers,
            ClusterCommand.Hello welcome,
            ClusterMap map,
            boolean compress) {
        this.compress = compress;
        this.clients = clients;
        this.deadline = deadline;
        this.shortLived = shortLived;
        this.clusterMembers = clusterMembers;
        this.welcome = welcome;
        this.map = map;
        this.probe = new MemberProbe(this);
        this.admin = new ClusterAdmin(this, probe);
    }

    /**
     * Parses {@link #ROUTES_OPTION}.
     *
     * @throws IllegalArgumentException if it is neither a map nor {@code ADDRESS=DIAL,…} of
     *     {@code host:port} addresses
     */
    static Map<String, String> routes(Object option) {
        if (option == null) {
            return Map.of();
        }
        Map<String, String> out = new HashMap<>();
        if (option instanceof Map<?, ?> m) {
            m.forEach((k, v) -> out.put(String.valueOf(k), String.valueOf(v)));
        } else {
            for (String pair : option.toString().split(",")) {
                if (pair.isBlank()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                if (eq < 0) {
                    throw new IllegalArgumentException(
                            ROUTES_OPTION + " must be ADDRESS=DIAL[,ADDRESS=DIAL...], got \"" + option + "\"");
                }
                out.put(pair.substring(0, eq).trim(), pair.substring(eq + 1).trim());
            }
        }
        out.forEach((from, to) -> {
            ClusterMap.checkAddress(from);
            ClusterMap.checkAddress(to);
        });
        return Map.copyOf(out);
    }

    /**
     * Connects to the cluster that the node at {@code host:port} belongs to.
     *
     * @param env options (see the class comment); unknown keys are ignored
     * @throws HoldfastException {@link Errno#EIO} "cannot resolve host HOST" if {@code host} does
     *     not resolve (checked first; its cause is then an {@link UnknownHostException} whose
     *     message is {@code host}); {@link Errno#ETIMEDOUT} or {@link Errno#EIO} if the node does
     *     not answer (a refused TLS handshake shows as EIO with the reason),
     *     {@link Errno#EACCES} if no client certificate is found, {@link Errno#EPROTO} if the
     *     handshake finds the two sides incompatible or the node answers with something else
     * @throws IllegalArgumentException if an option has the wrong type
     */
    public static HoldfastClient connect(String host, int port, Map<String, ?> env) throws HoldfastException {
        String address = host + ":" + port;
        ClusterMap.checkAddress(address);
        try {
            // before any gRPC channel exists: gRPC would log the failure with a stack trace, then fail
            // the call like an unreachable node
            InetAddress.getAllByName(host);
        } catch (UnknownHostException e) {
            throw unresolvable(host, e);
        }
        Duration deadline = duration(env.get("holdfast.deadline"), DEFAULT_DEADLINE);
        Object shortLivedOption = env.get(SHORT_LIVED_OPTION);
        boolean shortLived = shortLivedOption instanceof Boolean b
                ? b
                : shortLivedOption != null && Boolean.parseBoolean(shortLivedOption.toString());
        TransportSecurity security = TransportSecurity.forClient(env);
        ClusterCommand.Hello hello = hello(security, env.get(REQUIRE_OPTION));
        RaftClients clients = new RaftClients(security.parameters(), routes(env.get(ROUTES_OPTION)));
        RaftClients bootClients = clients.withRequestTimeout(
                Duration.ofMillis(Math.min(deadline.toMillis(), CONNECT_TIMEOUT.toMillis())));
        ClusterMap first;
        ClusterCommand.Hello welcome;
        var node = ClusterIds.peer(address);
        try (RaftClient boot = bootClients.newClient(RaftGroup.valueOf(ClusterIds.CLUSTER_GROUP, node), true)) {
            // blocking calls: a failed async call closes the Raft client's window and hides the cause
            welcome = handshake(hello, boot.io().sendStaleRead(message(hello), 0, node.getId()), address);
            first = decodeMap(boot.io().sendStaleRead(message(new ClusterCommand.GetMap()), 0, node.getId()), address);
        } catch (IOException e) {
            throw e instanceof HoldfastException h ? h : connectFailure(host, address, security, e);
        }
        boolean compress =
                compression(env.get(COMPRESSION_OPTION)) && welcome.features().contains(Compression.FEATURE);
        return new HoldfastClient(clients, deadline, shortLived, first.clusterGroup(), welcome, first, compress);
    }

    /**
     * The cluster group's Raft client, built on first use: each Raft client sets up its own TLS
     * context, and a command that only reads a volume never talks to the cluster group again.
     */
    private synchronized RaftClient cluster() {
        checkOpen();
        if (cluster == null) {
            cluster = clients.newClient(ClusterIds.group(ClusterIds.CLUSTER_GROUP, clusterMembers), false);
        }
        return cluster;
    }

    /** The failure of a host name that does not resolve, as {@link #connect} documents it. */
    private static HoldfastException unresolvable(String host, Throwable cause) {
        UnknownHostException named = new UnknownHostException(host);
        named.initCause(cause);
        return new HoldfastException(Errno.EIO, "cannot resolve host " + host, named);
    }

    /** Why connecting failed, in words that point at the likely fix. */
    private static HoldfastException connectFailure(
            String host, String address, TransportSecurity security, IOException e) {
        StringBuilder causes = new StringBuilder();
        boolean tls = false;
        for (Throwable t = e; t != null && causes.length() < 1000; t = t.getCause()) {
            if (t instanceof UnknownHostException) {
                return unresolvable(host, e); // resolved before connecting, not now: no TLS hint for a DNS failure
            }
            String m = String.valueOf(t.getMessage());
            tls |= t instanceof SSLException || m.contains("ssl") || m.contains("SSL") || m.contains("certificate");
            if (t.getMessage() != null && causes.indexOf(m) < 0) {
                causes.append(causes.isEmpty() ? "" : "; ").append(m);
            }
        }
        String hint;
        if (Refusal.isConnectionLimit(e)) {
            hint = "the node refused the connection because of a connection limit";
        } else if (security.isPlaintext()) {
            hint = "this client speaks plaintext (--insecure); unless the node was started with --insecure it "
                    + "accepts only mutual TLS";
        } else if (tls && issuerProblem(security) != null) {
            hint = "the TLS handshake failed: " + issuerProblem(security)
                    + ", and the node accepts only certificates issued by its cluster CA";
        } else if (tls) {
            hint = "the TLS handshake failed: the node accepts only certificates issued by its cluster CA and not "
                    + "expired"
                    + " (this client presents " + security.tls().certFile()
                    + "; check it with 'holdfast doctor'), and this client"
                    + " trusts only nodes certified by "
                    + security.tls().directory().resolve("ca.crt")
                    + " (a node started with --insecure speaks plaintext and fails this way too)";
        } else {
            hint = "is the node running, and does it speak TLS (a node started with --insecure speaks plaintext)?";
        }
        return new HoldfastException(Errno.EIO, "cannot reach " + address + ": " + hint + " [" + causes + "]", e);
    }

    /** Why this client's certificate is not one its CA issued, or null if it is (or on plaintext). */
    private static String issuerProblem(TransportSecurity security) {
        try {
            if (!security.isPlaintext()) {
                security.tls().checkIssuedByCa();
            }
            return null;
        } catch (IOException e) {
            return e.getMessage();
        }
    }

    /**
     * Parses {@link #COMPRESSION_OPTION}: whether it asks for zstd.
     *
     * @throws IllegalArgumentException if it is neither {@code zstd} nor {@code none}
     */
    static boolean compression(Object option) {
        if (option == null || option.toString().equals("none")) {
            return false;
        }
        if (option.toString().equals("zstd")) {
            return true;
        }
        throw new IllegalArgumentException(COMPRESSION_OPTION + " must be zstd or none, got \"" + option + "\"");
    }

    /**
     * Whether this client's bulk reads (file contents, listings, change pages) travel
     * zstd-compressed: {@link #COMPRESSION_OPTION} asked for it and the node offered
     * {@code compression=zstd} in the handshake.
     */
    public boolean compressing() {
        return compress;
    }

    /**
     * Compressed replies received so far, over all volumes: how many, their zstd bytes and the bytes
     * they held. Thread-safe; zero unless {@link #compressing()}.
     */
    public CompressionStats compressionStats() {
        return new CompressionStats(compressed.replies.get(), compressed.wireBytes.get(), compressed.rawBytes.get());
    }

    /**
     * Compressed replies a client received.
     *
     * @param replies how many replies came compressed
     * @param wireBytes their zstd frames' bytes
     * @param rawBytes the bytes those frames held (the replies as they would have travelled plain)
     */
    public record CompressionStats(long replies, long wireBytes, long rawBytes) {}

    /** This client's hello: protocol {@link Codec#VERSION}, its features and requirements. */
    private static ClusterCommand.Hello hello(TransportSecurity security, Object require) {
        String identity = security.isPlaintext() ? "identity=none" : "identity=x509";
        List<String> required = new ArrayList<>(List.of("checksum=crc32c"));
        if (!security.isPlaintext()) {
            required.add(identity);
        }
        switch (require) {
            case null -> {}
            case String s ->
                Arrays.stream(s.split(","))
                        .map(String::trim)
                        .filter(f -> !f.isEmpty())
                        .forEach(required::add);
            case List<?> l -> l.forEach(f -> required.add(f.toString()));
            default ->
                throw new IllegalArgumentException(REQUIRE_OPTION + " must be a String or List, got "
                        + require.getClass().getName());
        }
        return new ClusterCommand.Hello(
                Codec.VERSION,
                Codec.VERSION,
                List.of("checksum=crc32c", "compression=none", Compression.FEATURE, identity),
                required,
                "");
    }

    /** Checks the node's answer to our hello; returns the node's hello. */
    private static ClusterCommand.Hello handshake(ClusterCommand.Hello mine, RaftClientReply reply, String address)
            throws HoldfastException {
        if (!(ClusterCommand.decode(clusterReply(reply, "node " + address)) instanceof ClusterCommand.Hello theirs)) {
            throw new ProtocolException(
                    Errno.EPROTO, "node " + address + " answered the handshake with something else");
        }
        String why = mine.incompatibility("client", theirs, "node " + address);
        if (why != null) {
            throw new ProtocolException(Errno.EPROTO, why);
        }
        return theirs;
    }

    /**
     * The node's side of the handshake when this client connected: its protocol versions,
     * features, and in {@link ClusterCommand.Hello#peer()} how it identified this client. Does not
     * block; answers after {@link #close} too.
     */
    public ClusterCommand.Hello welcome() {
        return welcome;
    }

    private static Message message(ClusterCommand c) {
        return Message.valueOf(ByteString.copyFrom(ClusterCommand.encode(c)));
    }

    private static ClusterMap decodeMap(RaftClientReply reply, String from) throws HoldfastException {
        return ClusterMap.decode(clusterReply(reply, "cluster group at " + from));
    }

    /**
     * The content of a cluster group's reply: a map or a hello. The group answers an error as a
     * Holdfast error frame ("HF"), thrown here as its exception.
     */
    private static byte[] clusterReply(RaftClientReply reply, String from) throws HoldfastException {
        if (!reply.isSuccess()) {
            throw new HoldfastException(Errno.EIO, from + " failed: " + reply.getException());
        }
        byte[] bytes = reply.getMessage().getContent().toByteArray();
        if (bytes.length >= 2 && bytes[0] == 'H' && bytes[1] == 'F') {
            Response r = Codec.decodeResponse(bytes);
            if (r instanceof Response.Error e) {
                throw e.toException();
            }
            throw new ProtocolException(Errno.EPROTO, "unexpected reply from " + from + ": " + r);
        }
        return bytes;
    }

    private static RaftClientReply await(CompletableFuture<RaftClientReply> f, Duration deadline, String what)
            throws HoldfastException {
        try {
            return f.get(deadline.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new HoldfastException(Errno.ETIMEDOUT, what + ": no answer within " + deadline.toMillis() + " ms", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new HoldfastException(Errno.EIO, what + ": interrupted", e);
        } catch (ExecutionException e) {
            Response refusal = Refusal.decode(e.getCause());
            if (refusal instanceof Response.Error err) {
                throw err.toException();
            }
            throw new HoldfastException(Errno.EIO, what + ": " + e.getCause().getMessage(), e.getCause());
        }
    }

    /** Pause between reads of the map while the cluster group elects a leader, in milliseconds. */
    private static final long ELECTION_RETRY_MILLIS = 200;

    /**
     * Reads the cluster map from the cluster group (linearizable) and caches it. Blocks up to the
     * deadline. While the cluster group elects a leader its members answer at once that the leader
     * is unknown; the read is then asked again every {@value #ELECTION_RETRY_MILLIS} ms until the
     * deadline.
     *
     * @throws HoldfastException if the cluster group does not answer within the deadline
     * @throws IllegalStateException if this client is closed
     */
    public ClusterMap refreshMap() throws HoldfastException {
        long end = System.nanoTime() + deadline.toNanos();
        while (true) {
            Duration left = Duration.ofNanos(Math.max(0, end - System.nanoTime()));
            try {
                ClusterMap m = decodeMap(
                        await(
                                cluster().async().sendReadOnly(message(new ClusterCommand.GetMap())),
                                left,
                                "cluster map"),
                        "cluster group");
                map = m;
                return m;
            } catch (HoldfastException e) {
                boolean election = e.errno() == Errno.EIO && e.getCause() instanceof RaftException;
                if (!election || left.toMillis() <= ELECTION_RETRY_MILLIS) {
                    throw e;
                }
                try {
                    Thread.sleep(ELECTION_RETRY_MILLIS); // a back-off between tries, not a synchronisation
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    /**
     * The cached cluster map: the latest one this client read ({@link #refreshMap()}, connecting)
     * or changed ({@link #admin()}). Does not block.
     */
    public ClusterMap map() {
        return map;
    }

    /**
     * Proposes a command to the cluster group and caches the map it answers with (for
     * {@link ClusterAdmin}). Blocks up to the deadline.
     *
     * @param what names the change in error messages
     * @throws HoldfastException the cluster group's refusal (as {@link ClusterCommand} says), or
     *     {@link Errno#ETIMEDOUT} if it does not answer within the deadline
     */
    ClusterMap propose(ClusterCommand command, String what) throws HoldfastException {
        ClusterMap after = decodeMap(await(cluster().async().send(message(command)), deadline, what), "cluster group");
        map = after;
        return after;
    }

    /**
     * Opens a volume of this cluster. The service is shared and closed with this client. Reads the
     * map again (blocking up to the deadline) only if the cached one does not name the volume.
     *
     * @throws HoldfastException {@link Errno#ENOENT} if there is no such volume
     * @throws IllegalStateException if this client is closed
     */
    public synchronized VolumeService volume(String name) throws HoldfastException {
        RaftVolumeService v = raftVolume(name);
        return compress ? compressing.computeIfAbsent(v, x -> new CompressingVolumeService(x, compressed)) : v;
    }

    /** {@link #volume} as the class it is, for the per-member reads of {@link MemberProbe}. */
    synchronized RaftVolumeService raftVolume(String name) throws HoldfastException {
        checkOpen();
        RaftVolumeService existing = volumes.get(name);
        if (existing != null) {
            return existing;
        }
        ClusterMap.Volume v = knownVolume(name);
        RaftGroup group = ClusterIds.group(RaftGroupId.valueOf(Placement.onlyGroup(v)), v.replicas());
        RaftVolumeService s = new RaftVolumeService(
                name,
                () -> clients.newClient(group, false),
                clients.newClient(group, true),
                () -> clients.withRequestTimeout(deadline).newClient(group, true),
                new ArrayList<>(group.getPeers()),
                deadline,
                !shortLived,
                () -> map().featureLevel(v.replicas()));
        volumes.put(name, s);
        return s;
    }

    /**
     * The volume as the cached map names it, or as a fresh map does if the cached one does not.
     *
     * @throws HoldfastException {@link Errno#ENOENT} if there is no such volume
     * @throws IllegalStateException if this client is closed
     */
    synchronized ClusterMap.Volume knownVolume(String name) throws HoldfastException {
        checkOpen();
        ClusterMap.Volume v = map.volume(name).orElse(null);
        if (v == null) {
            v = refreshMap()
                    .volume(name)
                    .orElseThrow(() -> new HoldfastException(
                            Errno.ENOENT,
                            "no volume " + name + "; volumes are "
                                    + map.volumes().keySet()));
        }
        return v;
    }

    /**
     * Sets aside the service of a volume whose members changed: callers may still hold it, so it
     * is closed with this client; the next {@link #volume} opens one for the new members.
     */
    synchronized void retire(String volume) {
        RaftVolumeService stale = volumes.remove(volume);
        if (stale != null) {
            retired.add(stale);
        }
    }

    /**
     * Cluster administration through this client's connections: volumes, export ACLs, nodes and
     * replica replacement. The same object on every call; it fails with
     * {@link IllegalStateException} once this client is closed. Does not block.
     */
    public ClusterAdmin admin() {
        return admin;
    }

    /**
     * Per-member diagnostics through this client's connections: state digests, Raft group info,
     * node probes and queries addressed to one member. The same object on every call. Does not
     * block.
     */
    public MemberProbe probe() {
        return probe;
    }

    /** The per-request deadline (option {@code holdfast.deadline}). */
    Duration deadline() {
        return deadline;
    }

    /** The factory of this client's Raft clients (its TLS identity and Raft settings). */
    RaftClients clients() {
        return clients;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("client is closed");
        }
    }

    private static Duration duration(Object v, Duration dflt) {
        if (v == null) {
            return dflt;
        }
        if (v instanceof Duration d) {
            return d;
        }
        if (v instanceof Number n) {
            return Duration.ofMillis(n.longValue());
        }
        if (v instanceof String s) {
            return Duration.ofMillis(Long.parseLong(s.trim()));
        }
        throw new IllegalArgumentException("holdfast.deadline must be a Duration or milliseconds, got "
                + v.getClass().getName());
    }

    /** Closes every volume service and the cluster connection. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        volumes.values().forEach(RaftVolumeService::close);
        volumes.clear();
        retired.forEach(RaftVolumeService::close);
        retired.clear();
        if (cluster != null) {
            RaftClients.closeQuietly(cluster);
        }
    }
}
