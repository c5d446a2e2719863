package io.holdfast.cli;

import io.holdfast.server.NodeSecurity;
import io.holdfast.transport.TlsFiles;
import io.holdfast.transport.TransportSecurity;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code holdfast doctor}: checks this machine's Holdfast TLS material: certificate expiry,
 * issuer, and private-key file permissions. Never prints key material.
 */
@Command(
        name = "doctor",
        mixinStandardHelpOptions = true,
        description = {
            "Check this machine's certificates and private keys.",
            "Reports expiry (warns 30 days ahead), whether each certificate was issued by the ca.crt",
            "beside it, and private keys readable by group or others (they must be mode 0600). Looks in the "
                    + "directories given with --ca, --tls and --data",
            "(DATA/tls); with none given, in ~/.holdfast/ca and the client directory ($HOLDFAST_TLS or",
            "~/.holdfast/tls).",
            "",
            "",
            "Example:  holdfast doctor --data /var/lib/holdfast"
        },
        exitCodeList = {"0:no problem found (warnings allowed)", "3:a problem was found (listed on stdout)"})
final class DoctorCommand implements Callable<Integer> {
    /** Certificates expiring within this are reported as warnings. */
    static final Duration WARN_BEFORE = Duration.ofDays(30);

    @Option(names = "--data", paramLabel = "DIR", description = "A node data directory to check (repeatable).")
    List<Path> data = new ArrayList<>();

    @Option(names = "--tls", paramLabel = "DIR", description = "A client certificate directory to check (repeatable).")
    List<Path> tls = new ArrayList<>();

    @Option(names = "--ca", paramLabel = "DIR", description = "A CA directory to check (ca.crt, ca.key).")
    Path ca;

    private int problems;
    private int warnings;

    @Override
    public Integer call() throws IOException {
        Set<Path> dirs = new LinkedHashSet<>();
        boolean explicit = ca != null || !tls.isEmpty() || !data.isEmpty();
        if (ca != null) {
            dirs.add(ca);
        }
        if (!explicit) {
            dirs.add(CertCommands.defaultCaDir());
            dirs.add(TransportSecurity.defaultClientDirectory());
        }
        dirs.addAll(tls);
        data.forEach(d -> dirs.add(NodeSecurity.tlsDirectory(d)));
        int checked = 0;
        for (Path dir : dirs) {
            if (!Files.isDirectory(dir)) {
                if (explicit) {
                    problem(dir + ": no such directory");
                }
                continue;
            }
            checked++;
            System.out.println(dir + ":");
            checkDirectory(dir);
        }
        if (checked == 0) {
            System.out.println("no TLS material found (looked in " + dirs + "); 'holdfast cluster init' creates it");
        }
        System.out.printf("%d problem(s), %d warning(s)%n", problems, warnings);
        return problems == 0 ? 0 : 3;
    }

    private void checkDirectory(Path dir) throws IOException {
        X509Certificate caCert = null;
        if (Files.isRegularFile(dir.resolve(TlsFiles.CA_FILE))) {
            try {
                caCert =
                        TlsFiles.readCertificates(dir.resolve(TlsFiles.CA_FILE)).getFirst();
            } catch (IOException e) {
                problem(e.getMessage());
            }
        } else {
            problem(dir.resolve(TlsFiles.CA_FILE) + " is missing");
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path f : files) {
                String name = f.getFileName().toString();
                if (name.endsWith(".key")) {
                    checkKey(f);
                } else if (name.endsWith(".crt")) {
                    checkCertificate(f, caCert);
                }
            }
        }
    }

    private void checkKey(Path key) throws IOException {
        Set<PosixFilePermission> perms = Files.getPosixFilePermissions(key);
        Set<PosixFilePermission> unsafe = EnumSet.of(
                PosixFilePermission.GROUP_READ,
                PosixFilePermission.GROUP_WRITE,
                PosixFilePermission.GROUP_EXECUTE,
                PosixFilePermission.OTHERS_READ,
                PosixFilePermission.OTHERS_WRITE,
                PosixFilePermission.OTHERS_EXECUTE);
        unsafe.retainAll(perms);
        if (!unsafe.isEmpty()) {
            problem(key + ": unsafe permissions " + PosixFilePermissions.toString(perms)
                    + " (group or others can access the private key);" + " run: chmod 600 " + key);
        } else {
            ok(key + ": permissions " + PosixFilePermissions.toString(perms));
        }
    }

    private void checkCertificate(Path file, X509Certificate ca) {
        X509Certificate cert;
        try {
            cert = TlsFiles.readCertificates(file).getFirst();
        } catch (IOException e) {
            problem(e.getMessage());
            return;
        }
        Instant now = Instant.now();
        Instant notAfter = cert.getNotAfter().toInstant();
        String subject = cert.getSubjectX500Principal().getName();
        if (now.isAfter(notAfter)) {
            problem(file + ": EXPIRED on " + notAfter + " (" + subject + "); issue a new one with 'holdfast cert'");
        } else if (now.isBefore(cert.getNotBefore().toInstant())) {
            problem(file + ": not valid before " + cert.getNotBefore().toInstant() + " (check this machine's clock)");
        } else if (Duration.between(now, notAfter).compareTo(WARN_BEFORE) < 0) {
            warning(file + ": expires in " + Duration.between(now, notAfter).toDays() + " days, on " + notAfter + " ("
                    + subject + "); rotate it with 'holdfast cert'");
        } else {
            ok(file + ": valid until " + notAfter + " ("
                    + Duration.between(now, notAfter).toDays() + " days; " + subject + ")");
        }
        if (ca != null && !file.getFileName().toString().equals(TlsFiles.CA_FILE)) {
            try {
                cert.verify(ca.getPublicKey());
            } catch (GeneralSecurityException e) {
                problem(file + ": not issued by the CA in " + file.resolveSibling(TlsFiles.CA_FILE));
            }
        }
    }

    private void ok(String what) {
        System.out.println("  ok       " + what);
    }

    private void warning(String what) {
        warnings++;
        System.out.println("  WARNING  " + what);
    }

    private void problem(String what) {
        problems++;
        System.out.println("  PROBLEM  " + what);
    }
}
