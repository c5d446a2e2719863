package io.holdfast.testkit;

import io.holdfast.server.HoldfastNode;
import io.holdfast.server.NodeConfig;
import io.holdfast.server.NodeNetwork;
import io.holdfast.server.NodeOptions;
import io.holdfast.server.NodeSecurity;
import io.holdfast.server.ScrubSettings;
import io.holdfast.server.admin.AdminOptions;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The main class of a {@link MiniCluster} node run in a child JVM, so that a test can kill it
 * with SIGKILL: no shutdown hook, no graceful Raft shutdown, no flush of what the process
 * still buffers, and its connections reset by the kernel, as in a crash.
 *
 * <p>Arguments, in this order: data directory, address, peers (comma-separated), cluster id,
 * snapshot threshold, {@code tls} or {@code plaintext}, disk reserve in bytes, listen address
 * ({@code -} for the address), then zero or more {@code PEER=VIA} routes. Prints
 * {@value #READY} and the admin URI on one line once the node runs; stops the node cleanly
 * and exits when it reads a line {@value #STOP} ({@link #tellToStop}) or its standard input ends
 * (the test JVM died). The end of input alone may never come while the test runs: a
 * {@code fusermount3} forked for a FUSE mount of the test's JVM inherits the write end of this
 * process's standard input and keeps it open (measured: every such node then waited out the
 * test's 60 s stop timeout and was killed).
 */
public final class NodeProcess {
    /** The line prefix that says the node runs. */
    static final String READY = "HOLDFAST-NODE-READY ";
    /** The system property that sets the node's catch-up rate, bytes per second (default: the node's default). */
    static final String CATCH_UP_RATE = "holdfast.testkit.catchUpRate";

    private NodeProcess() {}

    /** The line on standard input that stops a child process of the test kit cleanly. */
    static final String STOP = "stop";

    /**
     * Asks a child process of the test kit ({@link NodeProcess}, {@link LazyDisk}) to stop
     * cleanly: writes {@value #STOP} on its standard input and closes it. A child that has died
     * already is no error.
     */
    static void tellToStop(Process p) {
        try (OutputStream o = p.getOutputStream()) {
            o.write((STOP + "\n").getBytes(StandardCharsets.UTF_8));
            o.flush();
        } catch (IOException e) {
            // it is gone (a broken pipe): nothing to stop
        }
    }

    /** Builds the arguments {@link #main} reads. */
    static List<String> arguments(NodeConfig config, boolean tls, long diskReserve, NodeNetwork network) {
        List<String> args = new ArrayList<>(List.of(
                config.dataDir().toString(),
                config.address(),
                String.join(",", config.peers()),
                config.clusterId().toString(),
                Long.toString(config.snapshotThreshold()),
                tls ? "tls" : "plaintext",
                Long.toString(diskReserve),
                network.listen() == null ? "-" : network.listen()));
        network.peerRoutes().forEach((peer, via) -> args.add(peer + "=" + via));
        return args;
    }

    /**
     * Runs one node until standard input ends.
     *
     * @throws IOException if the node cannot start
     */
    public static void main(String[] args) throws IOException {
        if (args.length < 8) {
            throw new IllegalArgumentException("expected at least 8 arguments, got " + Arrays.toString(args));
        }
        NodeConfig config = new NodeConfig(
                Path.of(args[0]),
                args[1],
                List.of(args[2].split(",")),
                UUID.fromString(args[3]),
                Long.parseLong(args[4]));
        NodeSecurity security = args[5].equals("tls") ? NodeSecurity.tls(config.dataDir()) : NodeSecurity.plaintext();
        Map<String, String> routes = new HashMap<>();
        for (int i = 8; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            routes.put(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        NodeNetwork network = new NodeNetwork(args[7].equals("-") ? null : args[7], routes);
        HoldfastNode node = HoldfastNode.start(NodeOptions.builder(config, security)
                .admin(AdminOptions.at("127.0.0.1", 0))
                .clock(InstantSource.system())
                .scrub(ScrubSettings.DEFAULT)
                .network(network)
                .diskReserve(Long.parseLong(args[6]))
                .catchUpRate(Long.getLong(CATCH_UP_RATE, NodeOptions.DEFAULT_CATCH_UP_RATE))
                .build());
        System.out.println(READY + node.adminUri().map(Object::toString).orElse("-"));
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        do {
            line = in.readLine();
        } while (line != null && !line.equals(STOP));
        node.close();
        System.exit(0);
    }
}
