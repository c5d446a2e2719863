package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.client.HoldfastClient;
import io.holdfast.common.Caller;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.server.CertificateAuthority;
import io.holdfast.transport.Role;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Plaintext only when both sides ask for it by name: a node started with {@code --insecure}
 * serves an insecure client (as admin, since nothing can be authenticated) and refuses a TLS
 * client with a clear error.
 */
class PlaintextIT {
    @TempDir
    Path root;

    @Test
    void plaintextOnlyBetweenInsecurePeers() throws IOException {
        try (MiniCluster cluster = MiniCluster.start(root.resolve("cluster"), 1, 100_000, false)) {
            cluster.createVolume("vol", 0);
            String a = cluster.addresses().getFirst();
            int port = Integer.parseInt(a.substring(a.indexOf(':') + 1));
            Map<String, Object> insecure = cluster.clientEnv(null);
            try (HoldfastClient c = HoldfastClient.connect("127.0.0.1", port, insecure)) {
                assertThat(c.welcome().features()).contains("identity=none");
                assertThat(c.welcome().peer()).contains("anonymous");
                assertThat(c.volume("vol")
                                .submit(new Request.Mkdir(Caller.ROOT, "/d", 0755))
                                .join())
                        .isInstanceOf(Response.AttrReply.class);
            }
            Response.Digest before = cluster.awaitConvergence("vol", Duration.ofSeconds(30));
            CertificateAuthority ca = CertificateAuthority.create(root.resolve("ca"), "other");
            Path tls = root.resolve("tls");
            ca.issue("admin", Role.ADMIN, List.of()).writeTo(tls);
            Map<String, Object> env = cluster.clientEnv(tls);
            env.put("holdfast.deadline", Duration.ofSeconds(10));
            assertThatThrownBy(() -> HoldfastClient.connect("127.0.0.1", port, env))
                    .isInstanceOf(HoldfastException.class)
                    .satisfies(e -> System.out.println("TLS client against a plaintext node: " + e.getMessage()));
            assertThat(cluster.awaitConvergence("vol", Duration.ofSeconds(30))).isEqualTo(before);
        }
    }
}
