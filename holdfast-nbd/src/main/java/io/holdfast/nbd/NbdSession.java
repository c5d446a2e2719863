package io.holdfast.nbd;

import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.transport.Peer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.ReadOnlyFileSystemException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.ArrayDeque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * One client connection: the fixed newstyle handshake, then the transmission phase ("The NBD
 * protocol", {@code doc/proto.md}).
 *
 * <p><b>Handshake.</b> Options are answered one at a time (the client may not send the next
 * before the reply); NBD_OPT_GO, NBD_OPT_INFO and NBD_OPT_EXPORT_NAME open the export on an I/O
 * thread while the connection does not read. Supported: EXPORT_NAME, ABORT, LIST, INFO, GO,
 * STRUCTURED_REPLY, LIST_META_CONTEXT and SET_META_CONTEXT ({@code base:allocation}), and
 * STARTTLS unless the server's TLS mode is OFF (then NBD_REP_ERR_POLICY). Any other option gets
 * NBD_REP_ERR_UNSUP; malformed option data NBD_REP_ERR_INVALID, and data over 64 KiB
 * NBD_REP_ERR_TOO_BIG (skipped unread). A handshake that takes longer than the configured timeout
 * is ended.
 *
 * <p><b>TLS</b> ("TLS support"). NBD_OPT_STARTTLS is answered with NBD_REP_ACK in plaintext,
 * then a TLS handler goes in front of the decoder and everything after is encrypted; a failed TLS
 * handshake ends the connection. Bytes the client sent after NBD_OPT_STARTTLS without waiting for
 * the reply are not taken into the TLS session (they would be plaintext injected into it): the
 * connection is closed. Structured replies and the metadata context negotiated before the upgrade
 * are forgotten (the client must negotiate them again). In REQUIRE mode, before the upgrade,
 * every option but STARTTLS and ABORT is answered with NBD_REP_ERR_TLS_REQD (EXPORT_NAME, which
 * cannot be answered with an error, ends the connection); STARTTLS once TLS is up gets
 * NBD_REP_ERR_INVALID.
 *
 * <p><b>Transmission.</b> Requests are checked on the event loop (flags, bounds, read-only) and
 * answered at once with an error if wrong; the others run on I/O threads, several at once, and
 * are answered in the order they finish. At most {@code maxRequestsInFlight} requests and
 * {@code maxBytesInFlight} bytes of READ/WRITE payload are in progress per connection; past that
 * the connection stops reading until some finish. NBD_CMD_DISC waits for the requests in
 * progress, then closes. A wrong request magic is a hard disconnect (the stream cannot be
 * followed any more); a WRITE over 32 MiB has its payload skipped and gets EINVAL.
 *
 * <p><b>Durability.</b> A WRITE, TRIM or WRITE_ZEROES is answered once the device accepted it
 * (for a Holdfast image: ordered in the client's write-back window). NBD_CMD_FLUSH, and
 * NBD_CMD_FLAG_FUA on any command, are answered only after {@link BlockDevice#flush} returned,
 * i.e. when every write answered before is committed by a majority of the volume's replicas.
 *
 * <p>Netty calls it on the channel's event loop; the fields below are touched there only, I/O
 * threads hand their results back through {@code ctx.executor()}.
 */
final class NbdSession extends ChannelInboundHandlerAdapter {
    private static final System.Logger LOG = System.getLogger(NbdSession.class.getName());

    /** Bits a client may set in its flags. */
    private static final int KNOWN_CLIENT_FLAGS = Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES;

    private enum Phase {
        HANDSHAKE,
        /** An option is being answered; the connection does not read. */
        OPTION_PENDING,
        TRANSMISSION,
        CLOSED
    }

    private final NbdServer.Config config;
    private final ExportProvider exports;
    private final Executor io;
    private final NbdDecoder decoder;
    /** The TLS context, or null when the server does not offer TLS. */
    private final SslContext ssl;

    private ChannelHandlerContext ctx;
    /** Whether NBD_OPT_STARTTLS was accepted (everything since goes through TLS). */
    private boolean tls;
    /** The identity of the client's certificate once TLS is up, else null (plaintext: no identity). */
    private volatile Peer client;
    /** Why the client's certificate carries no usable identity, or null. */
    private volatile String badIdentity;

    private Phase phase = Phase.HANDSHAKE;
    private boolean noZeroes;
    private boolean structured;
    /** The export name SET_META_CONTEXT selected base:allocation for, or null. */
    private String metaExport;

    // ---- transmission state
    private BlockDevice device;
    private long size;
    private boolean readOnly;
    private boolean blockStatus;
    private int inFlight;
    private long bytesInFlight;
    private final ArrayDeque<NbdMessage.Request> waiting = new ArrayDeque<>();
    private boolean disconnecting;
    private boolean released;

    NbdSession(NbdServer.Config config, ExportProvider exports, Executor io, NbdDecoder decoder, SslContext ssl) {
        if ((ssl == null) != (config.tlsMode() == NbdServer.TlsMode.OFF)) {
            throw new IllegalArgumentException(
                    "TLS mode " + config.tlsMode() + " with" + (ssl == null ? "out" : "") + " a TLS context");
        }
        this.config = config;
        this.exports = exports;
        this.io = io;
        this.decoder = decoder;
        this.ssl = ssl;
    }

    // ---- connection lifecycle ------------------------------------------------------------

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        ctx.writeAndFlush(Replies.greeting(ctx.alloc(), Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES));
        ctx.executor()
                .schedule(
                        () -> {
                            if (phase == Phase.HANDSHAKE || phase == Phase.OPTION_PENDING) {
                                LOG.log(Level.DEBUG, () -> ctx.channel() + ": handshake timed out");
                                ctx.close();
                            }
                        },
                        config.handshakeTimeout().toMillis(),
                        TimeUnit.MILLISECONDS);
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        phase = Phase.CLOSED;
        waiting.clear();
        releaseWhenIdle();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.log(Level.DEBUG, () -> ctx.channel() + ": closing after " + cause, cause);
        ctx.close();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SslHandshakeCompletionEvent e) {
            if (e.isSuccess()) {
                LOG.log(Level.DEBUG, () -> ctx.channel() + ": TLS with " + peer(ctx));
                identify(ctx);
            } else {
                // the other side's certificate (or lack of one) was refused, or it refused ours
                LOG.log(
                        Level.INFO,
                        () -> "NBD client " + ctx.channel().remoteAddress() + ": TLS handshake failed: "
                                + describe(e.cause()));
                phase = Phase.CLOSED;
                ctx.close();
            }
        }
        ctx.fireUserEventTriggered(evt);
    }

    /**
     * Takes the client's identity from its certificate, as a node does for a client of its own
     * ({@link Peer#of}: the subject's CN and role, and the IP address the connection comes from).
     */
    private void identify(ChannelHandlerContext ctx) {
        SslHandler h = ctx.pipeline().get(SslHandler.class);
        String address = ctx.channel().remoteAddress() instanceof InetSocketAddress a && a.getAddress() != null
                ? a.getAddress().getHostAddress()
                : "";
        try {
            Certificate[] chain = h.engine().getSession().getPeerCertificates();
            if (chain.length == 0 || !(chain[0] instanceof X509Certificate cert)) {
                badIdentity = "the client's certificate is not X.509";
                return;
            }
            Peer p = Peer.of(cert, address);
            client = p;
            LOG.log(Level.DEBUG, () -> ctx.channel() + ": client identity " + p);
        } catch (SSLPeerUnverifiedException | IllegalArgumentException e) {
            String why = "the client's certificate names no Holdfast identity: " + e.getMessage();
            badIdentity = why;
            LOG.log(Level.INFO, () -> "NBD client " + ctx.channel().remoteAddress() + ": " + why);
        }
    }

    /** The subject of the client's certificate, for the log. */
    private static String peer(ChannelHandlerContext ctx) {
        SslHandler h = ctx.pipeline().get(SslHandler.class);
        try {
            return h == null
                    ? "no TLS"
                    : h.engine().getSession().getPeerPrincipal().getName() + " ("
                            + h.engine().getSession().getProtocol() + ")";
        } catch (SSLPeerUnverifiedException e) {
            return "an unverified peer";
        }
    }

    private void releaseWhenIdle() {
        if (phase == Phase.CLOSED && inFlight == 0 && !released) {
            released = true;
            BlockDevice d = device;
            device = null;
            if (d != null) {
                closeQuietly(d);
            }
        }
    }

    private void closeQuietly(BlockDevice d) {
        try {
            io.execute(() -> {
                try {
                    d.close();
                } catch (IOException | RuntimeException e) {
                    LOG.log(Level.WARNING, "closing " + d + " failed", e);
                }
            });
        } catch (RejectedExecutionException e) {
            try {
                d.close();
            } catch (IOException | RuntimeException x) {
                LOG.log(Level.WARNING, "closing " + d + " failed", x);
            }
        }
    }

    private void setReading(boolean on) {
        if (ctx.channel().config().isAutoRead() != on) {
            ctx.channel().config().setAutoRead(on);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (phase == Phase.CLOSED) {
            return;
        }
        switch ((NbdMessage) msg) {
            case NbdMessage.ClientFlags f -> clientFlags(f.flags());
            case NbdMessage.Option o -> option(o);
            case NbdMessage.Request r -> request(r);
            case NbdMessage.Violation v -> {
                LOG.log(Level.DEBUG, () -> ctx.channel() + ": " + v.reason() + "; disconnecting");
                ctx.close();
            }
        }
    }

    // ---- handshake -------------------------------------------------------------------------

    private void clientFlags(int flags) {
        if ((flags & ~KNOWN_CLIENT_FLAGS) != 0) {
            // "the server MUST drop the TCP connection if the client sets an unknown flag"
            LOG.log(Level.DEBUG, () -> ctx.channel() + ": unknown client flags 0x" + Integer.toHexString(flags));
            ctx.close();
            return;
        }
        noZeroes = (flags & Nbd.FLAG_C_NO_ZEROES) != 0;
        decoder.resume(ctx, NbdDecoder.State.OPTION);
    }

    private void send(ByteBuf b) {
        ctx.write(b);
    }

    private void nextOption() {
        ctx.flush();
        phase = Phase.HANDSHAKE;
        setReading(true);
        decoder.resume(ctx, NbdDecoder.State.OPTION);
    }

    private void optionError(int option, int type, String message) {
        send(Replies.optionError(ctx.alloc(), option, type, message));
        nextOption();
    }

    private void option(NbdMessage.Option o) {
        int opt = o.option();
        if (config.tlsMode() == NbdServer.TlsMode.REQUIRE && !tls && opt != Nbd.OPT_STARTTLS && opt != Nbd.OPT_ABORT) {
            if (opt == Nbd.OPT_EXPORT_NAME) {
                // "as this request cannot error, it MUST terminate the session"
                LOG.log(Level.DEBUG, () -> ctx.channel() + ": NBD_OPT_EXPORT_NAME before TLS; disconnecting");
                phase = Phase.CLOSED;
                ctx.close();
                return;
            }
            optionError(
                    opt,
                    Nbd.REP_ERR_TLS_REQD,
                    "this server requires TLS: upgrade with NBD_OPT_STARTTLS first (an nbds:// URI, with the"
                            + " certificates of the cluster CA)");
            return;
        }
        if (o.tooBig()) {
            optionError(
                    opt,
                    Nbd.REP_ERR_TOO_BIG,
                    "option data of " + o.length() + " bytes is larger than this server's limit of "
                            + Nbd.MAX_OPTION_BYTES);
            return;
        }
        try {
            switch (opt) {
                case Nbd.OPT_EXPORT_NAME, Nbd.OPT_INFO, Nbd.OPT_GO -> openExport(o);
                case Nbd.OPT_ABORT -> {
                    phase = Phase.CLOSED;
                    ctx.writeAndFlush(Replies.option(ctx.alloc(), opt, Nbd.REP_ACK, new byte[0]))
                            .addListener(ChannelFutureListener.CLOSE);
                }
                case Nbd.OPT_LIST -> list(o);
                case Nbd.OPT_STARTTLS -> startTls(o);
                case Nbd.OPT_STRUCTURED_REPLY -> {
                    new OptionData(o.data()).end("NBD_OPT_STRUCTURED_REPLY");
                    structured = true;
                    send(Replies.option(ctx.alloc(), opt, Nbd.REP_ACK, new byte[0]));
                    nextOption();
                }
                case Nbd.OPT_LIST_META_CONTEXT, Nbd.OPT_SET_META_CONTEXT -> metaContext(o);
                default -> optionError(opt, Nbd.REP_ERR_UNSUP, "option " + opt + " is not supported by this server");
            }
        } catch (OptionData.Malformed e) {
            if (opt == Nbd.OPT_SET_META_CONTEXT) {
                metaExport = null; // a failed SET_META_CONTEXT still replaces the selection
            }
            if (opt == Nbd.OPT_EXPORT_NAME) {
                ctx.close(); // cannot be answered with an error
            } else {
                optionError(opt, Nbd.REP_ERR_INVALID, e.getMessage());
            }
        }
    }

    private void startTls(NbdMessage.Option o) throws OptionData.Malformed {
        int opt = o.option();
        if (ssl == null) {
            optionError(opt, Nbd.REP_ERR_POLICY, "TLS is not offered by this server");
            return;
        }
        if (tls) {
            optionError(opt, Nbd.REP_ERR_INVALID, "TLS is already in use on this connection");
            return;
        }
        new OptionData(o.data()).end("NBD_OPT_STARTTLS");
        if (decoder.buffered() > 0) {
            // the client did not wait for the reply: what it sent would be read as if it came through TLS
            LOG.log(
                    Level.DEBUG,
                    () -> ctx.channel() + ": " + decoder.buffered()
                            + " bytes sent after NBD_OPT_STARTTLS before its reply; disconnecting");
            phase = Phase.CLOSED;
            ctx.close();
            return;
        }
        // the reply goes out in plaintext: written (into the channel's buffer) before the TLS handler is added
        ctx.writeAndFlush(Replies.option(ctx.alloc(), opt, Nbd.REP_ACK, new byte[0]));
        tls = true;
        structured = false; // "it MUST renegotiate structured replies and any other dependent extensions"
        metaExport = null;
        ctx.pipeline().addFirst("tls", ssl.newHandler(ctx.alloc()));
        nextOption();
    }

    private void list(NbdMessage.Option o) throws OptionData.Malformed {
        new OptionData(o.data()).end("NBD_OPT_LIST");
        Peer who = client;
        List<String> names = !tls ? exports.list() : who != null ? exports.list(who) : List.of();
        for (String name : names) {
            send(Replies.server(ctx.alloc(), name));
        }
        send(Replies.option(ctx.alloc(), Nbd.OPT_LIST, Nbd.REP_ACK, new byte[0]));
        nextOption();
    }

    private void metaContext(NbdMessage.Option o) throws OptionData.Malformed {
        int opt = o.option();
        boolean set = opt == Nbd.OPT_SET_META_CONTEXT;
        if (set) {
            metaExport = null;
        }
        if (!structured) {
            optionError(opt, Nbd.REP_ERR_INVALID, "negotiate NBD_OPT_STRUCTURED_REPLY first");
            return;
        }
        OptionData d = new OptionData(o.data());
        String export = d.string(d.u32("export name length"), "export name");
        long queries = d.u32("number of queries");
        if (queries > Nbd.MAX_META_QUERIES) {
            optionError(opt, Nbd.REP_ERR_TOO_BIG, queries + " queries; at most " + Nbd.MAX_META_QUERIES);
            return;
        }
        boolean allocation = !set && queries == 0; // LIST with no query: everything there is
        for (long i = 0; i < queries; i++) {
            String q = d.string(d.u32("query length"), "query");
            if (q.indexOf(':') <= 0) {
                throw new OptionData.Malformed("query '" + q + "' does not start with a namespace and a colon");
            }
            if (q.equals(Nbd.BASE_ALLOCATION) || (!set && q.equals("base:"))) {
                allocation = true;
            }
            // other namespaces and leaf names are ignored, as the protocol requires
        }
        d.end(set ? "NBD_OPT_SET_META_CONTEXT" : "NBD_OPT_LIST_META_CONTEXT");
        if (allocation) {
            send(Replies.metaContext(ctx.alloc(), opt, set ? Nbd.BASE_ALLOCATION_ID : 0, Nbd.BASE_ALLOCATION));
            if (set) {
                metaExport = export;
            }
        }
        send(Replies.option(ctx.alloc(), opt, Nbd.REP_ACK, new byte[0]));
        nextOption();
    }

    /** What NBD_OPT_INFO / NBD_OPT_GO asked for. */
    private record InfoRequest(String name, Set<Integer> infos) {}

    private void openExport(NbdMessage.Option o) throws OptionData.Malformed {
        int opt = o.option();
        InfoRequest req;
        OptionData d = new OptionData(o.data());
        if (opt == Nbd.OPT_EXPORT_NAME) {
            req = new InfoRequest(d.string(d.remaining(), "export name"), Set.of());
        } else {
            String name = d.string(d.u32("export name length"), "export name");
            int n = d.u16("number of information requests");
            Set<Integer> infos = new LinkedHashSet<>();
            for (int i = 0; i < n; i++) {
                infos.add(d.u16("information request"));
            }
            d.end(opt == Nbd.OPT_GO ? "NBD_OPT_GO" : "NBD_OPT_INFO");
            req = new InfoRequest(name, infos);
        }
        phase = Phase.OPTION_PENDING;
        setReading(false);
        try {
            io.execute(() -> {
                BlockDevice dev = null;
                Throwable failure = null;
                long sz = 0;
                try {
                    dev = openAs(req.name());
                    sz = dev.size();
                } catch (IOException | RuntimeException e) {
                    failure = e;
                    if (dev != null) {
                        try {
                            dev.close();
                        } catch (IOException | RuntimeException x) {
                            e.addSuppressed(x);
                        }
                        dev = null;
                    }
                }
                BlockDevice opened = dev;
                Throwable failed = failure;
                long openedSize = sz;
                ctx.executor().execute(() -> opened(opt, req, opened, openedSize, failed));
            });
        } catch (RejectedExecutionException e) {
            optionError(opt, Nbd.REP_ERR_SHUTDOWN, "the server is shutting down");
        }
    }

    /**
     * Opens an export for this client: with the identity of its certificate over TLS (the
     * provider decides what it may do), else as the gateway (plaintext has no identity).
     * Runs on an I/O thread, after the TLS handshake that set the identity.
     */
    private BlockDevice openAs(String name) throws IOException {
        if (!tls) {
            return exports.open(name);
        }
        Peer who = client;
        if (who == null) {
            String why = badIdentity;
            throw new AccessDeniedException(name, null, why != null ? why : "no client identity");
        }
        return exports.open(name, who);
    }

    private int transmissionFlags(boolean ro) {
        int f = Nbd.FLAG_HAS_FLAGS
                | Nbd.FLAG_SEND_FLUSH
                | Nbd.FLAG_SEND_FUA
                | Nbd.FLAG_SEND_TRIM
                | Nbd.FLAG_SEND_WRITE_ZEROES
                | Nbd.FLAG_SEND_FAST_ZERO
                | Nbd.FLAG_SEND_CACHE
                | Nbd.FLAG_CAN_MULTI_CONN;
        if (structured) {
            f |= Nbd.FLAG_SEND_DF;
        }
        if (ro) {
            f |= Nbd.FLAG_READ_ONLY;
        }
        return f;
    }

    private void opened(int opt, InfoRequest req, BlockDevice dev, long sz, Throwable failure) {
        if (phase == Phase.CLOSED) {
            if (dev != null) {
                closeQuietly(dev);
            }
            return;
        }
        if (failure != null) {
            // a refusal by policy is the operator's business (a client without the rights it expected)
            LOG.log(
                    failure instanceof AccessDeniedException ? Level.INFO : Level.DEBUG,
                    () -> "NBD client "
                            + (client != null ? client : ctx.channel().remoteAddress()) + ": export '" + req.name()
                            + "' refused: " + describe(failure));
            if (opt == Nbd.OPT_EXPORT_NAME) {
                ctx.close(); // "If the server is unwilling to allow the export, it MUST terminate the session"
                return;
            }
            int type = failure instanceof AccessDeniedException ? Nbd.REP_ERR_POLICY : Nbd.REP_ERR_UNKNOWN;
            optionError(opt, type, describe(failure));
            return;
        }
        boolean ro = dev.readOnly();
        int flags = transmissionFlags(ro);
        if (opt == Nbd.OPT_EXPORT_NAME) {
            send(Replies.exportName(ctx.alloc(), sz, flags, noZeroes));
        } else {
            send(Replies.infoExport(ctx.alloc(), opt, sz, flags));
            send(Replies.infoBlockSize(ctx.alloc(), opt));
            if (req.infos().contains(Nbd.INFO_NAME)) {
                send(Replies.infoString(ctx.alloc(), opt, Nbd.INFO_NAME, dev.name()));
            }
            if (req.infos().contains(Nbd.INFO_DESCRIPTION)) {
                send(Replies.infoString(ctx.alloc(), opt, Nbd.INFO_DESCRIPTION, "Holdfast block image " + dev.name()));
            }
            send(Replies.option(ctx.alloc(), opt, Nbd.REP_ACK, new byte[0]));
        }
        if (opt == Nbd.OPT_INFO) {
            closeQuietly(dev);
            nextOption();
            return;
        }
        device = dev;
        size = sz;
        readOnly = ro;
        blockStatus = structured && req.name().equals(metaExport);
        phase = Phase.TRANSMISSION;
        ctx.flush();
        setReading(true);
        decoder.resume(ctx, NbdDecoder.State.TRANSMISSION);
    }

    // ---- transmission ----------------------------------------------------------------------

    private void request(NbdMessage.Request r) {
        if (disconnecting || phase != Phase.TRANSMISSION) {
            return; // nothing may follow NBD_CMD_DISC
        }
        if (r.type() == Nbd.CMD_DISC) {
            disconnecting = true;
            closeIfDone();
            return;
        }
        Refusal refusal = check(r);
        if (refusal != null) {
            replyError(r, refusal.error(), refusal.message());
            ctx.flush();
            return;
        }
        waiting.add(r);
        dispatch();
    }

    private static long payload(NbdMessage.Request r) {
        return r.type() == Nbd.CMD_READ || r.type() == Nbd.CMD_WRITE ? r.length() : 0;
    }

    /** Starts waiting requests while the limits allow; stops reading when they do not. */
    private void dispatch() {
        while (!waiting.isEmpty() && phase == Phase.TRANSMISSION) {
            NbdMessage.Request r = waiting.peek();
            long bytes = payload(r);
            if (inFlight > 0
                    && (inFlight >= config.maxRequestsInFlight()
                            || bytesInFlight + bytes > config.maxBytesInFlight())) {
                break;
            }
            waiting.poll();
            inFlight++;
            bytesInFlight += bytes;
            BlockDevice dev = device;
            try {
                io.execute(() -> execute(dev, r));
            } catch (RejectedExecutionException e) {
                inFlight--;
                bytesInFlight -= bytes;
                replyError(r, Nbd.ESHUTDOWN, "the server is shutting down");
                ctx.flush();
            }
        }
        setReading(waiting.isEmpty() && inFlight < config.maxRequestsInFlight());
    }

    private void finished(NbdMessage.Request r) {
        inFlight--;
        bytesInFlight -= payload(r);
        if (phase == Phase.CLOSED) {
            releaseWhenIdle();
            return;
        }
        dispatch();
        closeIfDone();
    }

    private void closeIfDone() {
        if (disconnecting && inFlight == 0 && waiting.isEmpty()) {
            phase = Phase.CLOSED;
            ctx.close();
        }
    }

    /** Why a request is refused before any I/O: the NBD error and a message for a human. */
    private record Refusal(int error, String message) {}

    private static Refusal einval(String message) {
        return new Refusal(Nbd.EINVAL, message);
    }

    /**
     * Checks a request before any I/O: returns null if it may run, else the error to answer (the
     * protocol's "Request types" and "Error values").
     */
    private Refusal check(NbdMessage.Request r) {
        int type = r.type();
        int allowed = Nbd.CMD_FLAG_FUA
                | switch (type) {
                    case Nbd.CMD_READ -> structured ? Nbd.CMD_FLAG_DF : 0;
                    case Nbd.CMD_WRITE_ZEROES -> Nbd.CMD_FLAG_NO_HOLE | Nbd.CMD_FLAG_FAST_ZERO;
                    case Nbd.CMD_BLOCK_STATUS -> Nbd.CMD_FLAG_REQ_ONE;
                    default -> 0;
                };
        String name = Nbd.commandName(type);
        if ((r.flags() & ~allowed) != 0) {
            return einval("command flags 0x" + Integer.toHexString(r.flags()) + " are not valid for " + name);
        }
        boolean inside = r.offset() >= 0 && r.offset() <= size && r.length() <= size - r.offset();
        String range = "offset " + Long.toUnsignedString(r.offset()) + " + length " + r.length()
                + " is beyond the export's size of " + size + " bytes";
        return switch (type) {
            case Nbd.CMD_READ -> {
                if (r.length() > Nbd.MAX_PAYLOAD_BYTES) {
                    yield einval(name + " of " + r.length() + " bytes exceeds the maximum payload of "
                            + Nbd.MAX_PAYLOAD_BYTES);
                }
                yield inside ? null : einval(range);
            }
            case Nbd.CMD_WRITE -> {
                if (r.payloadDropped()) {
                    yield einval(name + " of " + r.length() + " bytes exceeds the maximum payload of "
                            + Nbd.MAX_PAYLOAD_BYTES);
                }
                if (readOnly) {
                    yield new Refusal(Nbd.EPERM, "the export is read-only");
                }
                yield inside ? null : new Refusal(Nbd.ENOSPC, range);
            }
            case Nbd.CMD_WRITE_ZEROES -> {
                if (readOnly) {
                    yield new Refusal(Nbd.EPERM, "the export is read-only");
                }
                yield inside ? null : new Refusal(Nbd.ENOSPC, range);
            }
            case Nbd.CMD_TRIM -> {
                if (readOnly) {
                    yield new Refusal(Nbd.EPERM, "the export is read-only");
                }
                yield inside ? null : einval(range);
            }
            case Nbd.CMD_FLUSH ->
                r.offset() == 0 && r.length() == 0 ? null : einval(name + " must have offset and length 0");
            case Nbd.CMD_CACHE -> inside ? null : einval(range);
            case Nbd.CMD_BLOCK_STATUS -> {
                if (!blockStatus) {
                    yield einval("no metadata context was selected for this export (NBD_OPT_SET_META_CONTEXT)");
                }
                if (r.length() == 0) {
                    yield einval(name + " of length 0");
                }
                yield inside ? null : einval(range);
            }
            default -> einval("unknown command " + type);
        };
    }

    /** Runs one request on an I/O thread and sends its reply. */
    private void execute(BlockDevice dev, NbdMessage.Request r) {
        ByteBufAllocator alloc = ctx.alloc();
        try {
            boolean fua = (r.flags() & Nbd.CMD_FLAG_FUA) != 0;
            ByteBuf reply = switch (r.type()) {
                case Nbd.CMD_READ -> read(dev, r, alloc);
                case Nbd.CMD_WRITE -> {
                    dev.write(r.data(), r.offset());
                    yield ok(r, alloc, dev, fua);
                }
                case Nbd.CMD_FLUSH -> ok(r, alloc, dev, true);
                case Nbd.CMD_TRIM -> {
                    dev.trim(r.offset(), r.length());
                    yield ok(r, alloc, dev, fua);
                }
                case Nbd.CMD_WRITE_ZEROES -> {
                    boolean mayDeallocate = (r.flags() & Nbd.CMD_FLAG_NO_HOLE) == 0;
                    boolean fastOnly = (r.flags() & Nbd.CMD_FLAG_FAST_ZERO) != 0;
                    if (!dev.zero(r.offset(), r.length(), mayDeallocate, fastOnly)) {
                        yield errorReply(
                                r,
                                alloc,
                                Nbd.ENOTSUP,
                                "zeroing without making a hole is not faster than writing zeros here");
                    }
                    yield ok(r, alloc, dev, fua);
                }
                case Nbd.CMD_CACHE -> ok(r, alloc, dev, false); // nothing to warm: every read asks the volume
                case Nbd.CMD_BLOCK_STATUS -> {
                    boolean one = (r.flags() & Nbd.CMD_FLAG_REQ_ONE) != 0;
                    List<BlockDevice.Extent> extents =
                            dev.extents(r.offset(), r.length(), one ? 1 : config.maxExtentsPerReply());
                    yield Replies.blockStatus(alloc, r.cookie(), Nbd.BASE_ALLOCATION_ID, extents);
                }
                default -> throw new IllegalStateException("unchecked command " + r.type());
            };
            ctx.writeAndFlush(reply);
        } catch (IOException | RuntimeException e) {
            int errno = errno(e);
            // a failure of the volume is the operator's business; a refusal of the client's request is not
            LOG.log(
                    errno == Nbd.EIO ? Level.WARNING : Level.DEBUG,
                    () -> ctx.channel() + ": " + Nbd.commandName(r.type()) + " at " + r.offset() + " (+" + r.length()
                            + ") of " + dev.name() + " failed: " + e,
                    e);
            ctx.writeAndFlush(errorReply(r, alloc, errno, describe(e)));
        } finally {
            ctx.executor().execute(() -> finished(r));
        }
    }

    private ByteBuf read(BlockDevice dev, NbdMessage.Request r, ByteBufAllocator alloc) throws IOException {
        ByteBuffer data = ByteBuffer.allocate((int) r.length());
        dev.read(data, r.offset());
        data.flip();
        if (!structured) {
            return Replies.simpleData(alloc, r.cookie(), data);
        }
        return data.hasRemaining()
                ? Replies.offsetData(alloc, r.cookie(), r.offset(), data)
                : Replies.none(alloc, r.cookie());
    }

    private ByteBuf ok(NbdMessage.Request r, ByteBufAllocator alloc, BlockDevice dev, boolean flush)
            throws IOException {
        if (flush) {
            dev.flush();
        }
        return structured ? Replies.none(alloc, r.cookie()) : Replies.simple(alloc, 0, r.cookie());
    }

    private ByteBuf errorReply(NbdMessage.Request r, ByteBufAllocator alloc, int error, String message) {
        return structured ? Replies.error(alloc, r.cookie(), error, message) : Replies.simple(alloc, error, r.cookie());
    }

    private void replyError(NbdMessage.Request r, int error, String message) {
        send(errorReply(r, ctx.alloc(), error, message));
    }

    /** The NBD error for a failure ("Error values"). */
    static int errno(Throwable e) {
        if (e instanceof ReadOnlyFileSystemException || e instanceof AccessDeniedException) {
            return Nbd.EPERM;
        }
        if (e instanceof ErrnoFileSystemException x) {
            return switch (x.errno()) {
                case EPERM, EACCES, EROFS -> Nbd.EPERM;
                case ENOSPC, EFBIG -> Nbd.ENOSPC;
                case EINVAL -> Nbd.EINVAL;
                case EOVERFLOW -> Nbd.EOVERFLOW;
                default -> Nbd.EIO;
            };
        }
        return Nbd.EIO;
    }

    /** A one-line description of a failure for a human. */
    static String describe(Throwable e) {
        if (e instanceof NoSuchFileException n) {
            return "no such export: " + n.getFile() + (n.getReason() != null ? " (" + n.getReason() + ")" : "");
        }
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }
}
