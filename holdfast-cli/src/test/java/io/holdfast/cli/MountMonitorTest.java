package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.client.nio.CacheStats;
import io.holdfast.client.nio.WriteBackStats;
import io.holdfast.server.admin.AdminOptions;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.FileSystems;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** {@code holdfast mount --metrics}: what the metrics, the JSON and the page say of the mount's statistics. */
class MountMonitorTest {
    private final AtomicReference<MountMonitor.Snapshot> stats = new AtomicReference<>(new MountMonitor.Snapshot(
            new CacheStats(7, 3, 42, 2, true),
            new WriteBackStats(100, 20, 1, 5),
            new MountMonitor.KernelStats(true, 9)));

    @Test
    void metricsStatusJsonAndThePageShowTheCurrentStatistics() throws Exception {
        try (MountMonitor m = new MountMonitor(stats::get, "mail", AdminOptions.at("127.0.0.1", 0));
                HttpClient http = HttpClient.newHttpClient()) {
            assertThat(m.uri().getHost()).isEqualTo("127.0.0.1");
            String tag = "{volume=\"mail\"}";
            assertThat(get(http, m.uri().resolve("/metrics")))
                    .contains("holdfast_mount_cache_hits_total" + tag + " 7.0")
                    .contains("holdfast_mount_cache_misses_total" + tag + " 3.0")
                    .contains("holdfast_mount_cache_entries" + tag + " 42.0")
                    .contains("holdfast_mount_cache_drops_total" + tag + " 2.0")
                    .contains("holdfast_mount_lease_valid" + tag + " 1.0")
                    .contains("holdfast_mount_writeback_changes_total" + tag + " 100.0")
                    .contains("holdfast_mount_writeback_requests_total" + tag + " 20.0")
                    .contains("holdfast_mount_writeback_failed_total" + tag + " 1.0")
                    .contains("holdfast_mount_writeback_pending" + tag + " 5.0")
                    .contains("holdfast_mount_kernel_caching" + tag + " 1.0")
                    .contains("holdfast_mount_kernel_invalidations_total" + tag + " 9.0");

            JsonNode json = new ObjectMapper().readTree(get(http, m.uri().resolve("/status.json")));
            assertThat(json.get("format").asText()).isEqualTo("holdfast-mount-status");
            assertThat(json.get("volume").asText()).isEqualTo("mail");
            assertThat(json.get("cacheHitRatio").asDouble()).isEqualTo(0.7);
            assertThat(json.get("cache").get("entries").asLong()).isEqualTo(42);
            assertThat(json.get("writeBack").get("pending").asLong()).isEqualTo(5);
            assertThat(json.get("kernelCache").get("invalidations").asLong()).isEqualTo(9);

            assertThat(get(http, m.uri().resolve("/")))
                    .contains("mount of mail")
                    .contains("7 hits, 3 misses (70.0 % hits), 42 entries, dropped 2 times")
                    .contains("100 changes in 20 requests (5.0 per request), 5 pending, 1 failed")
                    .contains("names and attributes cached under the lease; taken back 9 times");

            // read at every request
            stats.set(new MountMonitor.Snapshot(new CacheStats(0, 0, 0, 0, false), new WriteBackStats(0, 0, 0, 0)));
            assertThat(get(http, m.uri().resolve("/metrics")))
                    .contains("holdfast_mount_lease_valid" + tag + " 0.0")
                    .contains("holdfast_mount_kernel_caching" + tag + " 0.0");
            assertThat(new ObjectMapper()
                            .readTree(get(http, m.uri().resolve("/status.json")))
                            .get("cacheHitRatio")
                            .isNull())
                    .as("no ratio before the first lookup")
                    .isTrue();
            assertThat(get(http, m.uri().resolve("/")))
                    .contains("no lookups yet")
                    .contains("not held");
        }
    }

    @Test
    void onlyAHoldfastFileSystemIsMonitored() {
        assertThatThrownBy(() -> new MountMonitor(FileSystems.getDefault(), "v", AdminOptions.off()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not a Holdfast file system");
    }

    private static String get(HttpClient http, URI uri) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(uri.toString()).isEqualTo(200);
        return r.body();
    }
}
