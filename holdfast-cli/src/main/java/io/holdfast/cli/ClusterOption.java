package io.holdfast.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.transport.TransportSecurity;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The options shared by commands that talk to a cluster: {@code --cluster HOST:PORT}, the
 * client certificate directory {@code --tls DIR}, and {@code --insecure}.
 */
final class ClusterOption {
    /** Default node to contact. */
    static final String DEFAULT = "127.0.0.1:7001";

    @Option(
            names = {"-c", "--cluster"},
            paramLabel = "HOST:PORT",
            description = "Any node of the cluster (default: $HOLDFAST_CLUSTER, else " + DEFAULT + ").")
    String cluster;

    @Option(
            names = "--tls",
            paramLabel = "DIR",
            description = "Directory with this client's certificate: ca.crt, client.crt, client.key"
                    + " (default: $HOLDFAST_TLS, else ~/.holdfast/tls; 'holdfast cert client' writes one).")
    Path tls;

    @Option(
            names = "--insecure",
            description = "Talk plaintext, without a certificate, to nodes started with --insecure. Prints a warning.")
    boolean insecure;

    String address() {
        String a = cluster != null ? cluster : System.getenv().getOrDefault("HOLDFAST_CLUSTER", DEFAULT);
        ClusterMap.checkAddress(a);
        return a;
    }

    /** Client options for {@link HoldfastClient#connect} and {@code holdfast://} file systems. */
    Map<String, Object> env() {
        Map<String, Object> env = new HashMap<>();
        if (insecure) {
            System.err.println(TransportSecurity.INSECURE_WARNING);
            env.put(TransportSecurity.INSECURE_OPTION, true);
        } else if (tls != null) {
            env.put(TransportSecurity.TLS_OPTION, tls);
        }
        return env;
    }

    HoldfastClient connect() throws HoldfastException {
        ClientProcess.prepare();
        String a = address();
        int i = a.lastIndexOf(':');
        Map<String, Object> env = env();
        env.put(HoldfastClient.SHORT_LIVED_OPTION, true); // commands that connect run a few requests and exit
        return HoldfastClient.connect(a.substring(0, i), Integer.parseInt(a.substring(i + 1)), env);
    }
}
