package io.holdfast.transport;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A directory of TLS material in PEM: {@code ca.crt} (the cluster CA, the only trust anchor),
 * {@code NAME.crt} (this side's certificate) and {@code NAME.key} (its PKCS#8 private key,
 * mode 0600). {@code NAME} is {@code node} in a node's data directory and {@code client} in a
 * client's directory.
 *
 * <p><b>Rotation:</b> the key manager re-reads {@code NAME.crt} and {@code NAME.key} when their
 * modification time or size changes (checked at most once a second, on a handshake), so a node
 * or client presents a new certificate on new connections without a restart; established
 * connections keep theirs. Replace both files atomically (write elsewhere, then rename); a
 * pair that does not load (a key that does not match, a half-written file) is ignored with a
 * warning and the previous pair stays in use. The CA is read once.
 *
 * <p>Private keys are never logged or put in exception messages. Thread-safe.
 */
public final class TlsFiles {
    private static final Logger LOG = LoggerFactory.getLogger(TlsFiles.class);
    /** The CA certificate's file name. */
    public static final String CA_FILE = "ca.crt";
    /** TLS protocol versions offered: 1.3 only. */
    public static final List<String> PROTOCOLS = List.of("TLSv1.3");

    private static final long RECHECK_NANOS = 1_000_000_000L;

    private final Path dir;
    private final String name;
    private final X509Certificate ca;
    private final TrustManager trustManager;
    private final ReloadingKeyManager keyManager;

    private TlsFiles(Path dir, String name) throws IOException {
        this.dir = dir;
        this.name = name;
        List<X509Certificate> cas = readCertificates(dir.resolve(CA_FILE));
        this.ca = cas.getFirst();
        this.trustManager = trustManagerFor(ca);
        this.keyManager = new ReloadingKeyManager();
    }

    /**
     * Loads {@code ca.crt}, {@code NAME.crt} and {@code NAME.key} from {@code dir}, and checks
     * that the certificate was issued by the CA ({@link #checkIssuedByCa}).
     *
     * @param name {@code node} or {@code client}
     * @throws IOException if a file is missing or unreadable, does not parse, or the certificate
     *     was not issued by the CA in {@code ca.crt}; the message names the file but never
     *     includes key material
     */
    public static TlsFiles load(Path dir, String name) throws IOException {
        TlsFiles files = read(dir, name);
        files.checkIssuedByCa();
        return files;
    }

    /**
     * As {@link #load}, without checking the certificate's signature against the CA: for a
     * one-shot client, where that check is a noticeable part of start-up and the node checks
     * the certificate anyway; call {@link #checkIssuedByCa} to explain a refused handshake.
     *
     * @throws IOException if a file is missing or unreadable or does not parse
     */
    public static TlsFiles read(Path dir, String name) throws IOException {
        for (String f : List.of(CA_FILE, name + ".crt", name + ".key")) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                throw new NoSuchFileException(
                        dir.resolve(f).toString(),
                        null,
                        "missing TLS file (expected " + CA_FILE + ", " + name + ".crt and " + name + ".key in " + dir
                                + ")");
            }
        }
        return new TlsFiles(dir, name);
    }

    /**
     * Checks that the certificate presented was issued (signed) by the CA in {@code ca.crt}.
     *
     * @throws IOException if it was not, naming both files
     */
    public void checkIssuedByCa() throws IOException {
        try {
            certificate().verify(ca.getPublicKey());
        } catch (GeneralSecurityException e) {
            throw new IOException(certFile() + " was not issued by the CA in " + dir.resolve(CA_FILE));
        }
    }

    /** The directory. */
    public Path directory() {
        return dir;
    }

    /** This side's certificate file. */
    public Path certFile() {
        return dir.resolve(name + ".crt");
    }

    /** This side's private key file. */
    public Path keyFile() {
        return dir.resolve(name + ".key");
    }

    /** The CA certificate. */
    public X509Certificate ca() {
        return ca;
    }

    /** The certificate currently presented (re-read after rotation). */
    public X509Certificate certificate() {
        return keyManager.current().chain[0];
    }

    /** Key manager presenting this side's certificate (reloads on rotation). */
    public X509ExtendedKeyManager keyManager() {
        return keyManager;
    }

    /** Trust manager accepting exactly the certificates the CA issued (and still valid). */
    public TrustManager trustManager() {
        return trustManager;
    }

    /**
     * Reads every certificate in a PEM file.
     *
     * @throws IOException if the file cannot be read or holds no certificate
     */
    public static List<X509Certificate> readCertificates(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            List<X509Certificate> certs = CertificateFactory.getInstance("X.509").generateCertificates(in).stream()
                    .map(X509Certificate.class::cast)
                    .toList();
            if (certs.isEmpty()) {
                throw new IOException(file + " holds no certificate");
            }
            return certs;
        } catch (CertificateException e) {
            throw new IOException(file + " is not a PEM certificate: " + e.getMessage());
        }
    }

    /**
     * Reads a PKCS#8 private key ({@code -----BEGIN PRIVATE KEY-----}), EC or RSA.
     *
     * @throws IOException if the file cannot be read or is not such a key (the message never
     *     contains the file's content)
     */
    public static PrivateKey readPrivateKey(Path file) throws IOException {
        String pem = Files.readString(file, StandardCharsets.US_ASCII);
        int begin = pem.indexOf("-----BEGIN PRIVATE KEY-----");
        int end = pem.indexOf("-----END PRIVATE KEY-----");
        if (begin < 0 || end < begin) {
            throw new IOException(file + " is not a PKCS#8 PEM private key (BEGIN PRIVATE KEY)");
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(pem.substring(begin + 27, end));
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": private key is not valid base64");
        }
        for (String alg : List.of("EC", "RSA", "Ed25519")) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException e) {
                // try the next algorithm
            }
        }
        throw new IOException(file + ": unsupported or corrupt private key");
    }

    private static TrustManager trustManagerFor(X509Certificate ca) throws IOException {
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setCertificateEntry("holdfast-ca", ca);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
            tmf.init(ks);
            return tmf.getTrustManagers()[0];
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot build a trust manager for the cluster CA: " + e.getMessage(), e);
        }
    }

    private record Loaded(List<FileTime> stamp, X509ExtendedKeyManager delegate, X509Certificate[] chain) {}

    /** Delegates to a key manager built from the current files; rebuilds it when they change. */
    private final class ReloadingKeyManager extends X509ExtendedKeyManager {
        private volatile Loaded loaded;
        private volatile long checkedAt;

        ReloadingKeyManager() throws IOException {
            this.loaded = load(stamp());
            this.checkedAt = System.nanoTime();
        }

        private List<FileTime> stamp() throws IOException {
            return List.of(
                    Files.getLastModifiedTime(certFile()),
                    FileTime.fromMillis(Files.size(certFile())),
                    Files.getLastModifiedTime(keyFile()),
                    FileTime.fromMillis(Files.size(keyFile())));
        }

        private Loaded load(List<FileTime> stamp) throws IOException {
            List<X509Certificate> chain = readCertificates(certFile());
            PrivateKey key = readPrivateKey(keyFile());
            try {
                // an in-memory store only, never written: JKS protects the key with one cheap pass,
                // where PKCS12 runs 10,000 PBE iterations to store it and again to read it back
                // (about half a second of a client's start-up)
                KeyStore ks = KeyStore.getInstance("JKS");
                ks.load(null, null);
                char[] none = new char[0];
                ks.setKeyEntry(name, key, none, chain.toArray(X509Certificate[]::new));
                KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
                kmf.init(ks, none);
                return new Loaded(
                        stamp, (X509ExtendedKeyManager) kmf.getKeyManagers()[0], chain.toArray(X509Certificate[]::new));
            } catch (GeneralSecurityException e) {
                throw new IOException(keyFile() + " does not match " + certFile() + " or cannot be used");
            }
        }

        synchronized Loaded current() {
            long now = System.nanoTime();
            if (now - checkedAt < RECHECK_NANOS) {
                return loaded;
            }
            checkedAt = now;
            try {
                List<FileTime> stamp = stamp();
                if (!stamp.equals(loaded.stamp())) {
                    Loaded fresh = load(stamp);
                    fresh.chain[0].verify(ca.getPublicKey());
                    loaded = fresh;
                    LOG.info(
                            "TLS certificate {} reloaded: serial {}, valid until {}",
                            certFile(),
                            fresh.chain[0].getSerialNumber().toString(16),
                            fresh.chain[0].getNotAfter().toInstant());
                }
            } catch (IOException | GeneralSecurityException e) {
                LOG.warn(
                        "TLS certificate {} changed but cannot be used ({}); still presenting serial {}",
                        certFile(),
                        e.getMessage(),
                        loaded.chain[0].getSerialNumber().toString(16));
            }
            return loaded;
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return current().delegate().getClientAliases(keyType, issuers);
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return current().delegate().chooseClientAlias(keyType, issuers, socket);
        }

        @Override
        public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
            return current().delegate().chooseEngineClientAlias(keyType, issuers, engine);
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return current().delegate().getServerAliases(keyType, issuers);
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return current().delegate().chooseServerAlias(keyType, issuers, socket);
        }

        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
            return current().delegate().chooseEngineServerAlias(keyType, issuers, engine);
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return current().delegate().getCertificateChain(alias);
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return current().delegate().getPrivateKey(alias);
        }
    }
}
