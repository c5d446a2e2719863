package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.client.HoldfastClient;
import io.holdfast.common.Caller;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Placement;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.testing.TestSeed;
import io.holdfast.transport.ClusterIds;
import io.holdfast.transport.Role;
import io.holdfast.transport.TlsFiles;
import io.holdfast.transport.TransportSecurity;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile traffic against every listening port of running nodes: random bytes, truncated and
 * oversized TLS records, garbage HTTP/2 frames from an authenticated client, random Raft
 * messages from the admin, and slow-loris connections. Afterwards every node still serves and
 * the volume's state digest is unchanged. Then connection limits: past them a client gets a
 * clear error, and the limit frees up when connections close.
 */
class HostileNetworkIT {
    @TempDir
    Path root;

    @Test
    void garbageOnEveryPortChangesNothingAndTheNodesKeepServing() throws Exception {
        try (MiniCluster cluster = MiniCluster.start(root, 3, 100_000)) {
            VolumeService v = cluster.createVolume("vol", 0, 1, 2);
            for (int i = 0; i < 20; i++) {
                assertThat(v.submit(new Request.Mkdir(Caller.ROOT, "/d" + i, 0755))
                                .join())
                        .isInstanceOf(Response.AttrReply.class);
            }
            Response.Digest before = cluster.awaitConvergence("vol", Duration.ofSeconds(30));
            long seed = TestSeed.seed();
            Random random = new Random(seed);
            List<Socket> slow = new ArrayList<>();
            int sent = 0;
            int trickled = 0;
            try {
                for (String address : cluster.addresses()) {
                    InetSocketAddress node = socketAddress(address);
                    // slow-loris: connections that trickle a TLS handshake one byte at a time, held open
                    // while everything else happens
                    for (int i = 0; i < 30; i++) {
                        Socket s = new Socket();
                        s.connect(node, 5_000);
                        s.getOutputStream().write(SLOW_PREFIX[0]);
                        slow.add(s);
                    }
                    for (int i = 0; i < 100; i++) {
                        sent += rawSend(node, randomBytes(random, 1 + random.nextInt(i < 90 ? 4096 : 256 * 1024)));
                    }
                    byte[] hello = tlsRecordHeader(0x16, 512);
                    sent += rawSend(node, concat(hello, randomBytes(random, 100))); // truncated record
                    sent += rawSend(
                            node,
                            concat(tlsRecordHeader(0x16, 0xffff), randomBytes(random, 64))); // oversized record length
                    sent += rawSend(
                            node,
                            concat(
                                    tlsRecordHeader(0x17, 0xffff),
                                    randomBytes(random, 20000))); // application data before a handshake
                    sent += rawSend(
                            node,
                            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII)); // plaintext HTTP/2
                    sent += authenticatedGarbage(cluster, node, random);
                    trickled++;
                    for (Socket s : slow) {
                        trickle(s, trickled);
                    }
                }
                sent += randomRaftMessages(cluster, random);
                // the nodes serve normal clients while the slow connections are still open
                assertThat(v.query(new Request.GetAttr("/d7", true)).join()).isInstanceOf(Response.AttrReply.class);
                try (HoldfastClient fresh = HoldfastClient.connect(
                        "127.0.0.1", socketAddress(cluster.addresses().get(2)).getPort(), cluster.clientEnv())) {
                    assertThat(fresh.volume("vol")
                                    .query(new Request.ReadDir("/", "", 100))
                                    .join())
                            .isInstanceOf(Response.DirPage.class);
                }
                // a connection that never finishes its TLS handshake is closed by the node (Netty's
                // 10 s handshake timeout), so slow-loris cannot pin connections forever
                Socket probe = slow.getFirst();
                probe.setSoTimeout(30_000);
                assertThat(readUntilClosed(probe.getInputStream())).isTrue();
            } finally {
                for (Socket s : slow) {
                    s.close();
                }
            }
            Response.Digest after = cluster.awaitConvergence("vol", Duration.ofSeconds(30));
            System.out.printf(
                    "hostile traffic: %d bytes sent to %d nodes, seed %d; digest before %s after %s%n",
                    sent,
                    cluster.addresses().size(),
                    seed,
                    before.hex().substring(0, 16),
                    after.hex().substring(0, 16));
            assertThat(after).isEqualTo(before);
            for (int i = 0; i < 3; i++) {
                var stats = cluster.node(i).connectionStats();
                System.out.println("node " + cluster.addresses().get(i) + ": " + stats);
            }
            assertThat(v.submit(new Request.Mkdir(Caller.ROOT, "/still-writable", 0755))
                            .join())
                    .isInstanceOf(Response.AttrReply.class);
        }
    }

    /** A TLS handshake record header claiming a 512-byte ClientHello, sent one byte at a time. */
    private static final byte[] SLOW_PREFIX = {0x16, 3, 1, 2, 0, 1, 0, 1, (byte) 0xfc, 3, 3};

    /** Sends the next byte of a slow handshake; a connection the node closed stays closed. */
    private static void trickle(Socket s, int step) {
        try {
            s.getOutputStream().write(SLOW_PREFIX[Math.min(step, SLOW_PREFIX.length - 1)]);
        } catch (IOException e) {
            // closed by the node: fine
        }
    }

    /** Garbage from a client with a valid certificate: after the HTTP/2 preface, random and oversized frames. */
    private static int authenticatedGarbage(MiniCluster cluster, InetSocketAddress node, Random random)
            throws Exception {
        TlsFiles admin = TlsFiles.load(root(cluster).resolve("tls-admin"), "client");
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("ca", cluster.ca().certificate());
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLSv1.3");
        ctx.init(new KeyManager[] {admin.keyManager()}, tmf.getTrustManagers(), null);
        int sent = 0;
        for (int i = 0; i < 20; i++) {
            try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(node.getAddress(), node.getPort())) {
                s.setSoTimeout(5_000);
                SSLParameters p = s.getSSLParameters();
                p.setApplicationProtocols(new String[] {"h2"});
                s.setSSLParameters(p);
                s.startHandshake();
                OutputStream out = s.getOutputStream();
                byte[] preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
                out.write(preface);
                byte[] frames = switch (i % 4) {
                    case 0 -> randomBytes(random, 1 + random.nextInt(8192));
                    case 1 ->
                        concat(
                                new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, 0, 0, 0, 0, 0, 1},
                                randomBytes(random, 1000)); // 16 MiB DATA frame claim
                    case 2 ->
                        concat(
                                new byte[] {0, 0x40, 0, 1, 4, 0, 0, 0, 1},
                                randomBytes(random, 0x4000)); // HEADERS with random HPACK
                    default ->
                        concat(
                                new byte[] {0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 5, 0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff
                                },
                                randomBytes(random, 64)); // SETTINGS max frame size 2^31-1
                };
                out.write(frames);
                out.flush();
                sent += preface.length + frames.length;
                readUntilClosed(s.getInputStream());
            } catch (IOException e) {
                // the node closing the connection on us is the expected outcome
            }
        }
        return sent;
    }

    /** Random payloads sent as Raft client requests (writes and reads) by the admin: refused, never applied. */
    private static int randomRaftMessages(MiniCluster cluster, Random random) throws Exception {
        ClusterMap.Volume vol = cluster.map().volume("vol").orElseThrow();
        TransportSecurity admin = cluster.adminSecurity();
        int sent = 0;
        int refused = 0;
        for (RaftGroupId group : List.of(RaftGroupId.valueOf(Placement.onlyGroup(vol)), ClusterIds.CLUSTER_GROUP)) {
            try (RaftClient raw = RaftClient.newBuilder()
                    .setProperties(new RaftProperties())
                    .setParameters(admin.parameters())
                    .setRaftGroup(ClusterIds.group(group, cluster.addresses()))
                    .setRetryPolicy(RetryPolicies.noRetry())
                    .build()) {
                for (int i = 0; i < 100; i++) {
                    byte[] payload = randomBytes(random, random.nextInt(2048));
                    if (i % 3 == 0 && payload.length > 4) {
                        payload[0] = 'H'; // plausible magic, random rest
                        payload[1] = group.equals(ClusterIds.CLUSTER_GROUP) ? (byte) 'C' : (byte) 'F';
                        payload[2] = 1;
                    }
                    sent += payload.length;
                    try {
                        RaftClientReply reply = i % 2 == 0
                                ? raw.io().send(Message.valueOf(ByteString.copyFrom(payload)))
                                : raw.io().sendReadOnly(Message.valueOf(ByteString.copyFrom(payload)));
                        if (!reply.isSuccess()
                                || reply.getMessage().getContent().startsWith(ByteString.copyFromUtf8("HF"))) {
                            refused++;
                        }
                    } catch (IOException e) {
                        refused++;
                    }
                }
            }
        }
        System.out.println("random Raft messages: " + refused + " of 200 refused or answered with an error frame");
        assertThat(refused).isEqualTo(200);
        return sent;
    }

    @Test
    void connectionLimitsGiveAClearErrorAndFreeUpOnClose() throws Exception {
        try (MiniCluster cluster = MiniCluster.start(root, 1, 100_000)) {
            cluster.tweakSecurity(s -> s.withLimits(3, 12));
            cluster.restart(0);
            Path greedy = cluster.issueClient("greedy", Role.CLIENT);
            int port = socketAddress(cluster.addresses().getFirst()).getPort();
            List<HoldfastClient> open = new ArrayList<>();
            HoldfastException refusal = null;
            try {
                for (int i = 0; i < 10 && refusal == null; i++) {
                    try {
                        open.add(MiniCluster.awaitValue(
                                Duration.ofSeconds(30),
                                () -> {
                                    try {
                                        HoldfastClient c =
                                                HoldfastClient.connect("127.0.0.1", port, cluster.clientEnv(greedy));
                                        c.refreshMap(); // holds a connection open from now on
                                        return Optional.of(c);
                                    } catch (HoldfastException e) {
                                        if (e.getMessage().contains("limit")) {
                                            throw new LimitReached(e);
                                        }
                                        return Optional.empty(); // still electing a leader
                                    }
                                },
                                "client " + i + " connects"));
                    } catch (LimitReached e) {
                        refusal = e.cause;
                    }
                }
                assertThat(open).as("the first client connects").isNotEmpty();
                assertThat(refusal).as("a client past the limit is refused").isNotNull();
                System.out.println(
                        "per-client limit: " + open.size() + " client(s) connected, then: " + refusal.getMessage());
                assertThat(refusal.getMessage())
                        .contains("per-client limit of 3")
                        .contains("greedy");
                // another identity is not affected by greedy's connections
                try (HoldfastClient other = HoldfastClient.connect("127.0.0.1", port, cluster.clientEnv())) {
                    assertThat(other.welcome().peer()).contains("admin");
                }
            } finally {
                open.forEach(HoldfastClient::close);
            }
            MiniCluster.await(
                    Duration.ofSeconds(30),
                    () -> cluster.node(0).connectionStats().open() == 0,
                    "connections close");
            try (HoldfastClient again = HoldfastClient.connect("127.0.0.1", port, cluster.clientEnv(greedy))) {
                assertThat(again.welcome().peer()).contains("greedy");
            }
            // the total limit: many identities, each within its own limit
            List<HoldfastClient> many = new ArrayList<>();
            HoldfastException total = null;
            try {
                for (int i = 0; i < 20 && total == null; i++) {
                    try {
                        HoldfastClient c = HoldfastClient.connect(
                                "127.0.0.1", port, cluster.clientEnv(cluster.issueClient("c" + i, Role.ADMIN)));
                        many.add(c);
                        c.refreshMap(); // holds a connection open from now on
                    } catch (HoldfastException e) {
                        total = e;
                    }
                }
            } finally {
                many.forEach(HoldfastClient::close);
            }
            assertThat(total)
                    .as("a connection past the node's total limit is refused")
                    .isNotNull();
            System.out.println("total limit: " + many.size() + " client(s) connected, then: " + total.getMessage());
            assertThat(total.getMessage()).contains("more than its limit of 12");
        }
    }

    private static final class LimitReached extends RuntimeException {
        final HoldfastException cause;

        LimitReached(HoldfastException cause) {
            super(cause);
            this.cause = cause;
        }
    }

    private static Path root(MiniCluster cluster) {
        return cluster.dataDir(0).getParent();
    }

    private static InetSocketAddress socketAddress(String address) {
        int colon = address.lastIndexOf(':');
        return new InetSocketAddress(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)));
    }

    /** Connects, writes {@code bytes}, reads whatever comes back until the node closes or 2 s pass. */
    private static int rawSend(InetSocketAddress node, byte[] bytes) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(node, 5_000);
            s.setSoTimeout(2_000);
            try {
                s.getOutputStream().write(bytes);
                s.getOutputStream().flush();
                readUntilClosed(s.getInputStream());
            } catch (IOException e) {
                // reset by the node: fine
            }
        }
        return bytes.length;
    }

    /** Reads until end of stream; true if the peer closed, false on timeout. */
    private static boolean readUntilClosed(InputStream in) {
        byte[] buf = new byte[8192];
        try {
            while (in.read(buf) >= 0) {
                // discard
            }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // reset
        }
    }

    private static byte[] tlsRecordHeader(int type, int length) {
        return new byte[] {(byte) type, 3, 3, (byte) (length >>> 8), (byte) length};
    }

    private static byte[] randomBytes(Random random, int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
