package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The proxy on its own, in front of three echo servers standing in for nodes. */
class FaultyNetworkTest {
    private final List<ServerSocket> echoes = new ArrayList<>();
    private FaultyNetwork net;
    private List<String> advertised;

    @BeforeEach
    void start() throws IOException {
        List<InetSocketAddress> targets = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ServerSocket s = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            echoes.add(s);
            targets.add((InetSocketAddress) s.getLocalSocketAddress());
            Thread.ofVirtual().start(() -> echo(s));
        }
        advertised = LoopbackAddresses.free(3);
        net = new FaultyNetwork(advertised, targets);
    }

    @AfterEach
    void stop() throws IOException {
        net.close();
        for (ServerSocket s : echoes) {
            s.close();
        }
    }

    private static void echo(ServerSocket s) {
        while (!s.isClosed()) {
            try {
                Socket c = s.accept();
                Thread.ofVirtual().start(() -> {
                    try (c) {
                        c.getInputStream().transferTo(c.getOutputStream());
                    } catch (IOException e) {
                        // reset by the proxy
                    }
                });
            } catch (IOException e) {
                return;
            }
        }
    }

    private Socket dial(String address) throws IOException {
        int colon = address.lastIndexOf(':');
        Socket s = new Socket(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)));
        s.setSoTimeout(10_000);
        return s;
    }

    private static byte[] roundTrip(Socket s, String text) throws IOException {
        s.getOutputStream().write(text.getBytes());
        return s.getInputStream().readNBytes(text.length());
    }

    @Test
    void bytesPassAndAreCountedPerLink() throws IOException {
        try (Socket a = dial(net.route(0, 1));
                Socket c = dial(advertised.get(2))) {
            assertThat(roundTrip(a, "hello")).asString().isEqualTo("hello");
            assertThat(roundTrip(c, "hi")).asString().isEqualTo("hi");
        }
        assertThat(net.bytesDelivered(0, 1)).isEqualTo(5);
        assertThat(net.bytesDelivered(1, 0)).isEqualTo(5);
        assertThat(net.bytesDelivered(FaultyNetwork.CLIENTS, 2)).isEqualTo(2);
        assertThat(net.connectionsAccepted(0, 1)).isEqualTo(1);
        assertThat(net.bytesDelivered(0, 2)).isZero();
    }

    @Test
    void aPartitionHoldsBytesAcrossTheCutOnlyAndHealingDeliversThem() throws IOException {
        try (Socket across = dial(net.route(0, 2));
                Socket within = dial(net.route(0, 1));
                Socket client = dial(advertised.get(2));
                Socket clientOk = dial(advertised.get(1))) {
            net.partition(2);
            across.getOutputStream().write("held".getBytes());
            client.getOutputStream().write("held too".getBytes());
            assertThat(roundTrip(within, "through")).asString().isEqualTo("through");
            assertThat(roundTrip(clientOk, "clients reach the majority"))
                    .asString()
                    .isEqualTo("clients reach the majority");
            // a node cut off also cannot dial out, and a new connection across the cut carries nothing
            try (Socket out = dial(net.route(2, 0))) {
                out.getOutputStream().write("x".getBytes());
                assertNothingArrives(out);
            }
            assertNothingArrives(across);
            assertNothingArrives(client);
            net.heal();
            assertThat(across.getInputStream().readNBytes(4)).asString().isEqualTo("held");
            assertThat(client.getInputStream().readNBytes(8)).asString().isEqualTo("held too");
        }
    }

    @Test
    void aDropResetsConnectionsAndRefusesNewOnesUntilHealed() throws IOException {
        try (Socket s = dial(net.route(1, 0))) {
            assertThat(roundTrip(s, "a")).asString().isEqualTo("a");
            net.drop(0);
            assertThatThrownBy(() -> {
                        s.getOutputStream().write("b".getBytes());
                        if (s.getInputStream().read() >= 0) {
                            throw new AssertionError("a byte came through a dropped connection");
                        }
                        throw new IOException("closed");
                    })
                    .isInstanceOf(IOException.class);
        }
        try (Socket again = dial(advertised.get(0))) {
            assertThatThrownBy(() -> {
                        again.getOutputStream().write("c".getBytes());
                        if (again.getInputStream().read() >= 0) {
                            throw new AssertionError("a byte came through to a dropped node");
                        }
                        throw new IOException("closed");
                    })
                    .isInstanceOf(IOException.class);
        }
        net.heal();
        try (Socket healed = dial(advertised.get(0))) {
            assertThat(roundTrip(healed, "d")).asString().isEqualTo("d");
        }
    }

    @Test
    void aDelayIsAddedToEachDirection() throws IOException {
        try (Socket s = dial(net.route(0, 1))) {
            roundTrip(s, "warm");
            net.delay(1, Duration.ofMillis(150));
            long start = System.nanoTime();
            assertThat(roundTrip(s, "slow")).asString().isEqualTo("slow");
            long tookMillis = (System.nanoTime() - start) / 1_000_000;
            // to node 1 and back: both directions carry the delay
            assertThat(tookMillis).isGreaterThanOrEqualTo(300);
            net.heal();
            net.delay(0, 1, Duration.ofMillis(200));
            start = System.nanoTime();
            roundTrip(s, "one way");
            assertThat((System.nanoTime() - start) / 1_000_000).isGreaterThanOrEqualTo(200);
        }
    }

    @Test
    void aRemoteClientsLinkIsCutAndRefusedAloneAndHealingDeliversWhatWasHeld() throws IOException {
        assertThat(net.remoteRoutes()).containsOnlyKeys(advertised);
        try (Socket remote = dial(net.remoteRoutes().get(advertised.get(1)));
                Socket local = dial(advertised.get(1))) {
            assertThat(roundTrip(remote, "far")).asString().isEqualTo("far");
            assertThat(net.bytesDelivered(FaultyNetwork.REMOTE, 1)).isEqualTo(3);
            net.cutRemote();
            remote.getOutputStream().write("held".getBytes());
            assertThat(roundTrip(local, "near")).asString().isEqualTo("near");
            try (Socket node = dial(net.route(0, 1))) {
                assertThat(roundTrip(node, "peer")).asString().isEqualTo("peer");
            }
            assertNothingArrives(remote);
            net.heal();
            assertThat(remote.getInputStream().readNBytes(4)).asString().isEqualTo("held");

            net.refuseRemote();
            assertThatThrownBy(() -> {
                        remote.getOutputStream().write("x".getBytes());
                        if (remote.getInputStream().read() >= 0) {
                            throw new AssertionError("a byte came through a refused remote link");
                        }
                        throw new IOException("closed");
                    })
                    .isInstanceOf(IOException.class);
            assertThat(roundTrip(local, "still")).asString().isEqualTo("still");
        }
        net.heal();
        try (Socket again = dial(net.remoteRoutes().get(advertised.get(0)))) {
            assertThat(roundTrip(again, "back")).asString().isEqualTo("back");
        }
    }

    @Test
    void argumentsAreChecked() {
        assertThatThrownBy(() -> net.partition(0, 1, 2)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> net.partition(3)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> net.delay(0, Duration.ofMillis(-1))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> net.route(1, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    /** Nothing comes back within a second (a held connection neither answers nor closes). */
    private static void assertNothingArrives(Socket s) throws IOException {
        s.setSoTimeout(1_000);
        InputStream in = s.getInputStream();
        assertThatThrownBy(in::read).isInstanceOf(SocketTimeoutException.class);
        s.setSoTimeout(10_000);
    }
}
