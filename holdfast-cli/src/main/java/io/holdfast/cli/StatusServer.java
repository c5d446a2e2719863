package io.holdfast.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import io.holdfast.server.admin.AdminOptions;
import io.holdfast.server.admin.AdminServer;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * The metrics and status page of a long-running client process that is not a node (a mount, a
 * replication worker): meters read from a status snapshot of type {@code T} at each scrape,
 * served by the node admin port's server ({@link AdminServer#serve}: {@code GET /},
 * {@code /status.json}, {@code /metrics} in Prometheus text format 0.0.4, {@code /healthz}).
 *
 * <p>Subclasses register their meters with {@link #gauge} and {@link #counter} in their
 * constructor, then call {@link #serve}. Thread safety: the HTTP handlers call {@link #html},
 * {@link #json} and the status supplier on their threads; {@link #close()} is idempotent.
 */
abstract class StatusServer<T> implements AutoCloseable {
    private static final ObjectWriter JSON = new ObjectMapper().writerWithDefaultPrettyPrinter();

    /** A fresh status snapshot, read at every scrape and page. */
    protected final Supplier<T> status;

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private AdminServer http;

    StatusServer(Supplier<T> status) {
        this.status = status;
    }

    /**
     * Starts serving at {@code where}, unless it is {@link AdminOptions#off()}.
     *
     * @throws IOException if the address cannot be bound (the message says which and how to change it)
     */
    final void serve(AdminOptions where) throws IOException {
        if (where.enabled()) {
            http = AdminServer.serve(where, new AdminServer.Pages() {
                @Override
                public String html() {
                    return StatusServer.this.html();
                }

                @Override
                public String json() {
                    return StatusServer.this.json();
                }

                @Override
                public String metrics() {
                    return registry.scrape();
                }
            });
        }
    }

    /**
     * Parses a {@code --metrics} option: {@code off} or {@code HOST:PORT}.
     *
     * @throws IllegalArgumentException naming the option, if it is neither
     */
    static AdminOptions metricsAddress(String spec) {
        try {
            return AdminOptions.parse(spec, null);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage().replace("--admin-address", "--metrics"), e);
        }
    }

    /** Where the page is served, if anywhere (the actual port if 0 was asked for). */
    final URI uri() {
        return http == null ? null : http.uri();
    }

    /** Every meter, in Prometheus text format. */
    final String scrape() {
        return registry.scrape();
    }

    /** {@code GET /}: a whole HTML page that reloads itself. */
    abstract String html();

    /** {@code GET /status.json}: a JSON document, ending with a newline. */
    abstract String json();

    /** A gauge {@code name} (dotted; Prometheus gets underscores and the unit appended). */
    final void gauge(String name, String unit, String help, Tags tags, ToDoubleFunction<T> value) {
        Gauge.builder(name, status, s -> value.applyAsDouble(s.get()))
                .strongReference(true)
                .baseUnit(unit)
                .description(help)
                .tags(tags)
                .register(registry);
    }

    /** A counter {@code name} (Prometheus gets {@code _total} appended), read from the status. */
    final void counter(String name, String help, Tags tags, ToDoubleFunction<T> value) {
        FunctionCounter.builder(name, status, s -> value.applyAsDouble(s.get()))
                .description(help)
                .tags(tags)
                .register(registry);
    }

    /** The start of a {@code /status.json} document: its {@code format} name and version 1. */
    static Map<String, Object> document(String format) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", format);
        m.put("version", 1);
        return m;
    }

    /** {@code m} as pretty-printed JSON and a newline. */
    static String toJson(Map<String, Object> m) {
        try {
            return JSON.writeValueAsString(m) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the status as JSON", e); // a bug: answered with 500
        }
    }

    /** The start of a page titled {@code title} that reloads every 2 s, up to its table's opening tag. */
    static StringBuilder page(String title) {
        String t = AdminServer.escapeHtml(title);
        return new StringBuilder()
                .append("<!doctype html><html><head><meta charset=\"utf-8\">")
                .append("<meta http-equiv=\"refresh\" content=\"2\">")
                .append("<title>")
                .append(t)
                .append("</title><style>body{font-family:sans-serif}td{padding:2px 12px}")
                .append(".bad{color:#b00;font-weight:bold}</style></head><body><h1>")
                .append(t)
                .append("</h1><table>");
    }

    /** Ends a {@link #page}: the table, links to the metrics and the JSON. */
    static String endPage(StringBuilder b) {
        return b.append("</table><p><a href=\"/metrics\">metrics</a> &middot; <a href=\"/status.json\">JSON</a></p>")
                .append("</body></html>\n")
                .toString();
    }

    /** A table row of a {@link #page}. */
    static void row(StringBuilder b, String name, String value) {
        b.append("<tr><td>")
                .append(AdminServer.escapeHtml(name))
                .append("</td><td>")
                .append(AdminServer.escapeHtml(value))
                .append("</td></tr>");
    }

    @Override
    public void close() {
        if (http != null) {
            http.close();
        }
        registry.close();
    }
}
