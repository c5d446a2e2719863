package io.holdfast.testkit;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;

/** Free loopback addresses for the nodes of a {@link MiniCluster} (tests, the catch-up bench). */
final class LoopbackAddresses {
    private LoopbackAddresses() {}

    /**
     * {@code n} distinct {@code 127.0.0.1:PORT} addresses whose ports were free a moment ago
     * (held open together while chosen, so they differ; another process may still take one
     * before it is bound again).
     *
     * @throws IOException if the ports cannot be opened
     */
    static List<String> free(int n) throws IOException {
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
