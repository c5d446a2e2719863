package io.holdfast.server.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's admin HTTP port (the JDK's {@code com.sun.net.httpserver}), read-only and
 * unauthenticated:
 *
 * <table>
 *   <caption>Endpoints</caption>
 *   <tr><th>GET</th><th>answer</th></tr>
 *   <tr><td>{@code /}</td><td>the status page, HTML ({@link StatusPage}); reloads itself every 2 s</td></tr>
 *   <tr><td>{@code /status.json}</td><td>the same {@link StatusReport}, as JSON</td></tr>
 *   <tr><td>{@code /metrics}</td><td>Prometheus text format ({@link NodeMetrics})</td></tr>
 *   <tr><td>{@code /healthz}</td><td>{@code ok}: the process serves</td></tr>
 * </table>
 *
 * <p>Any other path is 404; any other method 405 (with {@code Allow: GET}). Query strings are
 * ignored; request bodies are never read (closing the exchange discards at most the JDK's
 * drain amount, 64 KiB, then drops the connection). Requests are handled by {@value #THREADS}
 * threads with a queue of {@value #QUEUE}; a connection arriving while both are full is
 * closed without an answer. A client that sends its request slowly holds a thread meanwhile:
 * another reason to keep the port on loopback or a trusted network. Pages carry a
 * Content-Security-Policy that allows no scripts and no external resources.
 *
 * <p>Lifecycle: {@link #start} binds and serves; {@link #close} stops (idempotent).
 * Thread-safe.
 */
public final class AdminServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AdminServer.class);
    /** Request handler threads. */
    static final int THREADS = 2;
    /** Requests waiting for a handler thread, at most. */
    static final int QUEUE = 16;

    private static final ObjectWriter JSON = new ObjectMapper().writerWithDefaultPrettyPrinter();

    /** What the admin port shows. */
    public interface Source {
        /** The status report, fresh. */
        StatusReport status();

        /** Every metric, in Prometheus text format. */
        String metrics();
    }

    /**
     * What an admin port shows, already rendered: for a process that is not a node (the
     * geo-replication worker) and has a status of its own. Called on a handler thread, once per
     * request; must be thread-safe.
     */
    public interface Pages {
        /** {@code GET /}: a whole HTML page (it should reload itself, as the node's does). */
        String html();

        /** {@code GET /status.json}: a JSON document, ending with a newline. */
        String json();

        /** {@code GET /metrics}: Prometheus text format 0.0.4. */
        String metrics();
    }

    private final HttpServer http;
    private final ThreadPoolExecutor handlers;
    private final URI uri;

    private AdminServer(HttpServer http, ThreadPoolExecutor handlers, URI uri) {
        this.http = http;
        this.handlers = handlers;
        this.uri = uri;
    }

    /**
     * Binds {@code options}'s address and starts serving {@code source}.
     *
     * @throws IllegalArgumentException if {@code options} is disabled
     * @throws IOException if the address cannot be bound; the message names it and says to pass
     *     {@code --admin-address} (a {@link BindException} if the port is in use)
     */
    public static AdminServer start(AdminOptions options, Source source) throws IOException {
        return serve(options, new Pages() {
            @Override
            public String html() {
                return StatusPage.render(source.status());
            }

            @Override
            public String json() {
                return AdminServer.json(source.status());
            }

            @Override
            public String metrics() {
                return source.metrics();
            }
        });
    }

    /**
     * Binds {@code options}'s address and starts serving {@code pages}, with the same endpoints,
     * limits and errors as {@link #start}.
     *
     * @throws IllegalArgumentException if {@code options} is disabled
     * @throws IOException if the address cannot be bound, as {@link #start}
     */
    public static AdminServer serve(AdminOptions options, Pages pages) throws IOException {
        if (!options.enabled()) {
            throw new IllegalArgumentException("admin port is off");
        }
        InetSocketAddress address = new InetSocketAddress(options.host(), options.port());
        if (address.isUnresolved()) {
            throw new IOException(
                    "cannot resolve the admin address " + options + "; pass --admin-address HOST:PORT (or off)");
        }
        HttpServer http;
        try {
            http = HttpServer.create(address, QUEUE);
        } catch (BindException e) {
            String why = String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT).contains("in use")
                    ? "is in use"
                    : "cannot be bound (" + e.getMessage() + ")";
            BindException b = new BindException(
                    "admin port " + options + " " + why + "; pass --admin-address HOST:PORT, or --admin-address off");
            b.initCause(e);
            throw b;
        } catch (IOException e) {
            throw new IOException(
                    "cannot listen on admin address " + options + ": " + e.getMessage() + "; pass --admin-address", e);
        }
        AtomicInteger n = new AtomicInteger();
        ThreadPoolExecutor handlers = new ThreadPoolExecutor(
                THREADS,
                THREADS,
                0,
                TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(QUEUE),
                r -> {
                    Thread t = new Thread(r, "holdfast-admin-" + options + "-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                },
                new ThreadPoolExecutor.AbortPolicy()); // the JDK server closes a connection it cannot hand over
        http.setExecutor(handlers);
        http.createContext("/", exchange -> handle(exchange, pages));
        http.start();
        InetSocketAddress bound = http.getAddress();
        URI uri = URI.create("http://" + AdminOptions.at(bound.getAddress().getHostAddress(), bound.getPort()) + "/");
        return new AdminServer(http, handlers, uri);
    }

    /**
     * {@code s} escaped for HTML text and attribute values ({@code < > & " '}), as the status
     * pages escape every text they show.
     */
    public static String escapeHtml(String s) {
        return StatusPage.esc(s);
    }

    /** The bound address, e.g. {@code http://127.0.0.1:8001/} (the actual port if 0 was asked for). */
    public URI uri() {
        return uri;
    }

    private static void handle(HttpExchange exchange, Pages pages) {
        try {
            String path = exchange.getRequestURI().getPath();
            if (!"GET".equals(exchange.getRequestMethod())) {
                exchange.getResponseHeaders().set("Allow", "GET");
                send(exchange, 405, "text/plain; charset=utf-8", "method not allowed: only GET\n");
                return;
            }
            switch (path == null ? "" : path) {
                case "/" -> send(exchange, 200, "text/html; charset=utf-8", pages.html());
                case "/status.json" -> send(exchange, 200, "application/json", pages.json());
                case "/metrics" -> send(exchange, 200, NodeMetrics.CONTENT_TYPE, pages.metrics());
                case "/healthz" -> send(exchange, 200, "text/plain; charset=utf-8", "ok\n");
                default ->
                    send(
                            exchange,
                            404,
                            "text/plain; charset=utf-8",
                            "not found; try /, /status.json, /metrics or /healthz\n");
            }
        } catch (IOException e) {
            LOG.debug("admin request failed: {}", e.toString()); // the client went away
        } catch (RuntimeException e) {
            LOG.warn("admin request {} failed", exchange.getRequestURI(), e);
            try {
                send(
                        exchange,
                        500,
                        "text/plain; charset=utf-8",
                        "internal error: " + e.getClass().getSimpleName() + "\n");
            } catch (IOException | RuntimeException ignored) {
                // headers were sent already, or the client went away
            }
        } finally {
            exchange.close();
        }
    }

    private static String json(StatusReport r) {
        try {
            return JSON.writeValueAsString(r) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the status as JSON", e); // a bug: answered with 500
        }
    }

    private static void send(HttpExchange exchange, int status, String contentType, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        var h = exchange.getResponseHeaders();
        h.set("Content-Type", contentType);
        h.set("Cache-Control", "no-store");
        h.set("X-Content-Type-Options", "nosniff");
        h.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    /** Stops listening and serving at once. Idempotent. */
    @Override
    public void close() {
        http.stop(0);
        handlers.shutdownNow();
    }
}
