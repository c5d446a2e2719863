package io.holdfast.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The delay proxy against an echo server on loopback: delay, order, many connections, half-close, bandwidth. */
class DelayProxyTest {
    ServerSocket echo;

    @BeforeEach
    void startEcho() throws IOException {
        echo = new ServerSocket(0, 100, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().start(() -> {
            while (true) {
                Socket s;
                try {
                    s = echo.accept();
                } catch (IOException e) {
                    return;
                }
                Thread.ofVirtual().start(() -> {
                    try (s) {
                        s.getInputStream().transferTo(s.getOutputStream());
                        s.shutdownOutput();
                    } catch (IOException e) {
                        // the test sees what went wrong on its side
                    }
                });
            }
        });
    }

    @AfterEach
    void stopEcho() throws IOException {
        echo.close();
    }

    InetSocketAddress echoAddress() {
        return new InetSocketAddress(echo.getInetAddress(), echo.getLocalPort());
    }

    /** Sends {@code data}, half-closes, reads everything back until the end of the stream. */
    static byte[] roundTrip(InetSocketAddress to, byte[] data) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(to, 10_000);
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    OutputStream out = s.getOutputStream();
                    out.write(data);
                    s.shutdownOutput();
                } catch (IOException e) {
                    // seen as a short answer
                }
            });
            InputStream in = s.getInputStream();
            byte[] back = in.readAllBytes();
            try {
                writer.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return back;
        }
    }

    @Test
    void aRoundTripTakesTwiceTheOneWayDelayAndTheBytesArriveInOrder() throws Exception {
        try (DelayProxy proxy = DelayProxy.start(echoAddress(), Duration.ofMillis(40), 0)) {
            byte[] data = new byte[1000];
            new Random(1).nextBytes(data);
            long start = System.nanoTime();
            byte[] back = roundTrip(proxy.address(), data);
            long millis = (System.nanoTime() - start) / 1_000_000;

            assertThat(back).isEqualTo(data);
            assertThat(millis).isGreaterThanOrEqualTo(80); // there and back, each 40 ms late at least
            assertThat(proxy.address().getAddress().isLoopbackAddress()).isTrue();
        }
    }

    @Test
    void manyConnectionsAtOnceEachGetTheirOwnBytesAndTheDelayIsNotPaidPerChunk() throws Exception {
        try (DelayProxy proxy = DelayProxy.start(echoAddress(), Duration.ofMillis(25), 0);
                ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Boolean>> results = new ArrayList<>();
            long start = System.nanoTime();
            for (int i = 0; i < 64; i++) {
                int seed = i;
                Callable<Boolean> c = () -> {
                    byte[] data = new byte[300_000]; // several chunks each way
                    new Random(seed).nextBytes(data);
                    return Arrays.equals(roundTrip(proxy.address(), data), data);
                };
                results.add(pool.submit(c));
            }
            for (Future<Boolean> f : results) {
                assertThat(f.get()).isTrue();
            }
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertThat(proxy.connections()).isEqualTo(64);
            assertThat(proxy.bytesForwarded()).isEqualTo(2L * 64 * 300_000);
            // a delay line: 64 connections of 5 chunks each way would take 64 × 10 × 25 ms = 16 s if
            // the delay were paid chunk after chunk; a loaded machine takes far less than that
            assertThat(millis).isLessThan(12_000);
        }
    }

    @Test
    void theBandwidthLimitHoldsOverAllConnections() throws Exception {
        try (DelayProxy proxy = DelayProxy.start(echoAddress(), Duration.ZERO, 1 << 20);
                ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            long start = System.nanoTime();
            List<Future<byte[]>> results = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                results.add(pool.submit(() -> roundTrip(proxy.address(), new byte[256 * 1024])));
            }
            for (Future<byte[]> f : results) {
                assertThat(f.get()).hasSize(256 * 1024);
            }
            long millis = (System.nanoTime() - start) / 1_000_000;
            // 1 MiB each way at 1 MiB/s per direction, less one burst of 64 KiB: at least 0.9 s
            assertThat(millis).isGreaterThanOrEqualTo(900);
        }
    }

    @Test
    void closingTheProxyEndsItsConnectionsAndBadSettingsAreRefused() throws Exception {
        DelayProxy proxy = DelayProxy.start(echoAddress(), Duration.ofMillis(1), 0);
        try (Socket s = new Socket()) {
            s.connect(proxy.address(), 10_000);
            s.getOutputStream().write(1);
            assertThat(s.getInputStream().read()).isEqualTo(1);
            proxy.close();
            assertThat(s.getInputStream().read()).isEqualTo(-1);
        } catch (IOException e) {
            assertThat(e).hasMessageContaining("reset"); // a reset is an end too
        }
        assertThatThrownBy(() -> DelayProxy.start(echoAddress(), Duration.ofMillis(-1), 0))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DelayProxy.start(echoAddress(), Duration.ofSeconds(11), 0))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DelayProxy.start(echoAddress(), Duration.ZERO, -1))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
