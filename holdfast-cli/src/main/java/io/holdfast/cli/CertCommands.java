package io.holdfast.cli;

import io.holdfast.protocol.ClusterMap;
import io.holdfast.server.CertificateAuthority;
import io.holdfast.server.NodeSecurity;
import io.holdfast.transport.Role;
import io.holdfast.transport.TransportSecurity;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code holdfast cert node|client}: issue certificates from the cluster CA. */
@Command(
        name = "cert",
        mixinStandardHelpOptions = true,
        description = {
            "Issue node and client certificates from the cluster CA ('holdfast cluster init' creates it).",
            "Keys are ECDSA P-256, written with mode 0600; certificates are valid for "
                    + "397 days unless --days says otherwise. Run on the machine that holds the CA key.",
            "",
            "Rotation: issue a new certificate into the same place; the files are replaced by an atomic",
            "rename and running nodes and clients present the new certificate on new connections",
            "(checked at most once a second), without a restart. 'holdfast doctor' shows expiry dates."
        },
        subcommands = {CertCommands.Node.class, CertCommands.Client.class})
final class CertCommands {
    private CertCommands() {}

    /** The default CA directory: ~/.holdfast/ca. */
    static Path defaultCaDir() {
        return Path.of(System.getProperty("user.home"), ".holdfast", "ca");
    }

    static final class CaOptions {
        @Option(
                names = "--ca",
                paramLabel = "DIR",
                description = "The cluster CA directory (ca.crt, ca.key; default: ~/.holdfast/ca).")
        Path ca;

        @Option(
                names = "--days",
                paramLabel = "N",
                defaultValue = "397",
                description = "Validity in days (default: ${DEFAULT-VALUE}).")
        int days;

        CertificateAuthority load() throws IOException {
            return CertificateAuthority.load(ca != null ? ca : defaultCaDir());
        }

        Instant notAfter(Instant now) {
            if (days < 1 || days > 3650) {
                throw new IllegalArgumentException("--days must be 1..3650, got " + days);
            }
            return now.plus(Duration.ofDays(days));
        }
    }

    @Command(
            name = "node",
            mixinStandardHelpOptions = true,
            description = {
                "Issue a node certificate for HOST:PORT into DATA/tls (or --out DIR): ca.crt, node.crt, node.key.",
                "The certificate names the node's host, which clients and other nodes verify.",
                "",
                "Example:  holdfast cert node b.example.net:7001 --out ./b-tls   (then copy b-tls to b's DATA/tls)"
            })
    static final class Node implements Callable<Integer> {
        @Parameters(paramLabel = "HOST:PORT", description = "The node's address, as in its holdfast.conf.")
        String address;

        static final class Target {
            @Option(names = "--data", paramLabel = "DIR", description = "The node's data directory; writes DIR/tls.")
            Path data;

            @Option(names = "--out", paramLabel = "DIR", description = "Write the files here instead.")
            Path out;
        }

        @ArgGroup(multiplicity = "1")
        Target target;

        @Option(
                names = "--host",
                paramLabel = "NAME",
                description = "More host names or addresses the node is reached by (repeatable).")
        List<String> hosts = new ArrayList<>();

        @CommandLine.Mixin
        CaOptions ca;

        @Override
        public Integer call() throws Exception {
            ClusterMap.checkAddress(address);
            Path dir = target.data != null ? NodeSecurity.tlsDirectory(target.data) : target.out;
            issueNode(ca.load(), address, hosts, dir, ca.notAfter(Instant.now()));
            return 0;
        }
    }

    /** Issues a node certificate for {@code address} (and {@code extraHosts}) into {@code dir}. */
    static void issueNode(CertificateAuthority ca, String address, List<String> extraHosts, Path dir, Instant notAfter)
            throws IOException {
        List<String> hosts = new ArrayList<>();
        hosts.add(address.substring(0, address.lastIndexOf(':')));
        hosts.addAll(extraHosts);
        Instant now = Instant.now();
        writeAndReport(address, ca.issue(address, Role.NODE, hosts, now.minusSeconds(300), notAfter), dir);
    }

    @Command(
            name = "client",
            mixinStandardHelpOptions = true,
            description = {
                "Issue a client certificate named NAME into --out DIR (default: $HOLDFAST_TLS, else ~/.holdfast/tls):",
                "ca.crt, client.crt, client.key. Export ACLs match NAME ('holdfast volume acl').",
                "",
                "Examples:",
                "  holdfast cert client mail-01 --out /etc/holdfast/mail-01",
                "  holdfast cert client ops --admin        (full access, cluster commands)"
            })
    static final class Client implements Callable<Integer> {
        @Parameters(paramLabel = "NAME", description = "The client's name (its certificate common name).")
        String name;

        @Option(names = "--admin", description = "Make it an admin certificate: every volume, and cluster commands.")
        boolean admin;

        @Option(
                names = "--out",
                paramLabel = "DIR",
                description = "Where to write (default: $HOLDFAST_TLS, else ~/.holdfast/tls).")
        Path out;

        @CommandLine.Mixin
        CaOptions ca;

        @Override
        public Integer call() throws Exception {
            Path dir = out != null ? out : TransportSecurity.defaultClientDirectory();
            issueClient(ca.load(), name, admin, dir, ca.notAfter(Instant.now()));
            return 0;
        }
    }

    /** Issues a client certificate into {@code dir}. */
    static void issueClient(CertificateAuthority ca, String name, boolean admin, Path dir, Instant notAfter)
            throws IOException {
        writeAndReport(
                name,
                ca.issue(
                        name,
                        admin ? Role.ADMIN : Role.CLIENT,
                        List.of(),
                        Instant.now().minusSeconds(300),
                        notAfter),
                dir);
    }

    private static void writeAndReport(String name, CertificateAuthority.Issued issued, Path dir) throws IOException {
        issued.writeTo(dir);
        String file = issued.fileName();
        System.out.printf(
                "issued %s certificate \"%s\" (serial %s, valid until %s)%n  %s%n  %s (mode 0600)%n  %s%n",
                issued.role().unit(),
                name,
                issued.certificate().getSerialNumber().toString(16),
                issued.certificate().getNotAfter().toInstant(),
                dir.resolve(file + ".crt"),
                dir.resolve(file + ".key"),
                dir.resolve("ca.crt"));
    }
}
