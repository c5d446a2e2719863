package io.holdfast.server.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.BindException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The admin port's endpoints, against a fixed report, on an ephemeral loopback port. */
class AdminServerTest {
    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private AdminServer server;

    @BeforeEach
    void start() throws Exception {
        server = AdminServer.start(AdminOptions.at("127.0.0.1", 0), new AdminServer.Source() {
            @Override
            public StatusReport status() {
                return StatusPageTest.report("mail", "127.0.0.1:7003", true);
            }

            @Override
            public String metrics() {
                return "# TYPE holdfast_ops_total counter\nholdfast_ops_total{op=\"Write\"} 3.0\n";
            }
        });
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private HttpResponse<String> send(String method, String path) throws Exception {
        HttpRequest.Builder b =
                HttpRequest.newBuilder(server.uri().resolve(path)).timeout(Duration.ofSeconds(10));
        b.method(
                method,
                method.equals("GET")
                        ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString("ignored"));
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void servesThePageTheJsonTheMetricsAndHealth() throws Exception {
        assertThat(server.uri().toString()).matches("http://127\\.0\\.0\\.1:\\d+/");
        HttpResponse<String> page = send("GET", "/");
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
        assertThat(page.headers().firstValue("Content-Security-Policy").orElseThrow())
                .contains("default-src 'none'");
        assertThat(page.body()).contains("data-node=\"127.0.0.1:7003\" data-state=\"down\"");

        HttpResponse<String> json = send("GET", "/status.json?pretty=ignored");
        assertThat(json.statusCode()).isEqualTo(200);
        JsonNode doc = new ObjectMapper().readTree(json.body());
        assertThat(doc.get("reporter").asText()).isEqualTo("node 127.0.0.1:7001");
        assertThat(doc.get("nodes")).hasSize(3);
        assertThat(doc.get("nodes").get(2).get("up").asBoolean()).isFalse();
        assertThat(doc.get("groups").get(0).get("health").asText()).isEqualTo("degraded");
        assertThat(doc.get("groups")
                        .get(0)
                        .get("members")
                        .get(2)
                        .get("lagEntries")
                        .asLong())
                .isEqualTo(9);

        HttpResponse<String> metrics = send("GET", "/metrics");
        assertThat(metrics.statusCode()).isEqualTo(200);
        assertThat(metrics.headers().firstValue("Content-Type")).hasValue(NodeMetrics.CONTENT_TYPE);
        assertThat(metrics.body()).contains("holdfast_ops_total{op=\"Write\"} 3.0");

        HttpResponse<String> health = send("GET", "/healthz");
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.body()).isEqualTo("ok\n");
    }

    @Test
    void unknownPathsAre404AndOtherMethods405() throws Exception {
        assertThat(send("GET", "/nope").statusCode()).isEqualTo(404);
        assertThat(send("GET", "/metrics/extra").statusCode()).isEqualTo(404);
        for (String method : new String[] {"POST", "PUT", "DELETE", "HEAD"}) {
            HttpResponse<String> r = send(method, "/");
            assertThat(r.statusCode()).as(method).isEqualTo(405);
            assertThat(r.headers().firstValue("Allow")).as(method).hasValue("GET");
        }
    }

    @Test
    void aTakenPortIsAClearError() {
        URI taken = server.uri();
        assertThatThrownBy(() -> AdminServer.start(AdminOptions.at("127.0.0.1", taken.getPort()), null))
                .isInstanceOf(BindException.class)
                .hasMessage("admin port 127.0.0.1:" + taken.getPort()
                        + " is in use; pass --admin-address HOST:PORT, or --admin-address off");
    }
}
