package io.holdfast.nbd;

import static io.holdfast.nbd.NbdToolsTest.installed;
import static io.holdfast.nbd.NbdToolsTest.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.server.CertificateAuthority;
import io.holdfast.transport.Peer;
import io.holdfast.transport.Role;
import io.holdfast.transport.TlsFiles;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * NBD_OPT_STARTTLS ("The NBD protocol", section "TLS support") with real Holdfast certificates:
 * libnbd's {@code nbdinfo} and {@code nbdcopy} over {@code nbds://} with x509 certificates in the
 * layout libnbd reads (ca-cert.pem, client-cert.pem, client-key.pem), plus a hand-written client
 * for what libnbd would never send. The gateway presents a node certificate for 127.0.0.1 and
 * requires a client certificate from the same CA.
 */
class NbdTlsTest {
    private static final int SIZE = 4 << 20;

    @TempDir
    Path dir;

    private CertificateAuthority ca;
    private TlsFiles gateway;
    /** libnbd's certificate directory for a client of the cluster CA. */
    private Path client;

    private NbdServer server;

    @BeforeEach
    void certificates() throws IOException, InterruptedException {
        assumeTrue(installed("openssl"), "openssl is not installed (it converts keys for libnbd)");
        Files.createDirectories(dir.resolve("exports"));
        Files.write(dir.resolve("exports/disk"), new byte[SIZE]);
        ca = CertificateAuthority.create(dir.resolve("ca"), "nbd-test");
        ca.issue("127.0.0.1:10809", Role.NODE, List.of("127.0.0.1", "localhost"))
                .writeTo(dir.resolve("gateway"));
        gateway = TlsFiles.load(dir.resolve("gateway"), "node");
        client = libnbdDirectory(ca, "alice", dir.resolve("alice"));
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    /**
     * Issues a client certificate from {@code issuer} into {@code out} with the names libnbd
     * (and qemu's x509 credentials) read, as the README says to: the key goes through
     * {@code openssl ec}, because GnuTLS cannot read the PKCS#8 EC key Holdfast writes (it lacks
     * the optional public key: "ASN1 parser: Element was not found").
     */
    static Path libnbdDirectory(CertificateAuthority issuer, String name, Path out)
            throws IOException, InterruptedException {
        Path holdfast = out.resolveSibling(out.getFileName() + "-holdfast");
        issuer.issue(name, Role.CLIENT, List.of()).writeTo(holdfast);
        Files.createDirectories(out);
        Files.copy(holdfast.resolve("ca.crt"), out.resolve("ca-cert.pem"));
        Files.copy(holdfast.resolve("client.crt"), out.resolve("client-cert.pem"));
        run(
                "openssl",
                "ec",
                "-in",
                holdfast.resolve("client.key").toString(),
                "-out",
                out.resolve("client-key.pem").toString());
        return out;
    }

    private void serve(NbdServer.TlsMode mode) throws IOException {
        server = NbdServer.start(
                NbdServer.Config.defaults(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                        .withHandshakeTimeout(Duration.ofSeconds(20))
                        .withTls(mode, gateway),
                new LocalExports(dir.resolve("exports"), false));
    }

    private String plain() {
        return "nbd://127.0.0.1:" + server.port() + "/disk";
    }

    private String secure(Path certificates) {
        return "nbds://127.0.0.1:" + server.port() + "/disk?tls-certificates=" + certificates;
    }

    /** Runs a command that must fail; returns its output. */
    static String fails(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS))
                .as("%s finished", List.of(command))
                .isTrue();
        assertThat(p.exitValue())
                .as("exit status of %s; output:%n%s", List.of(command), out)
                .isNotZero();
        return out;
    }

    private SSLContext javaClient(Path holdfastClientDir) throws IOException, GeneralSecurityException {
        TlsFiles files = TlsFiles.load(holdfastClientDir, "client");
        SSLContext c = SSLContext.getInstance("TLS");
        c.init(new KeyManager[] {files.keyManager()}, new TrustManager[] {files.trustManager()}, null);
        return c;
    }

    @Test
    void requiredTlsServesLibnbdOverNbds() throws Exception {
        assumeTrue(installed("nbdinfo") && installed("nbdcopy"), "nbdinfo/nbdcopy (libnbd-bin) are not installed");
        serve(NbdServer.TlsMode.REQUIRE);
        String info = run("nbdinfo", "--json", secure(client));
        assertThat(info).contains("\"TLS\": true").contains("\"export-size\": " + SIZE);
        assertThat(run("nbdinfo", "--map", secure(client))).contains("data");
        byte[] content = new byte[SIZE];
        new Random(14).nextBytes(content);
        Path src = Files.write(dir.resolve("src.raw"), content);
        Path back = dir.resolve("back.raw");
        run("nbdcopy", src.toString(), secure(client));
        run("nbdcopy", secure(client), back.toString());
        assertThat(Files.readAllBytes(back)).isEqualTo(content);
        assertThat(Files.readAllBytes(dir.resolve("exports/disk"))).isEqualTo(content);
    }

    @Test
    void requiredTlsRefusesPlaintext() throws Exception {
        serve(NbdServer.TlsMode.REQUIRE);
        if (installed("nbdinfo")) {
            assertThat(fails("nbdinfo", plain())).containsIgnoringCase("TLS");
        }
        try (RawClient c = new RawClient((InetSocketAddress) server.address()).greet()) {
            for (int opt : new int[] {Nbd.OPT_LIST, Nbd.OPT_STRUCTURED_REPLY, Nbd.OPT_INFO, Nbd.OPT_GO, 99}) {
                c.option(opt, opt == Nbd.OPT_GO || opt == Nbd.OPT_INFO ? RawClient.goData("disk") : new byte[0]);
                RawClient.OptReply r = c.reply();
                assertThat(r.option()).isEqualTo(opt);
                assertThat(r.type())
                        .as("option %d before TLS: %s", opt, r.text())
                        .isEqualTo(Nbd.REP_ERR_TLS_REQD);
            }
            c.option(Nbd.OPT_ABORT, new byte[0]);
            assertThat(c.reply().type()).as("ABORT is allowed before TLS").isEqualTo(Nbd.REP_ACK);
        }
        try (RawClient c = new RawClient((InetSocketAddress) server.address()).greet()) {
            c.option(Nbd.OPT_EXPORT_NAME, "disk".getBytes(StandardCharsets.UTF_8));
            assertThat(c.closedByServer())
                    .as("EXPORT_NAME cannot be refused: the session ends")
                    .isTrue();
        }
        try (RawClient c = new RawClient((InetSocketAddress) server.address()).greet()) {
            // STARTTLS and an option in one write: the option must not slip into the TLS session
            c.out.writeLong(Nbd.IHAVEOPT);
            c.out.writeInt(Nbd.OPT_STARTTLS);
            c.out.writeInt(0);
            c.out.writeLong(Nbd.IHAVEOPT);
            c.out.writeInt(Nbd.OPT_LIST);
            c.out.writeInt(0);
            c.out.flush();
            assertThat(c.closedByServer())
                    .as("bytes after STARTTLS before its reply")
                    .isTrue();
        }
    }

    @Test
    void aClientOfAnotherCaIsRefusedAndTheServerGoesOn() throws Exception {
        assumeTrue(installed("nbdinfo"), "nbdinfo (libnbd-bin) is not installed");
        serve(NbdServer.TlsMode.REQUIRE);
        CertificateAuthority other = CertificateAuthority.create(dir.resolve("other-ca"), "other");
        Path stranger = libnbdDirectory(other, "mallory", dir.resolve("mallory"));
        // mallory's certificate comes from another CA, though she trusts the right one
        Path mixed = Files.createDirectories(dir.resolve("mixed"));
        Files.copy(client.resolve("ca-cert.pem"), mixed.resolve("ca-cert.pem"));
        Files.copy(stranger.resolve("client-cert.pem"), mixed.resolve("client-cert.pem"));
        Files.copy(stranger.resolve("client-key.pem"), mixed.resolve("client-key.pem"));
        assertThat(fails("nbdinfo", secure(mixed)))
                .as("refused in the TLS handshake")
                .containsAnyOf("gnutls_handshake", "TLS fatal alert");
        // a client that trusts only another CA refuses the gateway's certificate
        assertThat(fails("nbdinfo", secure(stranger)))
                .as("refused in the TLS handshake")
                .containsAnyOf("gnutls_handshake", "TLS fatal alert");
        // no client certificate at all
        Path caOnly = Files.createDirectories(dir.resolve("ca-only"));
        Files.copy(client.resolve("ca-cert.pem"), caOnly.resolve("ca-cert.pem"));
        assertThat(fails("nbdinfo", secure(caOnly)))
                .as("refused in the TLS handshake")
                .containsAnyOf("gnutls_handshake", "TLS fatal alert");
        // the refusals cost nothing: the next right client is served
        assertThat(run("nbdinfo", "--size", secure(client)).strip()).isEqualTo(String.valueOf(SIZE));
    }

    @Test
    void tlsOnLetsTheClientChoose() throws Exception {
        assumeTrue(installed("nbdinfo"), "nbdinfo (libnbd-bin) is not installed");
        serve(NbdServer.TlsMode.ON);
        assertThat(run("nbdinfo", "--json", plain())).contains("\"TLS\": false");
        assertThat(run("nbdinfo", "--json", secure(client))).contains("\"TLS\": true");
    }

    @Test
    void startTlsForgetsWhatWasNegotiatedBeforeAndIsRefusedTwice() throws Exception {
        serve(NbdServer.TlsMode.ON);
        SSLContext tls = javaClient(dir.resolve("alice-holdfast"));
        try (RawClient c = new RawClient((InetSocketAddress) server.address()).greet()) {
            c.option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
            assertThat(c.reply().type()).isEqualTo(Nbd.REP_ACK);
            c.option(Nbd.OPT_STARTTLS, new byte[] {1});
            assertThat(c.reply().type()).as("STARTTLS with data").isEqualTo(Nbd.REP_ERR_INVALID);
            c.option(Nbd.OPT_STARTTLS, new byte[0]);
            assertThat(c.reply().type()).isEqualTo(Nbd.REP_ACK);
            c.startTls(tls);
            c.option(Nbd.OPT_SET_META_CONTEXT, RawClient.metaData("disk", Nbd.BASE_ALLOCATION));
            assertThat(c.reply().type())
                    .as("structured replies negotiated before TLS do not count after it")
                    .isEqualTo(Nbd.REP_ERR_INVALID);
            c.option(Nbd.OPT_STARTTLS, new byte[0]);
            assertThat(c.reply().type()).as("STARTTLS inside TLS").isEqualTo(Nbd.REP_ERR_INVALID);
            long[] export = c.go("disk");
            assertThat(export[0]).isEqualTo(SIZE);
            c.request(0, Nbd.CMD_WRITE, 1, 4096, 4, new byte[] {1, 2, 3, 4});
            assertThat(c.simple(0).error())
                    .as("simple replies: structured ones were forgotten")
                    .isZero();
            c.request(0, Nbd.CMD_READ, 2, 4096, 4, null);
            assertThat(ByteBuffer.wrap(c.simple(4).data()).getInt()).isEqualTo(0x01020304);
        }
    }

    @Test
    void offRefusesStartTlsByPolicy() throws Exception {
        serve(NbdServer.TlsMode.OFF);
        try (RawClient c = new RawClient((InetSocketAddress) server.address()).greet()) {
            c.option(Nbd.OPT_STARTTLS, new byte[0]);
            assertThat(c.reply().type()).isEqualTo(Nbd.REP_ERR_POLICY);
            assertThat(c.go("disk")[0]).isEqualTo(SIZE);
        }
    }

    /**
     * The identity of the client's certificate reaches the export provider: here alice is served
     * read-only (NBD_FLAG_READ_ONLY, and the server answers a WRITE, TRIM or WRITE_ZEROES she sends
     * anyway with EPERM), bob is refused by policy (NBD_REP_ERR_POLICY, with the reason), and a
     * plaintext client under ON has no identity and gets the provider's plain {@code open}.
     */
    @Test
    void theCertificateIdentityDecidesWhatTheClientMayDo() throws Exception {
        libnbdDirectory(ca, "bob", dir.resolve("bob"));
        List<Peer> seen = new CopyOnWriteArrayList<>();
        ExportProvider local = new LocalExports(dir.resolve("exports"), false);
        ExportProvider readOnly = new LocalExports(dir.resolve("exports"), true);
        ExportProvider perClient = new ExportProvider() {
            @Override
            public BlockDevice open(String name) throws IOException {
                return local.open(name);
            }

            @Override
            public BlockDevice open(String name, Peer client) throws IOException {
                seen.add(client);
                if (client.name().equals("alice")) {
                    return readOnly.open(name);
                }
                throw new AccessDeniedException(name, null, "not exported to " + client);
            }

            @Override
            public List<String> list() {
                return local.list();
            }

            @Override
            public List<String> list(Peer client) {
                return client.name().equals("alice") ? local.list() : List.of();
            }
        };
        server = NbdServer.start(
                NbdServer.Config.defaults(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                        .withHandshakeTimeout(Duration.ofSeconds(20))
                        .withTls(NbdServer.TlsMode.ON, gateway),
                perClient);
        try (RawClient c = new RawClient((InetSocketAddress) server.address()).greet()) {
            c.option(Nbd.OPT_STARTTLS, new byte[0]);
            assertThat(c.reply().type()).isEqualTo(Nbd.REP_ACK);
            c.startTls(javaClient(dir.resolve("alice-holdfast")));
            c.option(Nbd.OPT_LIST, new byte[0]);
            assertThat(c.replies()).hasSize(2); // one NBD_REP_SERVER, then the ACK
            long[] export = c.go("disk");
            assertThat(export[1] & Nbd.FLAG_READ_ONLY).as("NBD_FLAG_READ_ONLY").isNotZero();
            c.request(0, Nbd.CMD_WRITE, 1, 0, 4, new byte[] {1, 2, 3, 4});
            assertThat(c.simple(0).error()).isEqualTo(Nbd.EPERM);
            c.request(0, Nbd.CMD_TRIM, 2, 0, 4096, null);
            assertThat(c.simple(0).error()).isEqualTo(Nbd.EPERM);
            c.request(0, Nbd.CMD_WRITE_ZEROES, 3, 0, 4096, null);
            assertThat(c.simple(0).error()).isEqualTo(Nbd.EPERM);
            c.request(0, Nbd.CMD_READ, 4, 0, 4, null);
            assertThat(c.simple(4).data()).containsOnly(0);
        }
        assertThat(seen).singleElement().satisfies(p -> {
            assertThat(p.name()).isEqualTo("alice");
            assertThat(p.role()).isEqualTo(Role.CLIENT);
            assertThat(p.address()).isEqualTo("127.0.0.1");
        });
        try (RawClient c = new RawClient((InetSocketAddress) server.address()).greet()) {
            c.option(Nbd.OPT_STARTTLS, new byte[0]);
            assertThat(c.reply().type()).isEqualTo(Nbd.REP_ACK);
            c.startTls(javaClient(dir.resolve("bob-holdfast")));
            c.option(Nbd.OPT_LIST, new byte[0]);
            assertThat(c.replies())
                    .as("bob may open nothing, so nothing is listed")
                    .hasSize(1);
            c.option(Nbd.OPT_GO, RawClient.goData("disk"));
            RawClient.OptReply r = c.reply();
            assertThat(r.type()).isEqualTo(Nbd.REP_ERR_POLICY);
            assertThat(r.text()).contains("not exported to client \"bob\"");
            c.option(Nbd.OPT_INFO, RawClient.goData("disk"));
            assertThat(c.reply().type()).as("the connection goes on").isEqualTo(Nbd.REP_ERR_POLICY);
        }
        try (RawClient c = new RawClient((InetSocketAddress) server.address()).greet()) {
            long[] export = c.go("disk");
            assertThat(export[1] & Nbd.FLAG_READ_ONLY)
                    .as("plaintext: the gateway's access")
                    .isZero();
        }
        assertThat(seen).as("alice once, bob twice; never the plaintext client").hasSize(3);
        assertThat(Files.readAllBytes(dir.resolve("exports/disk"))).containsOnly(0);
    }
}
