package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.nio.HoldfastFiles;
import io.holdfast.nbd.ClusterAccess;
import io.holdfast.nbd.NbdServer;
import io.holdfast.nbd.VolumeExports;
import io.holdfast.protocol.Access;
import io.holdfast.protocol.AclRule;
import io.holdfast.transport.Role;
import io.holdfast.transport.TlsFiles;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Per-client NBD export permissions from the volume's export ACL, with real NBD clients over
 * {@code nbds://} (libnbd's {@code nbdinfo} and {@code nbdcopy}, qemu's {@code qemu-io}) holding
 * certificates of the cluster CA: a read-write client writes, a read-only client is served
 * read-only and its writes are refused, a client no rule names is refused the export, and a
 * gateway that may not read the ACLs (a client certificate) refuses everyone. The image's content
 * is checked through an independent admin client after every refusal.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class NbdAclIT {
    private static final String VOLUME = "acl";
    private static final int SIZE = 4 << 20;

    @TempDir
    static Path root;

    private static MiniCluster cluster;
    private static HoldfastClient admin;
    private static VolumeExports exports;
    private static NbdServer server;
    private static TlsFiles gatewayCert;
    private static byte[] content;

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(
                tool("nbdinfo") && tool("nbdcopy") && tool("qemu-io") && tool("qemu-img") && tool("openssl"),
                "libnbd-bin, qemu-utils");
        cluster = MiniCluster.start(root.resolve("cluster"), 3, 100_000);
        cluster.createVolume(VOLUME, 0, 1, 2);
        content = new byte[SIZE];
        new Random(14).nextBytes(content);
        try (FileSystem fs = volume();
                FileChannel ch = FileChannel.open(
                        fs.getPath("/disk.img"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            HoldfastFiles.fallocate(ch, 0, 0, SIZE);
            ch.force(true);
        }
        admin = cluster.client();
        admin.admin().addAclRule(VOLUME, new AclRule("writer", "127.0.0.0/8", Access.READ_WRITE));
        admin.admin().addAclRule(VOLUME, new AclRule("reader", "*", Access.READ_ONLY));
        admin.admin().addAclRule(VOLUME, new AclRule("writer-elsewhere", "10.0.0.0/8", Access.READ_WRITE));
        cluster.ca()
                .issue("127.0.0.1:10809", Role.NODE, List.of("127.0.0.1", "localhost"))
                .writeTo(root.resolve("gateway"));
        gatewayCert = TlsFiles.load(root.resolve("gateway"), "node");
        ClusterAccess access = ClusterAccess.of(admin);
        assertThat(access.canReadAcls()).as("the admin reads the ACLs").isTrue();
        exports = new VolumeExports(cluster.addresses().getFirst(), cluster.clientEnv(), List.of(), false, access);
        server = serve(exports);
    }

    private static NbdServer serve(VolumeExports provider) throws IOException {
        return NbdServer.start(
                NbdServer.Config.defaults(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                        .withHandshakeTimeout(Duration.ofSeconds(30))
                        .withTls(NbdServer.TlsMode.REQUIRE, gatewayCert),
                provider);
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (server != null) {
                server.close();
            }
            if (exports != null) {
                exports.close();
            }
        } finally {
            if (cluster != null) {
                cluster.close();
            }
        }
    }

    private static boolean tool(String name) {
        return Files.isExecutable(Path.of("/usr/bin", name));
    }

    private static FileSystem volume() throws IOException {
        return FileSystems.newFileSystem(
                URI.create("holdfast://" + cluster.addresses().get(1) + "/" + VOLUME), cluster.clientEnv());
    }

    /** The image as an independent admin client reads it. */
    private static byte[] image() throws IOException {
        try (FileSystem fs = volume()) {
            return Files.readAllBytes(fs.getPath("/disk.img"));
        }
    }

    /**
     * A certificate of the cluster CA in the layout libnbd and qemu read (ca-cert.pem,
     * client-cert.pem, client-key.pem; the key through {@code openssl ec}, which GnuTLS can read).
     */
    private static Path certificates(String name) throws Exception {
        Path out = root.resolve("libnbd-" + name);
        if (Files.isDirectory(out)) {
            return out;
        }
        Path holdfast = cluster.issueClient(name, Role.CLIENT);
        Files.createDirectories(out);
        Files.copy(holdfast.resolve("ca.crt"), out.resolve("ca-cert.pem"));
        Files.copy(holdfast.resolve("client.crt"), out.resolve("client-cert.pem"));
        Result r = exec(
                "openssl",
                "ec",
                "-in",
                holdfast.resolve("client.key").toString(),
                "-out",
                out.resolve("client-key.pem").toString());
        assertThat(r.status()).as(r.output()).isZero();
        return out;
    }

    private static String uri(NbdServer s, String who) throws Exception {
        return "nbds://127.0.0.1:" + s.port() + "/" + VOLUME + "/disk.img?tls-certificates=" + certificates(who);
    }

    private record Result(int status, String output) {}

    /**
     * Runs a command with libnbd's debug output on (where it prints the server's error message,
     * which {@code nbdinfo} itself leaves out).
     */
    private static Result exec(String... command) throws IOException, InterruptedException {
        ProcessBuilder b = new ProcessBuilder(command).redirectErrorStream(true);
        b.environment().put("LIBNBD_DEBUG", "1");
        Process p = b.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS))
                .as("%s finished", List.of(command))
                .isTrue();
        System.out.println("$ " + String.join(" ", command) + " (exit " + p.exitValue() + ")\n" + out);
        return new Result(p.exitValue(), out);
    }

    private static String ok(String... command) throws Exception {
        Result r = exec(command);
        assertThat(r.status()).as("exit status; output:%n%s", r.output()).isZero();
        return r.output();
    }

    private static String fails(String... command) throws Exception {
        Result r = exec(command);
        assertThat(r.status()).as("exit status; output:%n%s", r.output()).isNotZero();
        return r.output();
    }

    /** qemu-io over TLS with the x509 credentials in {@code who}'s directory. */
    private static String[] qemuIo(NbdServer s, String who, boolean readOnly, String... commands) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("qemu-io"));
        if (readOnly) {
            cmd.add("-r");
        }
        cmd.addAll(tlsImage(s, who));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        return cmd.toArray(String[]::new);
    }

    /** qemu's options naming the export over TLS with the x509 credentials in {@code who}'s directory. */
    private static List<String> tlsImage(NbdServer s, String who) throws Exception {
        return List.of(
                "--object",
                "tls-creds-x509,id=tls0,endpoint=client,dir=" + certificates(who),
                "--image-opts",
                "driver=raw,file.driver=nbd,file.server.type=inet,file.server.host=127.0.0.1,file.server.port="
                        + s.port() + ",file.export=" + VOLUME + "/disk.img,file.tls-creds=tls0");
    }

    @Test
    void readWriteReadOnlyAndUnknownClients() throws Exception {
        // the read-write client writes the whole image, flushes, and reads it back
        Path src = Files.write(root.resolve("src.raw"), content);
        assertThat(ok("nbdinfo", "--json", uri(server, "writer"))).contains("\"is_read_only\": false");
        ok("nbdcopy", "--flush", src.toString(), uri(server, "writer"));
        Path back = root.resolve("back-writer.raw");
        ok("nbdcopy", uri(server, "writer"), back.toString());
        assertThat(Files.readAllBytes(back)).isEqualTo(content);
        assertThat(image()).as("flushed: on the volume").isEqualTo(content);
        String written = ok(qemuIo(server, "writer", false, "write -P 0x5a 1M 64k", "flush", "read -P 0x5a 1M 64k"));
        assertThat(written).doesNotContain("verification failed");
        System.arraycopy(filled(64 << 10, (byte) 0x5a), 0, content, 1 << 20, 64 << 10);
        assertThat(image()).isEqualTo(content);

        // the read-only client is served read-only: it reads, and every way of writing is refused
        assertThat(ok("nbdinfo", "--json", uri(server, "reader"))).contains("\"is_read_only\": true");
        Path readBack = root.resolve("back-reader.raw");
        ok("nbdcopy", uri(server, "reader"), readBack.toString());
        assertThat(Files.readAllBytes(readBack)).isEqualTo(content);
        assertThat(ok(qemuIo(server, "reader", true, "read -P 0x5a 1M 64k"))).doesNotContain("verification failed");
        List<String> convert = new ArrayList<>(List.of("qemu-img", "convert"));
        convert.addAll(tlsImage(server, "reader"));
        Path converted = root.resolve("converted.raw");
        convert.addAll(List.of("-O", "raw", converted.toString()));
        ok(convert.toArray(String[]::new));
        assertThat(Files.readAllBytes(converted))
                .as("qemu-img convert over TLS")
                .isEqualTo(content);
        Path other = Files.write(root.resolve("other.raw"), filled(SIZE, (byte) 0x77));
        fails("nbdcopy", other.toString(), uri(server, "reader"));
        // qemu will not open a read-only export for writing ("Permission denied")
        assertThat(fails(qemuIo(server, "reader", false, "write -P 0x77 0 64k")))
                .contains("Permission denied");
        assertThat(image())
                .as("nothing the read-only client sent changed the image")
                .isEqualTo(content);

        // a client that no rule names, or whose address the rule does not cover, gets no export
        for (String who : List.of("stranger", "writer-elsewhere")) {
            String refused = fails("nbdinfo", uri(server, who));
            assertThat(refused).as(who).contains("not exported to client \"" + who + "\"");
            assertThat(fails("nbdcopy", other.toString(), uri(server, who))).isNotEmpty();
            assertThat(fails(qemuIo(server, who, false, "write -P 0x77 0 64k"))).isNotEmpty();
        }
        assertThat(image())
                .as("nothing a refused client sent changed the image")
                .isEqualTo(content);
    }

    @Test
    void anAclChangeAppliesToTheNextConnection() throws Exception {
        AclRule rule = new AclRule("latecomer", "*", Access.READ_ONLY);
        fails("nbdinfo", uri(server, "latecomer"));
        admin.admin().addAclRule(VOLUME, rule);
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            Result r;
            do {
                r = exec("nbdinfo", "--json", uri(server, "latecomer"));
            } while (r.status() != 0 && System.nanoTime() < deadline);
            assertThat(r.status()).as(r.output()).isZero();
            assertThat(r.output()).contains("\"is_read_only\": true");
        } finally {
            admin.admin().removeAclRule(VOLUME, rule);
        }
    }

    @Test
    void aGatewayThatMayNotReadTheAclsRefusesEveryClientWithACertificate() throws Exception {
        Path gw = cluster.issueClient("gateway-as-client", Role.CLIENT);
        admin.admin().addAclRule(VOLUME, new AclRule("gateway-as-client", "*", Access.READ_WRITE));
        String a = cluster.addresses().getFirst();
        try (HoldfastClient asClient = HoldfastClient.connect(
                        "127.0.0.1", Integer.parseInt(a.substring(a.indexOf(':') + 1)), cluster.clientEnv(gw));
                VolumeExports weak =
                        new VolumeExports(a, cluster.clientEnv(gw), List.of(), false, ClusterAccess.of(asClient));
                NbdServer s = serve(weak)) {
            assertThat(ClusterAccess.of(asClient).canReadAcls()).isFalse();
            String refused = fails("nbdinfo", uri(s, "writer"));
            assertThat(refused).contains("may not read export ACLs");
        }
    }

    private static byte[] filled(int n, byte b) {
        byte[] a = new byte[n];
        Arrays.fill(a, b);
        return a;
    }
}
