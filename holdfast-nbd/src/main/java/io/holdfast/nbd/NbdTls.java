package io.holdfast.nbd;

import io.holdfast.transport.TlsFiles;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.util.List;
import javax.net.ssl.SSLException;

/**
 * The TLS side of the NBD server: a Netty server context from a Holdfast TLS directory
 * ({@link TlsFiles}), for NBD_OPT_STARTTLS ("The NBD protocol", section "TLS support").
 *
 * <p>The server presents {@code NAME.crt} (re-read when it is rotated, as {@link TlsFiles}
 * does) and requires a client certificate issued by the CA in {@code ca.crt}: mutual TLS, as
 * everywhere in Holdfast. TLS 1.3 is preferred; TLS 1.2 is offered too because the protocol says
 * implementations MUST support it ("Security considerations", "TLS versions"). Stateless and
 * thread-safe.
 */
final class NbdTls {
    /** Protocol versions offered, best first. */
    static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

    private NbdTls() {}

    /**
     * A server context presenting {@code files}' certificate and trusting only its CA.
     *
     * @throws IOException if the JDK's TLS implementation refuses the material
     */
    static SslContext serverContext(TlsFiles files) throws IOException {
        try {
            return SslContextBuilder.forServer(files.keyManager())
                    .trustManager(files.trustManager())
                    .clientAuth(ClientAuth.REQUIRE)
                    .protocols(PROTOCOLS)
                    .sslProvider(SslProvider.JDK)
                    .build();
        } catch (SSLException e) {
            throw new IOException(
                    "cannot serve TLS with the certificate in " + files.directory() + ": " + e.getMessage(), e);
        }
    }
}
