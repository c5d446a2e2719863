package io.holdfast.server.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Node liveness by probes, with a fake prober and clock; and the real TCP probe. */
class LivenessTest {
    private static final long S = 1_000_000_000L;
    private final AtomicLong now = new AtomicLong(100 * S);
    private final Set<String> reachable = ConcurrentHashMap.newKeySet();
    private final Liveness liveness = new Liveness("a:1", now::get, reachable::contains);

    @Test
    void upWhileProbesConnectDownWithTheTimeSinceTheLastOne() {
        List<String> nodes = List.of("a:1", "b:1", "c:1");
        assertThat(liveness.states(nodes))
                .containsExactly(
                        new Liveness.State("a:1", true, 0.0),
                        new Liveness.State("b:1", false, null),
                        new Liveness.State("c:1", false, null));
        reachable.addAll(List.of("b:1", "c:1"));
        liveness.probe(nodes);
        assertThat(liveness.isUp("b:1")).isTrue();
        now.addAndGet(S);
        reachable.remove("c:1");
        liveness.probe(nodes);
        now.addAndGet(3 * S);
        assertThat(liveness.states(nodes))
                .containsExactly(
                        new Liveness.State("a:1", true, 0.0),
                        new Liveness.State("b:1", true, 3.0),
                        new Liveness.State("c:1", false, 4.0));
        assertThat(liveness.isUp("c:1")).isFalse();
        assertThat(liveness.isUp("a:1")).isTrue(); // never probed: always up to itself
    }

    @Test
    void tcpProbe() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            assertThat(Liveness.tcpConnect("127.0.0.1:" + s.getLocalPort())).isTrue();
        }
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closed = s.getLocalPort();
        }
        assertThat(Liveness.tcpConnect("127.0.0.1:" + closed)).isFalse();
        assertThat(Liveness.tcpConnect("no-port")).isFalse();
    }
}
