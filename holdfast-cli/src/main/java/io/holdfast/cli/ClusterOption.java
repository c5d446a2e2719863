package io.holdfast.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.HoldfastException;
import java.util.Map;
import picocli.CommandLine.Option;

/** The {@code --cluster HOST:PORT} option shared by commands that talk to a cluster. */
final class ClusterOption {
  /** Default node to contact. */
  static final String DEFAULT = "127.0.0.1:7001";

  @Option(names = {"-c", "--cluster"}, paramLabel = "HOST:PORT",
      description = "Any node of the cluster (default: $HOLDFAST_CLUSTER, else " + DEFAULT + ").")
  String cluster;

  String address() {
    String a = cluster != null ? cluster : System.getenv().getOrDefault("HOLDFAST_CLUSTER", DEFAULT);
    ClusterMap.checkAddress(a);
    return a;
  }

  HoldfastClient connect() throws HoldfastException {
    String a = address();
    int i = a.lastIndexOf(':');
    return HoldfastClient.connect(a.substring(0, i), Integer.parseInt(a.substring(i + 1)), Map.of());
  }
}
