package io.holdfast.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Loopback addresses for the nodes of a {@link MiniCluster} (tests, the catch-up bench), reserved
 * for the life of this JVM.
 *
 * <p>A node keeps its address across a stop and restart, so the port must stay free while the
 * node is down. Two things could take it in that window, and both happened in CI:
 *
 * <ul>
 *   <li>an outgoing connection anywhere on the machine, which gets its local port from the
 *       kernel's ephemeral range ({@code /proc/sys/net/ipv4/ip_local_port_range}); a peer that
 *       keeps redialling the stopped node can even connect to itself (TCP simultaneous open) and
 *       hold the port;
 *   <li>another test JVM (the failsafe plugin runs two forks) that asks for a free port.
 * </ul>
 *
 * So ports are drawn at random from outside the ephemeral range (below it, where nothing is
 * assigned implicitly), and each is reserved across JVMs by an exclusive lock on a file named
 * after it under {@code java.io.tmpdir}, held until this JVM exits (the kernel drops the lock
 * when the process dies, however it dies). Where the range cannot be read (not Linux), the kernel
 * chooses, as before.
 *
 * <p>Thread-safe.
 */
final class LoopbackAddresses {
    /** Lowest port drawn: clear of the well-known and most registered service ports. */
    private static final int LOWEST = 10_000;

    /** Fewest ports a range must offer to be drawn from. */
    private static final int ENOUGH = 2_000;

    /** Draws before giving up on finding a free port. */
    private static final int ATTEMPTS = 1_000;

    private static final Path RANGE = Path.of("/proc/sys/net/ipv4/ip_local_port_range");

    /** The lock files' channels, open (and locked) until the JVM exits. */
    private static final List<FileChannel> HELD = new ArrayList<>();

    private LoopbackAddresses() {}

    /**
     * {@code n} distinct {@code 127.0.0.1:PORT} addresses, free now and reserved against other
     * test JVMs for the rest of this one.
     *
     * @throws IOException if the ports cannot be opened, or no free one is found
     */
    static synchronized List<String> free(int n) throws IOException {
        int[] range = drawRange();
        if (range == null) {
            return kernelChosen(n);
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add("127.0.0.1:" + reserve(range[0], range[1]));
        }
        return out;
    }

    /** The ports {@code [low, high)} to draw from, or null to let the kernel choose. */
    static int[] drawRange() {
        int[] ephemeral;
        try (BufferedReader r = Files.newBufferedReader(RANGE)) {
            // a line reader: Files.readString trusts the size /proc reports and returns one byte
            String[] parts = r.readLine().trim().split("\\s+");
            ephemeral = new int[] {Integer.parseInt(parts[0]), Integer.parseInt(parts[1])};
        } catch (IOException | RuntimeException e) {
            return null;
        }
        if (ephemeral[0] - LOWEST >= ENOUGH) {
            return new int[] {LOWEST, ephemeral[0]};
        }
        if (65_535 - ephemeral[1] >= ENOUGH) {
            return new int[] {ephemeral[1] + 1, 65_536};
        }
        return null;
    }

    private static int reserve(int low, int high) throws IOException {
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "holdfast-test-ports");
        Files.createDirectories(dir);
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            int port = ThreadLocalRandom.current().nextInt(low, high);
            FileChannel ch =
                    FileChannel.open(dir.resolve(port + ".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null; // this JVM holds it already
            }
            if (lock != null && bindable(port)) {
                HELD.add(ch);
                return port;
            }
            ch.close(); // releases a lock taken on a port something else listens on
        }
        throw new IOException("no free loopback port in [" + low + ", " + high + ") after " + ATTEMPTS + " draws");
    }

    private static boolean bindable(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static List<String> kernelChosen(int n) throws IOException {
        List<ServerSocket> sockets = new ArrayList<>();
        try {
            List<String> out = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                sockets.add(s);
                out.add("127.0.0.1:" + s.getLocalPort());
            }
            return out;
        } finally {
            for (ServerSocket s : sockets) {
                s.close();
            }
        }
    }
}
