package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.client.HoldfastClient;
import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Access;
import io.holdfast.protocol.AclRule;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.server.CertificateAuthority;
import io.holdfast.transport.Role;
import io.holdfast.transport.TlsFiles;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Secure by default, against a real three-node cluster with mutual TLS: who is refused
 * (plaintext, unknown CA, expired certificate, no ACL), what a read-only export allows, how
 * fast an ACL change reaches an open session, certificate rotation, and the handshake. Every
 * refusal is followed by a check that the volume's state digest did not change.
 */
class SecurityIT {
    @TempDir
    static Path root;

    private static MiniCluster cluster;
    private static HoldfastClient admin;

    @BeforeAll
    static void start() throws IOException {
        cluster = MiniCluster.start(root, 3, 100_000);
        cluster.createVolume("vol", 0, 1, 2);
        admin = cluster.client();
        VolumeService v = admin.volume("vol");
        ok(v.submit(new Request.Mkdir(Caller.ROOT, "/existing", 0755)));
        ok(v.submit(new Request.Create(Caller.ROOT, "/existing/file", 0644, true)));
    }

    @AfterAll
    static void stop() throws IOException {
        if (cluster != null) {
            cluster.close();
        }
    }

    private static Response ok(CompletableFuture<Response> f) {
        Response r = f.join();
        assertThat(r).isNotInstanceOf(Response.Error.class);
        return r;
    }

    private static HoldfastClient connect(Map<String, Object> env) throws HoldfastException {
        String a = cluster.addresses().getFirst();
        env.put("holdfast.deadline", Duration.ofSeconds(10));
        return HoldfastClient.connect("127.0.0.1", Integer.parseInt(a.substring(a.indexOf(':') + 1)), env);
    }

    private static Response.Digest digest() throws IOException {
        return cluster.awaitConvergence("vol", Duration.ofSeconds(30));
    }

    @Test
    void plaintextClientIsRefused() throws IOException {
        Response.Digest before = digest();
        assertThatThrownBy(() -> connect(cluster.clientEnv(null)))
                .isInstanceOf(HoldfastException.class)
                .satisfies(e -> System.out.println("plaintext client refused: " + e.getMessage()));
        assertThat(digest()).isEqualTo(before);
    }

    @Test
    void clientOfAnotherCaIsRefused() throws Exception {
        Response.Digest before = digest();
        CertificateAuthority other = CertificateAuthority.create(root.resolve("other-ca"), "intruder");
        Path dir = root.resolve("intruder-tls");
        other.issue("admin", Role.ADMIN, List.of()).writeTo(dir);
        assertThatThrownBy(() -> connect(cluster.clientEnv(dir)))
                .isInstanceOf(HoldfastException.class)
                .satisfies(e -> System.out.println("unknown-CA client refused: " + e.getMessage()));
        // the node itself refuses it, even from a client that trusts the node
        assertThat(nodeAccepts(TlsFiles.load(dir, "client").keyManager())).isFalse();
        assertThat(digest()).isEqualTo(before);
    }

    @Test
    void expiredCertificateIsRefused() throws Exception {
        Response.Digest before = digest();
        Path dir = root.resolve("expired-tls");
        Instant past = Instant.now().minus(Duration.ofDays(30));
        cluster.ca()
                .issue("admin", Role.ADMIN, List.of(), past, past.plus(Duration.ofDays(1)))
                .writeTo(dir);
        assertThatThrownBy(() -> connect(cluster.clientEnv(dir)))
                .isInstanceOf(HoldfastException.class)
                .satisfies(e -> System.out.println("expired client refused: " + e.getMessage()));
        assertThat(nodeAccepts(TlsFiles.load(dir, "client").keyManager())).isFalse();
        assertThat(digest()).isEqualTo(before);
    }

    @Test
    void clientWithoutCertificateIsRefusedByTls() throws Exception {
        Response.Digest before = digest();
        assertThat(nodeAccepts(
                        TlsFiles.load(root.resolve("tls-admin"), "client").keyManager()))
                .as("control: the admin is accepted")
                .isTrue();
        assertThat(nodeAccepts(null)).isFalse();
        assertThat(digest()).isEqualTo(before);
    }

    /**
     * Opens a raw TLS 1.3 connection to node 0 that trusts the cluster CA and presents
     * {@code keyManager}'s certificate (none if null), sends the HTTP/2 preface and reads: a node
     * that accepted the client answers with its SETTINGS frame; a refusal shows as an alert
     * (TLS 1.3 reports a rejected client certificate after the client's handshake finished) or
     * a closed connection.
     */
    private static boolean nodeAccepts(KeyManager keyManager) throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLSv1.3");
        ctx.init(
                keyManager == null ? null : new KeyManager[] {keyManager},
                new TrustManager[] {trustCa(new AtomicReference<>())},
                null);
        String a = cluster.addresses().getFirst();
        try (SSLSocket s = (SSLSocket)
                ctx.getSocketFactory().createSocket("127.0.0.1", Integer.parseInt(a.substring(a.indexOf(':') + 1)))) {
            s.setSoTimeout(10_000);
            s.setEnabledProtocols(new String[] {"TLSv1.3"});
            SSLParameters params = s.getSSLParameters();
            params.setApplicationProtocols(new String[] {"h2"});
            s.setSSLParameters(params);
            s.startHandshake();
            s.getOutputStream().write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0}); // empty SETTINGS
            s.getOutputStream().flush();
            boolean answered = s.getInputStream().read() >= 0;
            System.out.println("raw TLS client " + (keyManager == null ? "without certificate" : "with a certificate")
                    + (answered ? ": accepted" : ": connection closed by the node"));
            return answered;
        } catch (IOException e) {
            System.out.println("raw TLS client " + (keyManager == null ? "without certificate" : "with a certificate")
                    + ": refused: " + e);
            return false;
        }
    }

    @Test
    void clientWithoutAclRuleGetsNothing() throws IOException {
        Response.Digest before = digest();
        Path dir = cluster.issueClient("mallory", Role.CLIENT);
        try (HoldfastClient mallory = connect(cluster.clientEnv(dir))) {
            assertThat(mallory.welcome().peer()).contains("mallory");
            VolumeService v = mallory.volume("vol");
            assertError(v.query(new Request.GetAttr("/existing", true)).join(), Errno.EACCES);
            assertError(
                    v.submit(new Request.Mkdir(Caller.ROOT, "/mallory", 0755)).join(), Errno.EACCES);
            assertThatThrownBy(() -> mallory.admin().createVolume("stolen", cluster.addresses()))
                    .isInstanceOf(HoldfastException.class)
                    .hasMessageContaining("admin");
            assertThatThrownBy(() -> mallory.admin().addAclRule("vol", new AclRule("mallory", "*", Access.READ_WRITE)))
                    .isInstanceOf(HoldfastException.class)
                    .hasMessageContaining("admin");
            assertThat(mallory.refreshMap().volume("vol").orElseThrow().acl())
                    .as("ACLs are not shown to clients")
                    .isEmpty();
        }
        assertThat(admin.refreshMap().volumes()).doesNotContainKey("stolen");
        assertThat(digest()).isEqualTo(before);
    }

    /**
     * Waits until every node has applied the cluster map as it is now: each node checks a request
     * against its own applied map, a moment after the change commits (on a busy machine, a request
     * let in by one node could otherwise be refused by the next).
     */
    private static void awaitMapEverywhere() throws HoldfastException {
        long epoch = admin.refreshMap().epoch();
        MiniCluster.await(
                Duration.ofSeconds(30),
                () -> IntStream.range(0, 3).allMatch(i -> {
                    var known = cluster.node(i).knownMap();
                    return known != null && known.epoch() >= epoch;
                }),
                "every node applied the map of epoch " + epoch);
    }

    @Test
    void readOnlyExportRefusesEveryWritePath() throws IOException {
        Path dir = cluster.issueClient("reader", Role.CLIENT);
        admin.admin().addAclRule("vol", new AclRule("read*", "127.0.0.0/8", Access.READ_ONLY));
        awaitMapEverywhere();
        Response.Digest before = digest();
        try (HoldfastClient reader = connect(cluster.clientEnv(dir))) {
            VolumeService v = reader.volume("vol");
            // each node enforces the rule once it has applied it (milliseconds after it commits)
            Response.AttrReply attr = MiniCluster.awaitValue(
                    Duration.ofSeconds(1),
                    () -> v.query(new Request.GetAttr("/existing/file", true)).join() instanceof Response.AttrReply a
                            ? Optional.of(a)
                            : Optional.empty(),
                    "the reader's grant is in force");
            assertThat(v.query(new Request.ReadDir("/existing", "", 100)).join())
                    .isNotInstanceOf(Response.Error.class);
            long inode = attr.attr().inode();
            assertThat(((Response.FsStats) v.query(new Request.StatFs()).join()).readOnly())
                    .as("statvfs ST_RDONLY for the reader")
                    .isTrue();
            assertThat(((Response.FsStats) admin.volume("vol")
                                    .query(new Request.StatFs())
                                    .join())
                            .readOnly())
                    .isFalse();
            byte[] data = "x".getBytes(StandardCharsets.UTF_8);
            List<Request.Mutation> writes = List.of(
                    new Request.Mkdir(Caller.ROOT, "/ro-dir", 0755),
                    new Request.Create(Caller.ROOT, "/ro-file", 0644, true),
                    new Request.Write(Caller.ROOT, inode, 0, data, Checksums.crc32c(data)),
                    new Request.Truncate(Caller.ROOT, inode, 0),
                    new Request.Unlink(Caller.ROOT, "/existing/file", false),
                    new Request.Rmdir(Caller.ROOT, "/existing"),
                    new Request.Rename(Caller.ROOT, "/existing/file", "/moved", 0),
                    new Request.Symlink(Caller.ROOT, "/ro-link", "/existing"),
                    new Request.Link(Caller.ROOT, "/existing/file", "/ro-hard"),
                    new Request.SetAttr(Caller.ROOT, "/existing/file", Request.SetAttr.MODE, 0777, 0, 0, 0, 0),
                    new Request.SetXattr(Caller.ROOT, "/existing/file", "user.x", data, 0),
                    new Request.RemoveXattr(Caller.ROOT, "/existing/file", "user.x"),
                    new Request.DropOrphan(Caller.ROOT, inode));
            for (Request.Mutation m : writes) {
                assertError(v.submit(m).join(), Errno.EROFS);
            }
        } finally {
            admin.admin().removeAclRule("vol", new AclRule("read*", "127.0.0.0/8", Access.READ_ONLY));
        }
        assertThat(digest()).isEqualTo(before);
    }

    @Test
    void networkOutsideTheRuleGetsNothing() throws IOException {
        Path dir = cluster.issueClient("remote", Role.CLIENT);
        AclRule elsewhere = new AclRule("remote", "10.0.0.0/8", Access.READ_WRITE);
        admin.admin().addAclRule("vol", elsewhere);
        try (HoldfastClient remote = connect(cluster.clientEnv(dir))) {
            assertError(
                    remote.volume("vol").query(new Request.GetAttr("/", true)).join(), Errno.EACCES);
        } finally {
            admin.admin().removeAclRule("vol", elsewhere);
        }
    }

    @Test
    void aclChangeReachesAnOpenSessionWithinASecond() throws IOException {
        Path dir = cluster.issueClient("writer", Role.CLIENT);
        AclRule rw = new AclRule("writer", "*", Access.READ_WRITE);
        AclRule ro = new AclRule("writer", "*", Access.READ_ONLY);
        admin.admin().addAclRule("vol", rw);
        awaitMapEverywhere();
        try (HoldfastClient writer = connect(cluster.clientEnv(dir))) {
            VolumeService v = writer.volume("vol");
            MiniCluster.await(
                    Duration.ofSeconds(10),
                    () -> v.submit(new Request.Mkdir(Caller.ROOT, "/w1", 0755)).join() instanceof Response.AttrReply,
                    "the writer's grant is in force");
            // downgrade: ro first, then drop rw, so the session never passes through "none"
            admin.admin().addAclRule("vol", ro);
            admin.admin().removeAclRule("vol", rw);
            long changed = System.nanoTime();
            int attempt = 0;
            Response r;
            do {
                r = v.submit(new Request.Mkdir(Caller.ROOT, "/w-after-" + attempt++, 0755))
                        .join();
            } while (!(r instanceof Response.Error) && System.nanoTime() - changed < TimeUnit.SECONDS.toNanos(1));
            long tookMs = (System.nanoTime() - changed) / 1_000_000;
            System.out.println(
                    "ACL downgrade reached the open session after " + tookMs + " ms, " + attempt + " request(s)");
            assertError(r, Errno.EROFS);
            assertThat(tookMs).isLessThan(1000);
            // reads still work under ro
            assertThat(v.query(new Request.GetAttr("/w1", true)).join()).isInstanceOf(Response.AttrReply.class);
        } finally {
            admin.admin().removeAclRule("vol", ro);
        }
    }

    @Test
    void nodeKeepsServingAcrossACertificateSwap() throws Exception {
        Path nodeTls = cluster.dataDir(0).resolve("tls");
        AtomicReference<X509Certificate> seen = new AtomicReference<>();
        BigInteger before = presentedSerial(seen);
        try (HoldfastClient session = connect(cluster.clientEnv())) {
            VolumeService v = session.volume("vol");
            ok(v.submit(new Request.Mkdir(Caller.ROOT, "/rotate-1", 0755)));
            CertificateAuthority.Issued fresh =
                    cluster.ca().issue(cluster.addresses().getFirst(), Role.NODE, List.of("127.0.0.1"));
            fresh.writeTo(nodeTls);
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(nodeTls.resolve("node.key"))))
                    .isEqualTo("rw-------");
            // new connections get the new certificate once the node re-reads the files (at most a second)
            MiniCluster.await(
                    Duration.ofSeconds(10),
                    () -> {
                        try {
                            return presentedSerial(seen)
                                    .equals(fresh.certificate().getSerialNumber());
                        } catch (Exception e) {
                            return false;
                        }
                    },
                    "node presents the new certificate");
            assertThat(before).isNotEqualTo(fresh.certificate().getSerialNumber());
            // the existing session and new sessions both keep working
            ok(v.submit(new Request.Mkdir(Caller.ROOT, "/rotate-2", 0755)));
            try (HoldfastClient after = connect(cluster.clientEnv())) {
                assertThat(after.volume("vol")
                                .query(new Request.GetAttr("/rotate-2", true))
                                .join())
                        .isInstanceOf(Response.AttrReply.class);
            }
        }
    }

    /** Connects with the admin certificate and returns the serial of the certificate node 0 presents. */
    private static BigInteger presentedSerial(AtomicReference<X509Certificate> seen) throws Exception {
        TlsFiles admin = TlsFiles.load(root.resolve("tls-admin"), "client");
        SSLContext ctx = SSLContext.getInstance("TLSv1.3");
        ctx.init(new KeyManager[] {admin.keyManager()}, new TrustManager[] {trustCa(seen)}, null);
        String a = cluster.addresses().getFirst();
        try (SSLSocket s = (SSLSocket)
                ctx.getSocketFactory().createSocket("127.0.0.1", Integer.parseInt(a.substring(a.indexOf(':') + 1)))) {
            s.setSoTimeout(10_000);
            s.startHandshake();
        }
        return seen.get().getSerialNumber();
    }

    private static X509TrustManager trustCa(AtomicReference<X509Certificate> seen) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("ca", cluster.ca().certificate());
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(ks);
        X509TrustManager real = (X509TrustManager) tmf.getTrustManagers()[0];
        return new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                real.checkClientTrusted(chain, authType);
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                real.checkServerTrusted(chain, authType);
                seen.set(chain[0]);
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return real.getAcceptedIssuers();
            }
        };
    }

    @Test
    void handshakeRefusesAMissingRequiredFeature() {
        Map<String, Object> env = cluster.clientEnv();
        env.put(HoldfastClient.REQUIRE_OPTION, "compression=lz4");
        assertThatThrownBy(() -> connect(env))
                .isInstanceOf(HoldfastException.class)
                .hasMessageContaining("compression=lz4")
                .hasMessageContaining("node 127.0.0.1:")
                .satisfies(e -> assertThat(((HoldfastException) e).errno()).isEqualTo(Errno.EPROTO))
                .satisfies(e -> System.out.println("handshake refused: " + e.getMessage()));
    }

    @Test
    void handshakeReportsTheIdentityTheNodeSaw() throws IOException {
        assertThat(admin.welcome().features()).contains("checksum=crc32c", "identity=x509");
        assertThat(admin.welcome().peer()).contains("admin").contains("127.0.0.1");
    }

    @Test
    void keyFilesAreWrittenPrivate() throws IOException {
        List<Path> keys = new ArrayList<>();
        try (var s = Files.walk(root)) {
            s.filter(p -> p.getFileName().toString().endsWith(".key")).forEach(keys::add);
        }
        assertThat(keys).isNotEmpty();
        for (Path k : keys) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(k)))
                    .as(k.toString())
                    .isEqualTo("rw-------");
        }
    }

    private static void assertError(Response r, Errno errno) {
        assertThat(r).isInstanceOf(Response.Error.class);
        assertThat(((Response.Error) r).errno()).as(String.valueOf(r)).isEqualTo(errno);
    }
}
