package io.holdfast.server;

import io.holdfast.transport.Role;
import io.holdfast.transport.TlsFiles;
import java.io.IOException;
import java.io.Writer;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Objects;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A cluster's certificate authority (Bouncy Castle PKIX): an ECDSA P-256 key and a self-signed
 * CA certificate in a directory ({@code ca.crt}, {@code ca.key}), which issues node, admin
 * and client certificates. The role is the subject's OU; node certificates carry their host as
 * a subject alternative name, which clients verify.
 *
 * <p>Files: certificates are PEM, private keys PEM PKCS#8, created with mode 0600 and put in
 * place by an atomic rename (so a running node re-reads a complete pair on rotation). Nothing
 * here logs or prints key material. Not thread-safe; used by one command at a time.
 */
public final class CertificateAuthority {
    /** The CA key's file name. */
    public static final String KEY_FILE = "ca.key";
    /** Default validity of the CA certificate. */
    public static final Duration CA_VALIDITY = Duration.ofDays(3650);
    /** Default validity of node and client certificates. */
    public static final Duration VALIDITY = Duration.ofDays(397);

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String SIGNATURE = "SHA256withECDSA";
    private final X509Certificate certificate;
    private final PrivateKey key;

    private CertificateAuthority(X509Certificate certificate, PrivateKey key) {
        this.certificate = certificate;
        this.key = key;
    }

    /**
     * Creates a new CA in {@code dir} (created if needed).
     *
     * @param name a name for the CA's subject, e.g. the cluster id
     * @throws FileAlreadyExistsException if {@code dir} already holds a CA
     * @throws IOException if the files cannot be written
     */
    public static CertificateAuthority create(Path dir, String name) throws IOException {
        if (Files.exists(dir.resolve(KEY_FILE)) || Files.exists(dir.resolve(TlsFiles.CA_FILE))) {
            throw new FileAlreadyExistsException(dir.toString(), null, "already holds a cluster CA");
        }
        KeyPair pair = newKeyPair();
        X500Name subject = new X500NameBuilder(BCStyle.INSTANCE)
                .addRDN(BCStyle.O, "Holdfast")
                .addRDN(BCStyle.CN, "Holdfast CA " + name)
                .build();
        Instant now = Instant.now();
        try {
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(
                    subject,
                    serial(),
                    Date.from(now.minusSeconds(300)),
                    Date.from(now.plus(CA_VALIDITY)),
                    subject,
                    pair.getPublic());
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()));
            X509Certificate cert = sign(b, pair.getPrivate());
            Files.createDirectories(dir);
            writePrivate(dir.resolve(KEY_FILE), pair.getPrivate());
            writePublic(dir.resolve(TlsFiles.CA_FILE), cert);
            return new CertificateAuthority(cert, pair.getPrivate());
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot create the CA certificate: " + e.getMessage(), e);
        }
    }

    /**
     * Loads the CA in {@code dir}.
     *
     * @throws IOException if {@code ca.crt} or {@code ca.key} is missing, unreadable or they do
     *     not belong together
     */
    public static CertificateAuthority load(Path dir) throws IOException {
        Path certFile = dir.resolve(TlsFiles.CA_FILE);
        Path keyFile = dir.resolve(KEY_FILE);
        if (!Files.isRegularFile(keyFile) || !Files.isRegularFile(certFile)) {
            throw new IOException("no cluster CA in " + dir + " (expected " + TlsFiles.CA_FILE + " and " + KEY_FILE
                    + "; 'holdfast cluster init' creates it)");
        }
        X509Certificate cert = TlsFiles.readCertificates(certFile).getFirst();
        PrivateKey key = TlsFiles.readPrivateKey(keyFile);
        try {
            // the key signs what the certificate's public key verifies, with the algorithm sign() uses
            byte[] challenge = new byte[32];
            RANDOM.nextBytes(challenge);
            Signature signer = Signature.getInstance(SIGNATURE);
            signer.initSign(key);
            signer.update(challenge);
            Signature verifier = Signature.getInstance(SIGNATURE);
            verifier.initVerify(cert.getPublicKey());
            verifier.update(challenge);
            if (!verifier.verify(signer.sign())) {
                throw new GeneralSecurityException("signature does not verify");
            }
        } catch (GeneralSecurityException e) {
            throw new IOException(keyFile + " does not belong to " + certFile);
        }
        return new CertificateAuthority(cert, key);
    }

    /** The CA certificate. */
    public X509Certificate certificate() {
        return certificate;
    }

    /**
     * A freshly issued certificate and its key, in memory.
     *
     * @param certificate the certificate
     * @param key its private key
     * @param issuer the issuing CA's certificate
     * @param role the role the certificate carries
     */
    public record Issued(X509Certificate certificate, PrivateKey key, X509Certificate issuer, Role role) {
        /** The base name of the certificate and key files: {@code node}, else {@code client}. */
        public String fileName() {
            return role == Role.NODE ? "node" : "client";
        }

        /**
         * Writes {@code ca.crt} (the issuer), {@code NAME.crt} and {@code NAME.key} (mode 0600)
         * into {@code dir}, each by an atomic rename, replacing existing files (rotation).
         * {@code NAME} is {@code node} for a node certificate, else {@code client}, the names
         * {@link TlsFiles#load} reads.
         *
         * @throws IOException if a file cannot be written
         */
        public void writeTo(Path dir) throws IOException {
            String name = fileName();
            Files.createDirectories(dir);
            writePublic(dir.resolve(TlsFiles.CA_FILE), issuer);
            writePrivate(dir.resolve(name + ".key"), key);
            writePublic(dir.resolve(name + ".crt"), certificate);
        }
    }

    /**
     * Issues a certificate.
     *
     * @param name the subject's common name (a node's address, a client's name)
     * @param role the subject's role (its OU)
     * @param hosts host names or IP literals the holder serves (subject alternative names; nodes)
     * @param notBefore start of validity
     * @param notAfter end of validity
     * @throws IOException if signing fails
     * @throws IllegalArgumentException if {@code name} is empty or over 255 characters, or the
     *     validity is empty
     */
    public Issued issue(String name, Role role, List<String> hosts, Instant notBefore, Instant notAfter)
            throws IOException {
        Objects.requireNonNull(role, "role");
        if (name == null || name.isEmpty() || name.length() > 255) {
            throw new IllegalArgumentException("certificate name must be 1-255 characters");
        }
        if (!notAfter.isAfter(notBefore)) {
            throw new IllegalArgumentException("certificate validity ends before it starts");
        }
        KeyPair pair = newKeyPair();
        X500Name subject = new X500NameBuilder(BCStyle.INSTANCE)
                .addRDN(BCStyle.O, "Holdfast")
                .addRDN(BCStyle.OU, role.unit())
                .addRDN(BCStyle.CN, name)
                .build();
        try {
            X500Name issuer =
                    X500Name.getInstance(certificate.getSubjectX500Principal().getEncoded());
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(
                    issuer, serial(), Date.from(notBefore), Date.from(notAfter), subject, pair.getPublic());
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement));
            b.addExtension(
                    Extension.extendedKeyUsage,
                    false,
                    role == Role.NODE
                            ? new ExtendedKeyUsage(
                                    new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth})
                            : new ExtendedKeyUsage(KeyPurposeId.id_kp_clientAuth));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(certificate));
            if (!hosts.isEmpty()) {
                List<GeneralName> names = new ArrayList<>();
                for (String h : hosts) {
                    names.add(
                            isIpLiteral(h)
                                    ? new GeneralName(GeneralName.iPAddress, h)
                                    : new GeneralName(GeneralName.dNSName, h));
                }
                b.addExtension(
                        Extension.subjectAlternativeName, false, new GeneralNames(names.toArray(GeneralName[]::new)));
            }
            return new Issued(sign(b, key), pair.getPrivate(), certificate, role);
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot issue a certificate for " + name + ": " + e.getMessage(), e);
        }
    }

    /** Issues a certificate valid from now for {@link #VALIDITY}. */
    public Issued issue(String name, Role role, List<String> hosts) throws IOException {
        Instant now = Instant.now();
        return issue(name, role, hosts, now.minusSeconds(300), now.plus(VALIDITY));
    }

    private static boolean isIpLiteral(String host) {
        try {
            InetAddress.ofLiteral(host);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer) throws GeneralSecurityException {
        try {
            return new JcaX509CertificateConverter()
                    .getCertificate(b.build(new JcaContentSignerBuilder(SIGNATURE).build(signer)));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException("cannot sign: " + e.getMessage(), e);
        }
    }

    private static BigInteger serial() {
        return new BigInteger(127, RANDOM).add(BigInteger.ONE);
    }

    private static KeyPair newKeyPair() throws IOException {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IOException("no EC P-256 key generator: " + e.getMessage(), e);
        }
    }

    private static void writePublic(Path file, X509Certificate cert) throws IOException {
        try {
            write(file, pem("CERTIFICATE", cert.getEncoded()), "rw-r--r--");
        } catch (CertificateEncodingException e) {
            throw new IOException("cannot encode certificate", e);
        }
    }

    private static void writePrivate(Path file, PrivateKey key) throws IOException {
        write(file, pem("PRIVATE KEY", key.getEncoded()), "rw-------");
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n"
                + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }

    /** Writes a file with the given permissions from the start, then renames it into place. */
    private static void write(Path file, String content, String permissions) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp" + Long.toHexString(RANDOM.nextLong()));
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(permissions)));
        try {
            try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.US_ASCII)) {
                w.write(content);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
