package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Caller;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node whose Raft port is taken fails to start with an error naming the address, and the
 * process it runs in goes on: Ratis's gRPC server would otherwise end the JVM with status 1 (CI
 * lost a whole test fork that way when a restarted node's port had been taken).
 */
class RaftPortInUseIT {
    @TempDir
    Path root;

    @Test
    void aTakenPortFailsTheStartNotTheProcess() throws IOException {
        try (MiniCluster cluster = MiniCluster.start(root.resolve("cluster"), 3, 100_000, false)) {
            cluster.createVolume("vol", 0, 1, 2);
            String address = cluster.addresses().get(2);
            int port = Integer.parseInt(address.substring(address.indexOf(':') + 1));
            cluster.stop(2);
            try (ServerSocket squatter = new ServerSocket()) {
                squatter.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
                assertThatThrownBy(() -> cluster.restart(2))
                        .isInstanceOf(BindException.class)
                        .hasMessageContaining("Raft address " + address + " is in use");
                assertThat(cluster.isRunning(2)).isFalse();
            }
            // the same JVM starts the node on the freed port, and it catches up with a change
            // made while it was down
            cluster.restart(2);
            assertThat(cluster.client()
                            .volume("vol")
                            .submit(new Request.Mkdir(Caller.ROOT, "/after", 0755))
                            .join())
                    .isInstanceOf(Response.AttrReply.class);
            cluster.awaitConvergence("vol", Duration.ofSeconds(60));
        }
    }
}
