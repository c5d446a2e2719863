package io.holdfast.cli;

import io.holdfast.server.HoldfastNode;
import io.holdfast.server.NodeConfig;
import io.holdfast.server.NodeOptions;
import io.holdfast.server.NodeSecurity;
import io.holdfast.server.ScrubSettings;
import io.holdfast.server.admin.AdminOptions;
import io.holdfast.storage.ChangeFeedRetention;
import io.holdfast.transport.TransportSecurity;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code holdfast server}: runs one node in the foreground until SIGTERM or SIGINT. */
@Command(
        name = "server",
        mixinStandardHelpOptions = true,
        description = {
            "Run a Holdfast node in the foreground until stopped with Ctrl-C or SIGTERM.",
            "The data directory must have been set up with 'holdfast cluster init', which also puts the",
            "node's certificate in DIR/tls (ca.crt, node.crt, node.key). Every connection, to clients and",
            "to other nodes, is mutual TLS 1.3; replace node.crt and node.key (atomically, by rename) to",
            "rotate the certificate: new connections use the new one, no restart needed.",
            "",
            "The node also serves an admin HTTP port, by default on loopback at its port + 1000 (node",
            "127.0.0.1:7001: http://127.0.0.1:8001/): a status page (nodes, volumes, groups, leaders, lag,",
            "health; reloads every 2 s), /status.json, Prometheus metrics at /metrics, and /healthz. It is",
            "unauthenticated read-only information: bind it beyond loopback (--admin-address) only on a",
            "trusted network.",
            "",
            "Example:  holdfast server --data /var/lib/holdfast",
            "          holdfast server --data /var/lib/holdfast --admin-address 10.0.0.5:9100"
        },
        exitCodeList = {
            "0:stopped cleanly by SIGTERM or Ctrl-C",
            "1:the node failed to start, or to stop cleanly (why is on stderr)"
        })
final class ServerCommand implements Callable<Integer> {
    @Option(
            names = "--data",
            required = true,
            paramLabel = "DIR",
            description = "The node's data directory (holds holdfast.conf, tls/, raft/, bricks/).")
    Path data;

    @Option(
            names = "--insecure",
            description =
                    "Plaintext and unauthenticated (no TLS, no ACLs). Only on an isolated network; prints a warning.")
    boolean insecure;

    @Option(
            names = "--max-connections",
            paramLabel = "N",
            defaultValue = "" + NodeSecurity.DEFAULT_TOTAL,
            description = "Most connections this node accepts in total (default: ${DEFAULT-VALUE}).")
    int maxConnections;

    @Option(
            names = "--disk-reserve",
            paramLabel = "MiB",
            defaultValue = "" + (NodeOptions.DEFAULT_DISK_RESERVE >> 20),
            description = "Free space this node keeps on its data directory's file system: past it, writes get ENOSPC"
                    + " (deleting still works), and the node stays up and consistent (default: ${DEFAULT-VALUE}).")
    long diskReserveMiB;

    @Option(
            names = "--change-feed-size",
            paramLabel = "MiB",
            defaultValue = "" + (ChangeFeedRetention.DEFAULT_MAX_BYTES >> 20),
            description = "Change feed history each member keeps (holdfast watch, geo-replication): the oldest records"
                    + " go past this size; a reader further behind must resynchronise (default: ${DEFAULT-VALUE}).")
    long changeFeedMiB;

    @Option(
            names = "--change-feed-days",
            paramLabel = "DAYS",
            defaultValue = "" + ChangeFeedRetention.DEFAULT_MAX_DAYS,
            description = "Change feed records older than this go, whatever their size (default: ${DEFAULT-VALUE}).")
    double changeFeedDays;

    @Option(
            names = "--catch-up-rate",
            paramLabel = "MiB/s",
            defaultValue = "" + (NodeOptions.DEFAULT_CATCH_UP_RATE >> 20),
            description =
                    "Most snapshot data per second this node takes in while one of its members catches up (a new or"
                            + " long-absent member), so the foreground keeps its latency; at least 4 (default: "
                            + "${DEFAULT-VALUE}).")
    double catchUpRateMiB;

    @Option(
            names = "--max-connections-per-client",
            paramLabel = "N",
            defaultValue = "" + NodeSecurity.DEFAULT_PER_CLIENT,
            description =
                    "Most connections one client identity may hold (default: ${DEFAULT-VALUE}; nodes are exempt).")
    int maxPerClient;

    @Option(
            names = "--admin-address",
            paramLabel = "HOST:PORT|off",
            description = "Where to serve the status page and metrics (default: 127.0.0.1 on this node's port + 1000;"
                    + " port 0 picks a free one; 'off' disables it). Unauthenticated: beyond loopback only on "
                    + "a trusted network.")
    String adminAddress;

    @Option(
            names = "--scrub-rate",
            paramLabel = "MiB/s",
            defaultValue = "16",
            description =
                    "Pace of each volume's scrubber on this node, in MiB read per second (default: ${DEFAULT-VALUE}).")
    double scrubRateMiB;

    @Option(
            names = "--scrub-interval",
            paramLabel = "HOURS",
            defaultValue = "24",
            description =
                    "Hours from the end of one automatic scrub pass to the next (default: ${DEFAULT-VALUE}; 0: only on"
                            + " 'holdfast scrub start').")
    double scrubIntervalHours;

    @Option(
            names = "--no-scrub-rebuild",
            description = "A member the scrubber takes out of service stays out (to inspect its brick) instead of "
                    + "rebuilding itself"
                    + " from another member's snapshot.")
    boolean noScrubRebuild;

    @Override
    public Integer call() throws Exception {
        NodeConfig config = NodeFiles.read(data);
        AdminOptions admin = AdminOptions.parse(adminAddress, config);
        NodeSecurity security;
        if (insecure) {
            System.err.println(TransportSecurity.INSECURE_WARNING);
            security = NodeSecurity.plaintext();
        } else {
            security = NodeSecurity.tls(data);
        }
        if (!(scrubRateMiB > 0)
                || Double.isInfinite(scrubRateMiB)
                || !(scrubIntervalHours >= 0)
                || Double.isInfinite(scrubIntervalHours)) {
            throw new IllegalArgumentException("--scrub-rate must be positive and --scrub-interval 0 or more, got "
                    + scrubRateMiB + " and " + scrubIntervalHours);
        }
        ScrubSettings scrub = new ScrubSettings(
                Math.max(1, Math.round(scrubRateMiB * (1 << 20))),
                Duration.ofSeconds(Math.round(scrubIntervalHours * 3600)),
                !noScrubRebuild);
        if (!(catchUpRateMiB >= 4) || Double.isInfinite(catchUpRateMiB)) {
            // slower, a leader's eight outstanding 4 MiB snapshot chunks would outlast its 10 s request timeout
            throw new IllegalArgumentException("--catch-up-rate must be at least 4 MiB/s, got " + catchUpRateMiB);
        }
        if (diskReserveMiB < 0) {
            throw new IllegalArgumentException("--disk-reserve must not be negative, got " + diskReserveMiB);
        }
        if (changeFeedMiB < 0 || !(changeFeedDays >= 0) || Double.isInfinite(changeFeedDays)) {
            throw new IllegalArgumentException("--change-feed-size and --change-feed-days must not be negative, got "
                    + changeFeedMiB + " and " + changeFeedDays);
        }
        ChangeFeedRetention feed =
                new ChangeFeedRetention(changeFeedMiB << 20, Duration.ofSeconds(Math.round(changeFeedDays * 86_400)));
        HoldfastNode node =
                HoldfastNode.start(NodeOptions.builder(config, security.withLimits(maxPerClient, maxConnections))
                        .admin(admin)
                        .clock(InstantSource.system())
                        .scrub(scrub)
                        .catchUpRate(Math.round(catchUpRateMiB * (1 << 20))) // ≥ 4 MiB/s, checked above
                        .diskReserve(diskReserveMiB << 20)
                        .changeFeedRetention(feed)
                        .build());
        // SIGTERM and SIGINT ask for a clean stop: the node closes (pending requests fail with a
        // retryable error, clients go to the other members) and the process exits 0, as service
        // managers expect. The shutdown hook covers every other way the JVM ends.
        boolean clean = Serve.run("holdfast-shutdown", new Serve.Served() {
            @Override
            public void ready() {
                System.out.println("holdfast node " + config.address() + " running (cluster " + config.clusterId()
                        + ", data " + data.toAbsolutePath() + (insecure ? ", PLAINTEXT" : ", mutual TLS 1.3") + ")");
                System.out.println(node.adminUri()
                        .map(u -> "status page and metrics (unauthenticated, read-only): " + u + " and "
                                + u.resolve("/metrics"))
                        .orElse("admin port off"));
                System.out.flush();
            }

            @Override
            public void stopping(Serve.Reason why) {
                System.out.println("holdfast node " + config.address() + " stopping (signal received)");
            }

            @Override
            public void close() throws IOException {
                node.close();
            }
        });
        return clean ? 0 : 1;
    }
}
