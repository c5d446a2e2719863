package io.holdfast.server.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.server.NodeConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** --admin-address: default loopback on port + 1000, HOST:PORT, off. */
class AdminOptionsTest {
    private static NodeConfig node(int port) {
        return new NodeConfig(
                Path.of("/tmp/x"), "10.0.0.1:" + port, List.of("10.0.0.1:" + port), UUID.randomUUID(), 20000);
    }

    @Test
    void defaultIsLoopbackOnTheNodePortPlus1000() {
        assertThat(AdminOptions.parse(null, node(7001))).isEqualTo(AdminOptions.at("127.0.0.1", 8001));
        assertThat(AdminOptions.defaultFor(node(7001)).toString()).isEqualTo("127.0.0.1:8001");
        assertThatThrownBy(() -> AdminOptions.defaultFor(node(65000)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--admin-address");
    }

    @Test
    void parses() {
        assertThat(AdminOptions.parse("off", node(7001)).enabled()).isFalse();
        assertThat(AdminOptions.parse("OFF", node(7001)).toString()).isEqualTo("off");
        assertThat(AdminOptions.parse("0.0.0.0:9100", node(7001))).isEqualTo(AdminOptions.at("0.0.0.0", 9100));
        assertThat(AdminOptions.parse("127.0.0.1:0", node(7001))).isEqualTo(AdminOptions.at("127.0.0.1", 0));
        assertThat(AdminOptions.parse("[::1]:9100", node(7001))).isEqualTo(AdminOptions.at("::1", 9100));
        assertThat(AdminOptions.at("::1", 9100).toString()).isEqualTo("[::1]:9100");
        for (String bad : new String[] {"", "9100", ":9100", "host:", "host:x", "host:70000", "host:-1"}) {
            assertThatThrownBy(() -> AdminOptions.parse(bad, node(7001)))
                    .as(bad)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("--admin-address must be HOST:PORT");
        }
    }
}
