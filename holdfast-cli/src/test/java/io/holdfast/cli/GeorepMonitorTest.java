package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.georep.GeoStatus;
import io.holdfast.server.admin.AdminOptions;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class GeorepMonitorTest {
    private final AtomicReference<GeoStatus> status = new AtomicReference<>(status(0, 100, 100));
    private final ByteArrayOutputStream printed = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8);

    private static GeoStatus status(double lagSeconds, long position, long feedIndex) {
        return new GeoStatus(
                "mail-dr",
                GeoStatus.Phase.TAILING,
                position,
                1_700_000_000_000_000_000L,
                feedIndex,
                lagSeconds,
                feedIndex - position,
                7,
                7 * 4096,
                2,
                3,
                0,
                1,
                0,
                0);
    }

    @Test
    void theRpoAlertIsPrintedOnceWhenBreachedAndOnceWhenMetAgain() throws Exception {
        try (GeorepMonitor m = new GeorepMonitor("mail-dr", "mail", 5, status::get, AdminOptions.off(), out)) {
            m.check();
            assertThat(m.breached()).isFalse();
            status.set(status(5, 100, 120)); // at the RPO is within it
            m.check();
            status.set(status(7.5, 100, 140));
            m.check();
            m.check();
            assertThat(m.breached()).isTrue();
            status.set(status(0, 140, 140));
            m.check();
            assertThat(m.breached()).isFalse();
            assertThat(m.uri()).isNull();
        }
        assertThat(printed.toString(StandardCharsets.UTF_8).lines())
                .containsExactly(
                        "georep mail-dr: RPO BREACHED: lag 7.5 s (40 entries behind) is above the RPO of 5 s",
                        "georep mail-dr: within the RPO again: lag 0.0 s (RPO 5 s)");
    }

    @Test
    void anRpoOfZeroNeverAlerts() throws Exception {
        status.set(status(3600, 1, 1_000_000));
        try (GeorepMonitor m = new GeorepMonitor("mail-dr", "mail", 0, status::get, AdminOptions.off(), out)) {
            m.check();
            assertThat(m.breached()).isFalse();
        }
        assertThat(printed.size()).isZero();
    }

    @Test
    void aNegativeRpoIsRefused() {
        assertThatThrownBy(() -> new GeorepMonitor("s", "v", -1, status::get, AdminOptions.off(), out))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("RPO");
    }

    @Test
    void metricsStatusJsonAndThePageShowTheCurrentLag() throws Exception {
        try (GeorepMonitor m =
                        new GeorepMonitor("mail-dr", "mail", 5, status::get, AdminOptions.at("127.0.0.1", 0), out);
                HttpClient http = HttpClient.newHttpClient()) {
            URI base = m.uri();
            assertThat(base.getHost()).isEqualTo("127.0.0.1");
            status.set(status(12.25, 100, 160));

            String metrics = get(http, base.resolve("/metrics"));
            String tags = "{session=\"mail-dr\",volume=\"mail\"}";
            assertThat(metrics)
                    .contains("holdfast_georep_lag_seconds" + tags + " 12.25")
                    .contains("holdfast_georep_lag_entries" + tags + " 60.0")
                    .contains("holdfast_georep_position" + tags + " 100.0")
                    .contains("holdfast_georep_feed_index" + tags + " 160.0")
                    .contains("holdfast_georep_rpo_seconds" + tags + " 5.0")
                    .contains("holdfast_georep_rpo_breached" + tags + " 1.0")
                    .contains("holdfast_georep_files_copied_total" + tags + " 7.0")
                    .contains("holdfast_georep_bytes_copied_total" + tags + " 28672.0");

            JsonNode json = new ObjectMapper().readTree(get(http, base.resolve("/status.json")));
            assertThat(json.get("format").asText()).isEqualTo("holdfast-georep-status");
            assertThat(json.get("rpoBreached").asBoolean()).isTrue();
            assertThat(json.get("status").get("lagSeconds").asDouble()).isEqualTo(12.25);
            assertThat(json.get("status").get("position").asLong()).isEqualTo(100);

            String page = get(http, base.resolve("/"));
            assertThat(page).contains("georep mail-dr").contains("12.3 s").contains("above the RPO of 5 s");

            status.set(status(0, 160, 160));
            assertThat(get(http, base.resolve("/metrics"))).contains("holdfast_georep_rpo_breached" + tags + " 0.0");
        }
    }

    @Test
    void aBadMetricsAddressIsAClearError() {
        assertThatThrownBy(() -> StatusServer.metricsAddress("localhost"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--metrics must be HOST:PORT");
        assertThat(StatusServer.metricsAddress("off").enabled()).isFalse();
        assertThat(StatusServer.metricsAddress("127.0.0.1:9470").port()).isEqualTo(9470);
    }

    private static String get(HttpClient http, URI uri) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(uri.toString()).isEqualTo(200);
        return r.body();
    }
}
