package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each node's admin port on a three-node cluster: {@code /metrics} counts the operations done,
 * with latency histograms, leadership and indexes; the status page, loaded in headless
 * Chromium, shows every node up, and shows a stopped node down within 10 s.
 *
 * <p>Needs Chromium ({@code apt-get install chromium}); fails, saying so, without it. Leaves
 * the last page Chromium saw in {@code target/status-page.html} and a screenshot in
 * {@code target/status-page.png}.
 */
class StatusPageIT {
    private static final int FILES = 30;
    private static final int FILE_BYTES = 10_000;
    private static final Duration DOWN_WITHIN = Duration.ofSeconds(10);

    @TempDir
    Path root;

    @TempDir
    Path browserProfile;

    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    void metricsCountTheWorkAndThePageSeesAStoppedNodeDown() throws Exception {
        String chromium = chromium();
        try (MiniCluster c = MiniCluster.start(root, 3, 100_000)) {
            VolumeService v = c.createVolume("obs", 0, 1, 2);
            byte[] data = new byte[FILE_BYTES];
            new Random(42).nextBytes(data);
            long inode = 0;
            for (int i = 0; i < FILES; i++) {
                Attr a = Volumes.createExclusive(v, "/f" + i);
                Volumes.write(v, a.inode(), 0, data);
                inode = a.inode();
            }
            for (int i = 0; i < 5; i++) {
                Volumes.expect(Response.Data.class, Volumes.call(v.query(new Request.Read(inode, 0, 100))), "read");
            }
            c.awaitConvergence("obs", Duration.ofSeconds(60));
            UUID group = Volumes.groupId(c, "obs");
            int leader = Volumes.awaitLeader(c, 3, group);
            String obs = "volume=\"obs\"";

            // ---- /metrics on every node
            int leaders = 0;
            for (int i = 0; i < 3; i++) {
                String m = get(c.adminUri(i).resolve("/metrics"), 200);
                String self = "member=\"" + c.addresses().get(i) + "\"";
                assertThat(value(m, "holdfast_ops_total", obs, "kind=\"mutation\"", "op=\"Write\""))
                        .as("node %d Write ops", i)
                        .isGreaterThanOrEqualTo(FILES);
                assertThat(value(m, "holdfast_ops_total", obs, "kind=\"mutation\"", "op=\"Create\""))
                        .isGreaterThanOrEqualTo(FILES);
                assertThat(value(m, "holdfast_bytes_total", obs, "op=\"Write\""))
                        .isGreaterThanOrEqualTo((double) FILES * FILE_BYTES);
                assertThat(value(m, "holdfast_apply_seconds_count", obs, "op=\"Write\""))
                        .isGreaterThanOrEqualTo(FILES);
                assertThat(value(m, "holdfast_apply_seconds_bucket", obs, "op=\"Write\"", "le=\"+Inf\""))
                        .isGreaterThanOrEqualTo(FILES);
                assertThat(m).containsPattern("holdfast_apply_seconds_bucket\\{[^}]*le=\"0\\.0[0-9]*\"");
                assertThat(value(m, "holdfast_raft_applied_index", obs, self)).isGreaterThanOrEqualTo(2 * FILES);
                assertThat(value(m, "holdfast_raft_commit_index", obs, self)).isGreaterThanOrEqualTo(2 * FILES);
                assertThat(value(m, "holdfast_raft_leader", "volume=\"(cluster)\""))
                        .isBetween(0.0, 1.0);
                leaders += (int) value(m, "holdfast_raft_leader", obs);
                if (i == leader) {
                    for (int f = 0; f < 3; f++) {
                        if (f != leader) {
                            String member = "member=\"" + c.addresses().get(f) + "\"";
                            assertThat(value(m, "holdfast_raft_match_index", obs, member))
                                    .isGreaterThanOrEqualTo(2 * FILES);
                            assertThat(value(m, "holdfast_raft_lag_entries", obs, member))
                                    .isGreaterThanOrEqualTo(0);
                            assertThat(value(m, "holdfast_raft_lag_seconds", obs, member))
                                    .isGreaterThanOrEqualTo(0);
                        }
                    }
                    System.out.println("StatusPageIT: leader node" + i + " metrics, holdfast_* lines:");
                    m.lines()
                            .filter(l -> l.startsWith("holdfast_") && !l.contains("_bucket{") && l.contains(obs)
                                    || l.startsWith("holdfast_node_"))
                            .forEach(l -> System.out.println("  " + l));
                }
            }
            assertThat(leaders).as("exactly one node leads volume obs").isEqualTo(1);
            assertThat(get(c.adminUri(0).resolve("/healthz"), 200)).isEqualTo("ok\n");
            get(c.adminUri(0).resolve("/no-such-page"), 404);

            // ---- the status page in headless Chromium: every node up
            URI page = c.adminUri(leader);
            String dom = dumpDom(chromium, page);
            for (String a : c.addresses()) {
                assertThat(nodeState(dom, a))
                        .as("node %s on the first page%n%s", a, dom)
                        .isEqualTo("up");
            }
            assertThat(dom).contains("data-health=\"healthy\"");
            int follower = (leader + 1) % 3;
            assertThat(dumpDom(chromium, c.adminUri(follower))).contains("known to the leader");

            // ---- stop a follower; reload the page until Chromium sees it down
            int victim = (leader + 2) % 3;
            String victimAddress = c.addresses().get(victim);
            c.stop(victim);
            long stopped = System.nanoTime();
            int[] loads = {0};
            String down = MiniCluster.awaitValue(
                    DOWN_WITHIN,
                    () -> {
                        loads[0]++;
                        String d = dumpDom(chromium, page);
                        return "down".equals(nodeState(d, victimAddress)) ? Optional.of(d) : Optional.empty();
                    },
                    "the status page shows " + victimAddress + " down");
            long elapsedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stopped);
            System.out.printf(
                    "StatusPageIT: Chromium saw %s down %d ms after it was stopped (%d page loads)%n",
                    victimAddress, elapsedMillis, loads[0]);
            assertThat(elapsedMillis).isLessThanOrEqualTo(DOWN_WITHIN.toMillis());
            assertThat(down).contains("data-health=\"degraded\"", "1 of 3 members down: " + victimAddress);
            assertThat(down).contains("data-member=\"" + victimAddress + "\" data-state=\"down\"");

            Path target = Path.of("target");
            Files.createDirectories(target);
            Files.writeString(target.resolve("status-page.html"), down);
            screenshot(chromium, page, target.resolve("status-page.png"));
            System.out.println("StatusPageIT: page saved to "
                    + target.resolve("status-page.html").toAbsolutePath());

            // the JSON says the same
            JsonNode json = new ObjectMapper().readTree(get(page.resolve("/status.json"), 200));
            boolean seenDown = false;
            for (JsonNode n : json.get("nodes")) {
                seenDown |= n.get("address").asText().equals(victimAddress)
                        && !n.get("up").asBoolean();
            }
            assertThat(seenDown)
                    .as("status.json shows %s down: %s", victimAddress, json)
                    .isTrue();
        }
    }

    /** The value of the one series {@code name} whose labels contain all of {@code labels}. */
    private static double value(String scrape, String name, String... labels) {
        List<Double> found = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{([^}]*)\\} (\\S+)$")
                .matcher(scrape);
        while (m.find()) {
            boolean all = true;
            for (String l : labels) {
                all &= m.group(1).contains(l);
            }
            if (all) {
                found.add(Double.parseDouble(m.group(2)));
            }
        }
        assertThat(found).as("series %s%s", name, List.of(labels)).hasSize(1);
        return found.getFirst();
    }

    /** {@code up} or {@code down} from the node row of the page, or null if the row is missing. */
    private static String nodeState(String dom, String address) {
        Matcher m = Pattern.compile("data-node=\"" + Pattern.quote(address) + "\" data-state=\"(up|down)\"")
                .matcher(dom);
        return m.find() ? m.group(1) : null;
    }

    private String get(URI uri, int status) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as("GET %s", uri).isEqualTo(status);
        return r.body();
    }

    /** The Chromium binary on PATH; fails the test with how to install it. */
    private static String chromium() {
        for (String name : new String[] {"chromium", "chromium-browser"}) {
            for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
                if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
                    return Path.of(dir, name).toString();
                }
            }
        }
        throw new AssertionError(
                "StatusPageIT needs Chromium (chromium or chromium-browser on PATH): apt-get install chromium");
    }

    private List<String> chromiumArgs(String chromium) {
        return new ArrayList<>(List.of(
                chromium,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--user-data-dir=" + browserProfile));
    }

    /** The page's DOM after Chromium loaded it ({@code --dump-dom}), each time a fresh process. */
    private String dumpDom(String chromium, URI page) {
        List<String> cmd = chromiumArgs(chromium);
        cmd.add("--dump-dom");
        cmd.add(page.toString());
        return run(cmd);
    }

    private void screenshot(String chromium, URI page, Path png) {
        List<String> cmd = chromiumArgs(chromium);
        cmd.add("--screenshot=" + png.toAbsolutePath());
        cmd.add("--window-size=1280,900");
        cmd.add(page.toString());
        run(cmd);
    }

    private String run(List<String> cmd) {
        try {
            Path out = Files.createTempFile(browserProfile, "out", ".html");
            Process p = new ProcessBuilder(cmd)
                    .redirectError(ProcessBuilder.Redirect.DISCARD)
                    .redirectOutput(out.toFile())
                    .start();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("Chromium did not finish within 60 s: " + cmd);
            }
            if (p.exitValue() != 0) {
                throw new AssertionError("Chromium exited with " + p.exitValue() + ": " + cmd);
            }
            String dom = Files.readString(out, StandardCharsets.UTF_8);
            Files.delete(out);
            return dom;
        } catch (IOException e) {
            throw new AssertionError("cannot run Chromium: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted running Chromium", e);
        }
    }
}
