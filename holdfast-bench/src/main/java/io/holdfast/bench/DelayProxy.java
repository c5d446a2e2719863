package io.holdfast.bench;

import io.holdfast.common.Pacer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A userspace TCP proxy on loopback that makes a link look like a WAN: every byte is delivered a
 * fixed one-way delay after the proxy read it (so a request and its answer take twice the delay
 * more, the round-trip time), optionally no faster than a bandwidth limit shared by all
 * connections in each direction. For benchmarks where {@code tc netem} is not available.
 *
 * <p>Each accepted connection is forwarded to the one target address. Per direction a reader
 * takes what the sender wrote in chunks of at most {@value #CHUNK_BYTES} bytes, stamps each with
 * its delivery time (now + delay) and queues it; a writer sleeps until that time, takes the bytes
 * from the bandwidth pacer, and writes them on. So the delay is a delay line, not a cap on
 * throughput: many chunks are in flight at once. Order is kept, half-closes are passed on (the
 * end of one direction after its last byte), and a failure on either side closes the
 * connection's both sockets. Memory: at most {@value #QUEUE_CHUNKS} chunks queued per direction
 * and connection (a full queue stops reading from the sender: TCP back-pressure), so the
 * bandwidth-delay product a connection can fill is {@code QUEUE_CHUNKS × CHUNK_BYTES} (2 MiB).
 *
 * <p>Listens on {@code 127.0.0.1} only. Thread-safe; every connection uses four virtual threads
 * (two readers, two writers). {@link #close()} stops accepting and closes every connection.
 */
public final class DelayProxy implements AutoCloseable {
    /** Largest chunk read and delayed as one: 64 KiB. */
    static final int CHUNK_BYTES = 64 * 1024;
    /** Chunks queued per direction and connection. */
    static final int QUEUE_CHUNKS = 32;

    private static final int CONNECT_TIMEOUT_MILLIS = 10_000;

    /** A chunk of bytes and when it may be delivered; {@code bytes == null} marks the end of the stream. */
    private record Chunk(byte[] bytes, long dueNanos) {}

    private final InetSocketAddress target;
    private final long delayNanos;
    private final Pacer upstream;
    private final Pacer downstream;
    private final ServerSocket listener;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private final AtomicLong connections = new AtomicLong();
    private final AtomicLong bytesForwarded = new AtomicLong();
    private volatile boolean closed;

    private DelayProxy(InetSocketAddress target, Duration oneWay, long bytesPerSecond) throws IOException {
        this.target = target;
        this.delayNanos = oneWay.toNanos();
        this.upstream = bytesPerSecond > 0 ? new Pacer(bytesPerSecond) : null;
        this.downstream = bytesPerSecond > 0 ? new Pacer(bytesPerSecond) : null;
        this.listener = new ServerSocket();
        listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 512);
        Thread.ofVirtual().name("delay-proxy-accept-" + listener.getLocalPort()).start(this::accept);
    }

    /**
     * Starts a proxy to {@code target} on a free loopback port.
     *
     * @param target where every connection goes (a loopback address in benchmarks)
     * @param oneWay delay added to each direction, 0 to 10 s (25 ms each way makes a 50 ms RTT)
     * @param bytesPerSecond most bytes per second in each direction, over all connections; 0 for no
     *     limit
     * @throws IllegalArgumentException if the delay or the limit is out of range
     * @throws IOException if no port can be bound
     */
    public static DelayProxy start(InetSocketAddress target, Duration oneWay, long bytesPerSecond) throws IOException {
        Objects.requireNonNull(target, "target");
        if (oneWay.isNegative() || oneWay.compareTo(Duration.ofSeconds(10)) > 0) {
            throw new IllegalArgumentException("one-way delay " + oneWay + " is outside 0..10 s");
        }
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException("bandwidth " + bytesPerSecond + " bytes/s is negative");
        }
        return new DelayProxy(target, oneWay, bytesPerSecond);
    }

    /** The address to dial instead of the target ({@code 127.0.0.1:port}). */
    public InetSocketAddress address() {
        return new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort());
    }

    /** {@code host:port} of {@link #address()}. */
    public String hostPort() {
        return listener.getInetAddress().getHostAddress() + ":" + listener.getLocalPort();
    }

    /** Connections accepted so far. */
    public long connections() {
        return connections.get();
    }

    /** Bytes delivered so far, both directions. */
    public long bytesForwarded() {
        return bytesForwarded.get();
    }

    private void accept() {
        while (!closed) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                return; // closed
            }
            connections.incrementAndGet();
            Thread.ofVirtual().start(() -> connect(client));
        }
    }

    /** One forwarded connection: its two sockets and how many directions have ended. */
    private final class Link {
        final Socket client;
        final Socket server = new Socket();
        final AtomicInteger ended = new AtomicInteger();
        volatile boolean closed;

        Link(Socket client) {
            this.client = client;
        }

        void close() {
            closed = true;
            for (Socket s : new Socket[] {client, server}) {
                try {
                    s.close();
                } catch (IOException e) {
                    // closing: nothing more to do
                }
                sockets.remove(s);
            }
        }
    }

    private void connect(Socket client) {
        Link link = new Link(client);
        sockets.add(client);
        sockets.add(link.server);
        try {
            client.setTcpNoDelay(true);
            link.server.setTcpNoDelay(true);
            link.server.connect(target, CONNECT_TIMEOUT_MILLIS);
        } catch (IOException e) {
            link.close();
            return;
        }
        if (closed) {
            link.close();
            return;
        }
        pipe(link, client, link.server, upstream);
        pipe(link, link.server, client, downstream);
    }

    /** One direction: a reader and a writer around a bounded queue. */
    private void pipe(Link link, Socket from, Socket to, Pacer pacer) {
        BlockingQueue<Chunk> queue = new ArrayBlockingQueue<>(QUEUE_CHUNKS);
        Thread.ofVirtual().start(() -> {
            byte[] buf = new byte[CHUNK_BYTES];
            try {
                InputStream in = from.getInputStream();
                int n;
                while ((n = in.read(buf)) >= 0) {
                    if (n > 0) {
                        queue.put(new Chunk(Arrays.copyOf(buf, n), System.nanoTime() + delayNanos));
                    }
                }
                queue.put(new Chunk(null, System.nanoTime() + delayNanos));
            } catch (IOException | InterruptedException e) {
                link.close();
            }
        });
        Thread.ofVirtual().start(() -> {
            try {
                OutputStream out = to.getOutputStream();
                while (!link.closed) {
                    Chunk c = queue.poll(1, TimeUnit.SECONDS);
                    if (c == null) {
                        continue;
                    }
                    long wait = c.dueNanos() - System.nanoTime();
                    if (wait > 0) {
                        TimeUnit.NANOSECONDS.sleep(wait);
                    }
                    if (c.bytes() == null) {
                        to.shutdownOutput(); // the sender's half-close, passed on after its last byte
                        if (link.ended.incrementAndGet() == 2) {
                            link.close();
                        }
                        return;
                    }
                    if (pacer != null) {
                        pacer.acquire(c.bytes().length);
                    }
                    out.write(c.bytes());
                    out.flush();
                    bytesForwarded.addAndGet(c.bytes().length);
                }
            } catch (IOException | InterruptedException e) {
                link.close();
            }
        });
    }

    /** Stops accepting and closes every connection (bytes still queued are dropped). */
    @Override
    public void close() {
        closed = true;
        try {
            listener.close();
        } catch (IOException e) {
            // closing: nothing more to do
        }
        for (Socket s : sockets) {
            try {
                s.close();
            } catch (IOException e) {
                // closing
            }
        }
        sockets.clear();
    }
}
