package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.server.CertificateAuthority;
import io.holdfast.transport.Peer;
import io.holdfast.transport.Role;
import io.holdfast.transport.TlsFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** cluster init's certificates, cert, doctor, and that no output carries key material. */
class SecurityCommandsTest {
    @TempDir
    Path tmp;

    private Cli init(Path data, String... extra) {
        List<String> args = new ArrayList<>(List.of(
                "cluster",
                "init",
                "--data",
                data.toString(),
                "--address",
                "127.0.0.1:7101",
                "--peers",
                "127.0.0.1:7101",
                "--ca",
                tmp.resolve("ca").toString(),
                "--client-tls",
                tmp.resolve("admin").toString()));
        args.addAll(List.of(extra));
        return Cli.run(args.toArray(String[]::new));
    }

    @Test
    void initCreatesTheCaANodeCertificateAndAnAdminCertificateWithPrivateKeys() throws Exception {
        Cli r = init(tmp.resolve("n1"));
        assertThat(r.exit()).as(r.err()).isZero();
        for (Path key :
                List.of(tmp.resolve("ca/ca.key"), tmp.resolve("n1/tls/node.key"), tmp.resolve("admin/client.key"))) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key)))
                    .as(key.toString())
                    .isEqualTo("rw-------");
            String body = Files.readString(key)
                    .lines()
                    .filter(l -> !l.startsWith("-----"))
                    .findFirst()
                    .orElseThrow();
            assertThat(r.out() + r.err()).doesNotContain(body);
        }
        TlsFiles node = TlsFiles.load(tmp.resolve("n1/tls"), "node");
        assertThat(Peer.of(node.certificate(), "")).isEqualTo(new Peer("127.0.0.1:7101", Role.NODE, ""));
        assertThat(node.certificate().getSubjectAlternativeNames())
                .anySatisfy(san -> assertThat(san.get(1)).isEqualTo("127.0.0.1"));
        assertThat(Peer.of(TlsFiles.load(tmp.resolve("admin"), "client").certificate(), "")
                        .role())
                .isEqualTo(Role.ADMIN);

        // a second new cluster on the same CA directory is refused and writes nothing
        Cli again = init(tmp.resolve("n2"));
        assertThat(again.exit()).isNotZero();
        assertThat(again.err()).contains("already holds a cluster CA");
        assertThat(tmp.resolve("n2/holdfast.conf")).doesNotExist();
    }

    @Test
    void certIssuesClientAndAdminCertificates() throws Exception {
        CertificateAuthority.create(tmp.resolve("ca"), "test");
        Cli r = Cli.run(
                "cert",
                "client",
                "mail-01",
                "--ca",
                tmp.resolve("ca").toString(),
                "--out",
                tmp.resolve("m").toString(),
                "--days",
                "30");
        assertThat(r.exit()).as(r.err()).isZero();
        X509Certificate c = TlsFiles.load(tmp.resolve("m"), "client").certificate();
        assertThat(Peer.of(c, "")).isEqualTo(new Peer("mail-01", Role.CLIENT, ""));
        assertThat(Duration.between(Instant.now(), c.getNotAfter().toInstant()).toDays())
                .isBetween(29L, 30L);
        assertThat(Cli.run(
                                "cert",
                                "client",
                                "ops",
                                "--admin",
                                "--ca",
                                tmp.resolve("ca").toString(),
                                "--out",
                                tmp.resolve("o").toString())
                        .exit())
                .isZero();
        assertThat(Peer.of(TlsFiles.load(tmp.resolve("o"), "client").certificate(), "")
                        .role())
                .isEqualTo(Role.ADMIN);
        Cli bad = Cli.run(
                "cert",
                "client",
                "x",
                "--ca",
                tmp.resolve("nowhere").toString(),
                "--out",
                tmp.resolve("x").toString());
        assertThat(bad.exit()).isNotZero();
        assertThat(bad.err()).contains("no cluster CA");
        assertThat(tmp.resolve("x")).doesNotExist();
        // a CA directory whose key is another CA's is refused before anything is issued
        CertificateAuthority.create(tmp.resolve("other-ca"), "other");
        Files.copy(tmp.resolve("other-ca/ca.key"), tmp.resolve("ca/ca.key"), StandardCopyOption.REPLACE_EXISTING);
        Cli mismatch = Cli.run(
                "cert",
                "client",
                "y",
                "--ca",
                tmp.resolve("ca").toString(),
                "--out",
                tmp.resolve("y").toString());
        assertThat(mismatch.exit()).isNotZero();
        assertThat(mismatch.err()).contains("does not belong to");
        assertThat(tmp.resolve("y")).doesNotExist();
    }

    @Test
    void doctorReportsExpiryAndUnsafeKeyPermissions() throws Exception {
        CertificateAuthority ca = CertificateAuthority.create(tmp.resolve("ca"), "test");
        ca.issue("fine", Role.CLIENT, List.of()).writeTo(tmp.resolve("fine"));
        Cli ok = Cli.run("doctor", "--tls", tmp.resolve("fine").toString());
        assertThat(ok.exit()).as(ok.out()).isZero();
        assertThat(ok.out()).contains("0 problem(s), 0 warning(s)");

        Instant now = Instant.now();
        ca.issue("soon", Role.CLIENT, List.of(), now.minus(Duration.ofDays(300)), now.plus(Duration.ofDays(10)))
                .writeTo(tmp.resolve("soon"));
        Cli soon = Cli.run("doctor", "--tls", tmp.resolve("soon").toString());
        assertThat(soon.exit()).isZero();
        assertThat(soon.out()).contains("WARNING").contains("expires in");

        ca.issue("old", Role.CLIENT, List.of(), now.minus(Duration.ofDays(30)), now.minus(Duration.ofDays(1)))
                .writeTo(tmp.resolve("old"));
        Files.setPosixFilePermissions(tmp.resolve("old/client.key"), PosixFilePermissions.fromString("rw-r--r--"));
        Cli bad = Cli.run("doctor", "--tls", tmp.resolve("old").toString());
        assertThat(bad.exit()).isEqualTo(3);
        assertThat(bad.out())
                .contains("EXPIRED")
                .contains("unsafe permissions rw-r--r--")
                .contains("chmod 600");
        String body = Files.readString(tmp.resolve("old/client.key"))
                .lines()
                .filter(l -> !l.startsWith("-----"))
                .findFirst()
                .orElseThrow();
        assertThat(bad.out()).doesNotContain(body);
    }

    @Test
    void aCertificateFromAnotherCaIsReadButNamedByTheIssuerCheck() throws Exception {
        CertificateAuthority ours = CertificateAuthority.create(tmp.resolve("ca"), "ours");
        CertificateAuthority.create(tmp.resolve("other"), "other")
                .issue("stray", Role.CLIENT, List.of())
                .writeTo(tmp.resolve("c"));
        Files.copy(tmp.resolve("ca/ca.crt"), tmp.resolve("c/ca.crt"), StandardCopyOption.REPLACE_EXISTING);
        TlsFiles read = TlsFiles.read(tmp.resolve("c"), "client");
        assertThat(read.ca()).isEqualTo(ours.certificate());
        assertThatThrownBy(read::checkIssuedByCa)
                .hasMessageContaining("client.crt was not issued by the CA in")
                .hasMessageContaining("ca.crt");
        assertThatThrownBy(() -> TlsFiles.load(tmp.resolve("c"), "client"))
                .hasMessageContaining("was not issued by the CA");
        ours.issue("fine", Role.CLIENT, List.of()).writeTo(tmp.resolve("c"));
        TlsFiles.read(tmp.resolve("c"), "client").checkIssuedByCa();
    }

    @Test
    void noHelpOffersASecretOnTheCommandLine() {
        List<String> seen = new ArrayList<>();
        walk(Main.commandLine(), seen);
        assertThat(seen).hasSizeGreaterThan(20);
    }

    private static void walk(CommandLine cmd, List<String> seen) {
        String help = cmd.getUsageMessage();
        seen.add(cmd.getCommandName());
        assertThat(help).doesNotContain("-----BEGIN");
        for (CommandLine.Model.OptionSpec o : cmd.getCommandSpec().options()) {
            for (String name : o.names()) {
                assertThat(name)
                        .as("a secret would show in ps and shell history: " + cmd.getCommandName())
                        .doesNotContainIgnoringCase("password")
                        .doesNotContainIgnoringCase("secret")
                        .doesNotContainIgnoringCase("passphrase");
            }
        }
        cmd.getSubcommands().values().forEach(sub -> walk(sub, seen));
    }
}
