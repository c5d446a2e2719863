package io.holdfast.nbd;

import io.holdfast.transport.Peer;
import io.holdfast.transport.TlsFiles;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.channel.socket.nio.NioServerDomainSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import jdk.net.ExtendedSocketOptions;

/**
 * An NBD server: serves the exports of an {@link ExportProvider} to any NBD client (qemu,
 * {@code nbdcopy}, {@code nbdinfo}, libnbd, {@code nbd-client} and the Linux kernel), following
 * "The NBD protocol" ({@code doc/proto.md} of the NetworkBlockDevice/nbd repository): the fixed
 * newstyle handshake with NBD_OPT_GO, NBD_OPT_INFO, NBD_OPT_LIST, NBD_OPT_ABORT,
 * NBD_OPT_STRUCTURED_REPLY and the {@code base:allocation} metadata context; the commands READ,
 * WRITE, FLUSH, TRIM, WRITE_ZEROES (with NBD_CMD_FLAG_FAST_ZERO and NO_HOLE), CACHE,
 * BLOCK_STATUS and DISC, and the flag FUA; NBD_OPT_STARTTLS as {@link Config#tlsMode} says
 * (section "TLS support"). Not offered: extended headers, resizing.
 *
 * <p><b>TLS</b> ({@link TlsMode}): with {@link TlsMode#REQUIRE} (the protocol's FORCEDTLS mode)
 * every option other than NBD_OPT_STARTTLS and NBD_OPT_ABORT is answered with
 * NBD_REP_ERR_TLS_REQD until the client has upgraded, and NBD_OPT_EXPORT_NAME before that ends
 * the connection; with {@link TlsMode#ON} the client may upgrade or not; with {@link TlsMode#OFF}
 * (NOTLS) NBD_OPT_STARTTLS gets NBD_REP_ERR_POLICY. The server presents the certificate of
 * {@link Config#tls} and requires the client to present one issued by the same CA (mutual TLS;
 * TLS 1.3 or 1.2, which the protocol requires implementations to support). Nothing negotiated
 * before the upgrade (structured replies, metadata contexts) carries over into TLS.
 * Over TLS, exports are opened with the identity of the client's certificate
 * ({@link ExportProvider#open(String, Peer)}), which may refuse the export
 * (NBD_REP_ERR_POLICY) or serve it read-only; a plaintext client has no identity
 * ({@link ExportProvider#open(String)}).
 *
 * <p><b>Durability</b> (as the devices give it; for a Holdfast image see
 * {@link VolumeExports}): a write is answered once ordered in the volume client's write-back
 * window; NBD_CMD_FLUSH and a command with NBD_CMD_FLAG_FUA are answered only once every write
 * answered before is committed by a majority of the volume's replicas. Connections to one export
 * share one device, so a flush on any of them covers the writes answered on all of them
 * (NBD_FLAG_CAN_MULTI_CONN is set).
 *
 * <p><b>Limits</b> ({@link Config}): connections, requests and payload bytes in flight per
 * connection, the handshake's duration, option data (64 KiB), strings (4096 bytes), READ and
 * WRITE payloads (32 MiB). Nothing a client sends can make the server fail: a malformed request
 * gets the protocol's error and the connection goes on, or the connection is closed where the
 * protocol says the stream cannot be followed.
 *
 * <p><b>Keepalive.</b> TCP connections have {@code SO_KEEPALIVE} with a probe after
 * {@value #KEEPALIVE_IDLE_SECONDS} s of silence, every {@value #KEEPALIVE_INTERVAL_SECONDS} s,
 * {@value #KEEPALIVE_PROBES} unanswered probes ending it: a client that vanished without closing
 * (host down, cable cut) releases its connection slot and image within about three minutes. There
 * is no idle timeout in the transmission phase: "The NBD protocol" ("Terminating the transmission
 * phase") allows the server a hard disconnect only on a violation or at shutdown, and an idle
 * client (a VM whose disk is quiet) is neither. The handshake has its timeout.
 *
 * <p>Threads: two Netty event loops ({@code nbd-net-*}) for the network, and a virtual thread per
 * request in progress ({@code nbd-io-*}) for the device calls, which block. Thread-safe; start with
 * {@link #start}, stop with {@link #close}.
 */
public final class NbdServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(NbdServer.class.getName());

    /** The NBD port registered with IANA: 10809. */
    public static final int DEFAULT_PORT = 10809;

    /** Seconds of silence on a TCP connection before the first keepalive probe: 60. */
    public static final int KEEPALIVE_IDLE_SECONDS = 60;
    /** Seconds between keepalive probes: 10. */
    public static final int KEEPALIVE_INTERVAL_SECONDS = 10;
    /** Unanswered keepalive probes after which the kernel ends the connection: 12. */
    public static final int KEEPALIVE_PROBES = 12;

    /**
     * Whether and how a server offers TLS through NBD_OPT_STARTTLS ("The NBD protocol", section
     * "TLS support", "Server-side requirements").
     */
    public enum TlsMode {
        /** NOTLS: no TLS; NBD_OPT_STARTTLS is refused with NBD_REP_ERR_POLICY. */
        OFF,
        /**
         * TLS offered, not required: a client may upgrade with NBD_OPT_STARTTLS or go on in
         * plaintext (the protocol's SELECTIVETLS with no TLS-only export).
         */
        ON,
        /**
         * FORCEDTLS: before the upgrade, every option other than NBD_OPT_STARTTLS and
         * NBD_OPT_ABORT is answered with NBD_REP_ERR_TLS_REQD, and NBD_OPT_EXPORT_NAME ends the
         * connection.
         */
        REQUIRE
    }

    /**
     * Settings of a server.
     *
     * @param bind address to listen on: an {@link InetSocketAddress} (port 0: any free port) or a
     *     {@link UnixDomainSocketAddress} (a socket file that must not exist yet; it is made
     *     readable and writable by this user only, and removed on {@link #close})
     * @param maxConnections connections served at once; more are closed at once (default 64)
     * @param maxRequestsInFlight requests one connection may have in progress (default 128)
     * @param maxBytesInFlight READ and WRITE payload bytes one connection may have in progress
     *     (default 64 MiB; one request of up to 32 MiB always goes)
     * @param handshakeTimeout how long a connection may take to reach the transmission phase,
     *     the TLS handshake included (default 30 s)
     * @param maxExtentsPerReply extents in one BLOCK_STATUS reply (default 256)
     * @param tlsMode whether TLS is offered or required (default {@link TlsMode#OFF})
     * @param tls the server's certificate and key and the CA that clients' certificates must be
     *     issued by; required unless {@code tlsMode} is {@link TlsMode#OFF}, ignored then
     */
    public record Config(
            SocketAddress bind,
            int maxConnections,
            int maxRequestsInFlight,
            long maxBytesInFlight,
            Duration handshakeTimeout,
            int maxExtentsPerReply,
            TlsMode tlsMode,
            TlsFiles tls) {
        /**
         * @throws IllegalArgumentException if a limit is below 1 (a byte limit below 32 MiB), the
         *     timeout is not positive, or TLS is on without {@code tls}
         */
        public Config {
            Objects.requireNonNull(bind, "bind");
            if (!(bind instanceof InetSocketAddress) && !(bind instanceof UnixDomainSocketAddress)) {
                throw new IllegalArgumentException("not a TCP or Unix socket address: " + bind);
            }
            Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
            Objects.requireNonNull(tlsMode, "tlsMode");
            if (maxConnections < 1 || maxRequestsInFlight < 1 || maxExtentsPerReply < 1) {
                throw new IllegalArgumentException("limits must be at least 1");
            }
            if (maxBytesInFlight < Nbd.MAX_PAYLOAD_BYTES) {
                throw new IllegalArgumentException("maxBytesInFlight below 32 MiB: " + maxBytesInFlight);
            }
            if (handshakeTimeout.isNegative() || handshakeTimeout.isZero()) {
                throw new IllegalArgumentException("handshakeTimeout must be positive");
            }
            if (tlsMode != TlsMode.OFF && tls == null) {
                throw new IllegalArgumentException("TLS mode " + tlsMode + " needs a certificate");
            }
        }

        /** The defaults, listening on {@code bind}, without TLS. */
        public static Config defaults(SocketAddress bind) {
            return new Config(bind, 64, 128, 64L << 20, Duration.ofSeconds(30), 256, TlsMode.OFF, null);
        }

        /** These settings with another connection limit. */
        public Config withMaxConnections(int n) {
            return new Config(
                    bind, n, maxRequestsInFlight, maxBytesInFlight, handshakeTimeout, maxExtentsPerReply, tlsMode, tls);
        }

        /** These settings with another handshake timeout. */
        public Config withHandshakeTimeout(Duration d) {
            return new Config(
                    bind, maxConnections, maxRequestsInFlight, maxBytesInFlight, d, maxExtentsPerReply, tlsMode, tls);
        }

        /**
         * These settings with another TLS mode and certificate.
         *
         * @param files the server's certificate ({@code NAME.crt}, {@code NAME.key}) and the CA
         *     ({@code ca.crt}) the clients' certificates must be issued by; may be null with
         *     {@link TlsMode#OFF}
         * @throws IllegalArgumentException if {@code mode} is not OFF and {@code files} is null
         */
        public Config withTls(TlsMode mode, TlsFiles files) {
            return new Config(
                    bind,
                    maxConnections,
                    maxRequestsInFlight,
                    maxBytesInFlight,
                    handshakeTimeout,
                    maxExtentsPerReply,
                    mode,
                    mode == TlsMode.OFF ? null : files);
        }
    }

    private final Config config;
    private final EventLoopGroup group;
    private final ExecutorService io;
    private final ChannelGroup channels;
    private final Channel serverChannel;

    private NbdServer(Config config, EventLoopGroup group, ExecutorService io, ChannelGroup channels, Channel ch) {
        this.config = config;
        this.group = group;
        this.io = io;
        this.channels = channels;
        this.serverChannel = ch;
    }

    /**
     * Starts serving {@code exports} at {@code config.bind()}.
     *
     * @throws IOException if the address cannot be bound, or the TLS certificate cannot be used
     */
    public static NbdServer start(Config config, ExportProvider exports) throws IOException {
        Objects.requireNonNull(exports, "exports");
        SslContext ssl = config.tlsMode() == TlsMode.OFF ? null : NbdTls.serverContext(config.tls());
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(
                2, new DefaultThreadFactory("nbd-net", true), NioIoHandler.newFactory());
        ExecutorService io = Executors.newThreadPerTaskExecutor(
                Thread.ofVirtual().name("nbd-io-", 0).factory());
        ChannelGroup channels = new DefaultChannelGroup("nbd", GlobalEventExecutor.INSTANCE);
        AtomicInteger count = new AtomicInteger();
        boolean unix = config.bind() instanceof UnixDomainSocketAddress;
        ServerBootstrap b = new ServerBootstrap().group(group);
        if (unix) {
            b.channel(NioServerDomainSocketChannel.class);
        } else {
            b.channel(NioServerSocketChannel.class)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childOption(ChannelOption.SO_KEEPALIVE, true)
                    .childOption(NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPIDLE), KEEPALIVE_IDLE_SECONDS)
                    .childOption(
                            NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPINTERVAL), KEEPALIVE_INTERVAL_SECONDS)
                    .childOption(NioChannelOption.of(ExtendedSocketOptions.TCP_KEEPCOUNT), KEEPALIVE_PROBES);
        }
        b.childHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                if (count.incrementAndGet() > config.maxConnections()) {
                    count.decrementAndGet();
                    LOG.log(
                            Level.WARNING,
                            "refusing " + ch.remoteAddress() + ": " + config.maxConnections() + " connections already");
                    ch.close();
                    return;
                }
                ch.closeFuture().addListener(f -> count.decrementAndGet());
                channels.add(ch);
                NbdDecoder decoder = new NbdDecoder();
                ch.pipeline().addLast("decoder", decoder);
                ch.pipeline().addLast("session", new NbdSession(config, exports, io, decoder, ssl));
                ch.pipeline().addLast("last", new LastResort());
            }
        });
        Channel ch = null;
        try {
            ch = b.bind(config.bind()).syncUninterruptibly().channel();
            if (unix) {
                Files.setPosixFilePermissions(
                        ((UnixDomainSocketAddress) config.bind()).getPath(),
                        PosixFilePermissions.fromString("rw-------"));
            }
        } catch (RuntimeException | IOException e) {
            if (ch != null) {
                ch.close().syncUninterruptibly();
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            io.shutdownNow();
            throw new IOException("cannot listen on " + config.bind() + ": " + e.getMessage(), e);
        }
        return new NbdServer(config, group, io, channels, ch);
    }

    /**
     * The address the server listens on: an {@link InetSocketAddress} (with the port chosen when
     * {@code bind} had port 0) or the {@link UnixDomainSocketAddress} it was given.
     */
    public SocketAddress address() {
        return config.bind() instanceof UnixDomainSocketAddress u ? u : serverChannel.localAddress();
    }

    /** The TCP port the server listens on, or -1 on a Unix socket. */
    public int port() {
        return address() instanceof InetSocketAddress a ? a.getPort() : -1;
    }

    /** The settings. */
    public Config config() {
        return config;
    }

    /** Connections open now. */
    public int connections() {
        return channels.size();
    }

    /**
     * Stops listening, closes every connection (requests in progress finish first, their replies
     * may not reach the client) and waits up to 10 s for the I/O threads. Idempotent.
     */
    @Override
    public void close() {
        serverChannel.close().syncUninterruptibly();
        channels.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        io.shutdown();
        try {
            if (!io.awaitTermination(10, TimeUnit.SECONDS)) {
                LOG.log(Level.WARNING, "NBD requests still running after 10 s at shutdown");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        if (config.bind() instanceof UnixDomainSocketAddress u) {
            try {
                Files.deleteIfExists(u.getPath());
            } catch (IOException e) {
                LOG.log(Level.WARNING, "cannot remove the socket " + u.getPath() + ": " + e);
            }
        }
    }

    /** Logs what reaches the end of the pipeline (nothing should) and closes on an exception. */
    private static final class LastResort extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.log(Level.DEBUG, () -> ctx.channel() + ": closing after " + cause, cause);
            ctx.close();
        }
    }
}
