package io.holdfast.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.server.admin.AdminOptions;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** One options object for a node: its defaults and its checks. */
class NodeOptionsTest {
    private final NodeConfig config =
            new NodeConfig(Path.of("/tmp/node"), "127.0.0.1:7000", List.of("127.0.0.1:7000"), UUID.randomUUID(), 1000);

    @Test
    void defaults() {
        NodeOptions o = NodeOptions.of(config, NodeSecurity.plaintext());
        assertThat(o.admin()).isEqualTo(AdminOptions.defaultFor(config));
        assertThat(o.clock()).isEqualTo(InstantSource.system());
        assertThat(o.scrub()).isEqualTo(ScrubSettings.DEFAULT);
        assertThat(o.network()).isEqualTo(NodeNetwork.DIRECT);
        assertThat(o.catchUpBytesPerSecond()).isEqualTo(8L << 20);
        assertThat(o.diskReserveBytes()).isEqualTo(256L << 20);
    }

    @Test
    void settingsAreKeptAndChecked() {
        NodeOptions o = NodeOptions.builder(config, NodeSecurity.plaintext())
                .admin(AdminOptions.off())
                .catchUpRate(4L << 20)
                .diskReserve(0)
                .build();
        assertThat(o.admin().enabled()).isFalse();
        assertThat(o.catchUpBytesPerSecond()).isEqualTo(4L << 20);
        assertThat(o.diskReserveBytes()).isZero();
        NodeOptions.Builder b = NodeOptions.builder(config, NodeSecurity.plaintext());
        assertThatThrownBy(() -> b.catchUpRate(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> b.diskReserve(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> NodeOptions.builder(config, null)).isInstanceOf(NullPointerException.class);
    }
}
