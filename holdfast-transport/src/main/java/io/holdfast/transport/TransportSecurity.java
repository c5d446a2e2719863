package io.holdfast.transport;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.grpc.GrpcTlsConfig;

/**
 * How a process protects its connections: mutual TLS 1.3 with the cluster CA (the default), or
 * plaintext when asked for by name ({@code --insecure}).
 *
 * <p>Immutable and thread-safe.
 *
 * @param tls the TLS material, or null for plaintext
 */
public record TransportSecurity(TlsFiles tls) {
    /** Client option: a directory (Path or String) with ca.crt, client.crt and client.key. */
    public static final String TLS_OPTION = "holdfast.tls";
    /** Client option: {@code true} (Boolean or String) for plaintext without authentication. */
    public static final String INSECURE_OPTION = "holdfast.insecure";
    /** Environment variable naming the client TLS directory. */
    public static final String TLS_ENV = "HOLDFAST_TLS";
    /** The warning every process prints when it runs plaintext. */
    public static final String INSECURE_WARNING =
            "WARNING: --insecure: connections are plaintext and unauthenticated; anyone who can reach a node"
                    + " can read and change every volume. Use only on a trusted, isolated network.";

    /** Plaintext, no authentication. */
    public static TransportSecurity plaintext() {
        return new TransportSecurity(null);
    }

    /** Mutual TLS with the given material. */
    public static TransportSecurity tls(TlsFiles files) {
        return new TransportSecurity(Objects.requireNonNull(files, "files"));
    }

    /** Whether this is plaintext. */
    public boolean isPlaintext() {
        return tls == null;
    }

    /**
     * The default client TLS directory: {@code $HOLDFAST_TLS}, else the system property
     * {@code holdfast.tls}, else {@code ~/.holdfast/tls}.
     */
    public static Path defaultClientDirectory() {
        String env = System.getenv(TLS_ENV);
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        String prop = System.getProperty(TLS_OPTION);
        if (prop != null && !prop.isBlank()) {
            return Path.of(prop);
        }
        return Path.of(System.getProperty("user.home"), ".holdfast", "tls");
    }

    /**
     * A client's security from its options ({@link #TLS_OPTION}, {@link #INSECURE_OPTION});
     * without either, the {@link #defaultClientDirectory()}. The client certificate is not
     * checked against the CA here ({@link TlsFiles#read}): the node does that in the handshake,
     * and a client explains a refused handshake with {@link TlsFiles#checkIssuedByCa}.
     *
     * @throws HoldfastException {@link Errno#EACCES} if no usable client certificate is found,
     *     with a message that says where it looked and how to get one
     * @throws IllegalArgumentException if an option has the wrong type
     */
    public static TransportSecurity forClient(Map<String, ?> env) throws HoldfastException {
        Object insecure = env.get(INSECURE_OPTION);
        if (insecure instanceof Boolean b ? b : insecure != null && Boolean.parseBoolean(insecure.toString())) {
            return plaintext();
        }
        Object dirOption = env.get(TLS_OPTION);
        Path dir = switch (dirOption) {
            case null -> defaultClientDirectory();
            case Path p -> p;
            case String s -> Path.of(s);
            default ->
                throw new IllegalArgumentException(TLS_OPTION + " must be a Path or String, got "
                        + dirOption.getClass().getName());
        };
        try {
            return tls(TlsFiles.read(dir, "client"));
        } catch (IOException e) {
            throw new HoldfastException(
                    Errno.EACCES,
                    "no usable client certificate: " + e.getMessage()
                            + ". Issue one with 'holdfast cert client NAME --out " + dir
                            + "' on the machine that holds the cluster CA,"
                            + " or point $" + TLS_ENV
                            + " (or --tls) at a directory with ca.crt, client.crt and client.key",
                    e);
        }
    }

    /** Ratis parameters carrying this security (empty for plaintext). */
    public Parameters parameters() {
        Parameters p = new Parameters();
        if (tls != null) {
            GrpcTlsConfig conf = GrpcTlsConfig.newBuilder()
                    .setKeyManager(tls.keyManager())
                    .setTrustManager(tls.trustManager())
                    .setMutualTls(true)
                    .setProtocols(TlsFiles.PROTOCOLS)
                    .build();
            GrpcConfigKeys.TLS.setConf(p, conf);
        }
        return p;
    }
}
