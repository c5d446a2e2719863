package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.client.HoldfastClient;
import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Access;
import io.holdfast.protocol.AclRule;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.LogFormat;
import io.holdfast.transport.Role;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Geo-replication sessions in the cluster map: recorded and removed by the admin, progress
 * reported by the admin or by a client the session's volume is exported to (and by nobody else),
 * hidden from clients that are not the admin, kept across restarts of every node, and refused
 * while a member of the cluster group runs code too old for them.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class GeorepSessionMapIT {
    private static final Duration WAIT = Duration.ofSeconds(90);

    @TempDir
    Path root;

    private static HoldfastClient connect(MiniCluster cluster, Path tls) throws HoldfastException {
        String a = cluster.addresses().get(0);
        int colon = a.lastIndexOf(':');
        return HoldfastClient.connect(
                a.substring(0, colon), Integer.parseInt(a.substring(colon + 1)), cluster.clientEnv(tls));
    }

    @Test
    void sessionsAreKeptInTheMapAndOnlyTheirVolumesClientsReportProgress() throws Exception {
        try (MiniCluster cluster = MiniCluster.start(root, 3, 20_000)) {
            cluster.createVolume("mail", 0, 1, 2);
            HoldfastClient admin = cluster.client();
            ClusterMap m = admin.admin().putGeorepSession("mail-dr", "mail", "/srv/dr/mail", 30_000);
            ClusterMap.GeorepSession s = m.georep().get("mail-dr");
            assertThat(s.volume()).isEqualTo("mail");
            assertThat(s.target()).isEqualTo("/srv/dr/mail");
            assertThat(s.rpoMillis()).isEqualTo(30_000);
            assertThat(s.createdNanos()).isPositive();
            assertThat(s.position()).isZero();
            assertThat(s.reportedNanos()).isZero();

            assertThatThrownBy(() -> admin.admin().putGeorepSession("x", "no-such-volume", "/x", 0))
                    .isInstanceOfSatisfying(
                            HoldfastException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT));
            assertThatThrownBy(() -> admin.admin().reportGeorepProgress("no-such-session", 1, 1))
                    .isInstanceOfSatisfying(
                            HoldfastException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT));

            // a client the volume is not exported to may neither report nor see the session
            Path mallory = cluster.issueClient("mallory", Role.CLIENT);
            try (HoldfastClient c = connect(cluster, mallory)) {
                assertThatThrownBy(() -> c.admin().reportGeorepProgress("mail-dr", 5, 5))
                        .isInstanceOfSatisfying(
                                HoldfastException.class,
                                e -> assertThat(e.errno()).isEqualTo(Errno.EACCES));
                assertThat(c.refreshMap().georep()).isEmpty();
            }
            // a read-only client of the volume (a worker) may report, not define
            admin.admin().addAclRule("mail", new AclRule("worker", "*", Access.READ_ONLY));
            Path worker = cluster.issueClient("worker", Role.CLIENT);
            long commit = System.currentTimeMillis() * 1_000_000L;
            try (HoldfastClient c = connect(cluster, worker)) {
                c.admin().reportGeorepProgress("mail-dr", 40, commit);
                c.admin().reportGeorepProgress("mail-dr", 20, commit - 1); // never backwards
                assertThat(c.refreshMap().georep())
                        .as("hidden from a client that is not the admin")
                        .isEmpty();
                assertThatThrownBy(() -> c.admin().putGeorepSession("mine", "mail", "/x", 0))
                        .isInstanceOfSatisfying(
                                HoldfastException.class,
                                e -> assertThat(e.errno()).isEqualTo(Errno.EACCES));
            }
            s = admin.refreshMap().georep().get("mail-dr");
            assertThat(s.position()).isEqualTo(40);
            assertThat(s.commitNanos()).isEqualTo(commit);
            assertThat(s.reportedNanos()).isPositive();
            assertThat(s.lagSeconds(40, System.currentTimeMillis() * 1_000_000L))
                    .isZero();
            assertThat(s.lagSeconds(41, commit + 3_000_000_000L)).isEqualTo(3.0);

            // every node shows the session on its status page, status.json and /metrics, without its target
            HttpClient http = HttpClient.newHttpClient();
            for (int i = 0; i < 3; i++) {
                URI status = cluster.adminUri(i);
                MiniCluster.await(
                        WAIT,
                        () -> get(http, status.resolve("/metrics"))
                                .lines()
                                .anyMatch(l -> l.startsWith("holdfast_georep_session_position{")
                                        && l.contains("session=\"mail-dr\"")
                                        && l.contains("volume=\"mail\"")
                                        && l.endsWith(" 40.0")),
                        "node " + i + " reports the session's position in its metrics");
                String metrics = get(http, status.resolve("/metrics"));
                assertThat(metrics).containsPattern("holdfast_georep_session_entries_behind\\{[^}]*mail-dr[^}]*\\} ");
                assertThat(metrics).containsPattern("holdfast_georep_session_rpo_seconds\\{[^}]*mail-dr[^}]*\\} 30.0");
                assertThat(get(http, status.resolve("/status.json")))
                        .containsPattern("\"name\"\\s*:\\s*\"mail-dr\"")
                        .doesNotContain("/srv/dr/mail");
                assertThat(get(http, status.resolve("/"))).contains("data-session=\"mail-dr\"");
            }

            // redefined with the same volume: the progress stays
            admin.admin().putGeorepSession("mail-dr", "mail", "/srv/dr2/mail", 0);
            assertThat(admin.refreshMap().georep().get("mail-dr").position()).isEqualTo(40);

            for (int i = 0; i < 3; i++) {
                cluster.restart(i);
            }
            MiniCluster.await(
                    WAIT,
                    () -> {
                        try {
                            ClusterMap.GeorepSession g =
                                    cluster.client().refreshMap().georep().get("mail-dr");
                            return g != null && g.position() == 40 && g.target().equals("/srv/dr2/mail");
                        } catch (HoldfastException e) {
                            return false;
                        }
                    },
                    "the session survives a restart of every node");

            Map<String, ClusterMap.GeorepSession> after =
                    cluster.client().admin().removeGeorepSession("mail-dr").georep();
            assertThat(after).isEmpty();
            assertThatThrownBy(() -> cluster.client().admin().removeGeorepSession("mail-dr"))
                    .isInstanceOfSatisfying(
                            HoldfastException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT));
        }
    }

    @Test
    void aClusterGroupMemberOnOlderCodeRefusesSessions() throws Exception {
        try (MiniCluster cluster = MiniCluster.start(root, 3, 0, 20_000, true)) {
            cluster.maxLogFormat(2, LogFormat.GEOREP_SESSIONS - 1);
            cluster.restart(2);
            cluster.createVolume("mail", 0, 1, 2);
            String old = cluster.addresses().get(2);
            MiniCluster.await(
                    WAIT,
                    () -> {
                        try {
                            return cluster.map().infoOf(old).maxLogFormat() == LogFormat.GEOREP_SESSIONS - 1;
                        } catch (Exception e) {
                            return false;
                        }
                    },
                    old + " advertises its older code");
            assertThatThrownBy(() -> cluster.client().admin().putGeorepSession("mail-dr", "mail", "/srv/dr", 0))
                    .isInstanceOfSatisfying(HoldfastException.class, e -> {
                        assertThat(e.errno()).isEqualTo(Errno.ENOTSUP);
                        assertThat(e.getMessage()).contains(old);
                    });
            assertThat(cluster.map().georep()).isEmpty();
        }
    }

    private static String get(HttpClient http, URI uri) {
        try {
            HttpResponse<String> r =
                    http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as("GET %s", uri).isEqualTo(200);
            return r.body();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
