package io.holdfast.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.protocol.ClusterMap;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code holdfast volume create|list|info}. */
@Command(name = "volume", mixinStandardHelpOptions = true, description = "Create and inspect volumes.",
    subcommands = {VolumeCommands.Create.class, VolumeCommands.ListVolumes.class, VolumeCommands.Info.class})
final class VolumeCommands {
  private VolumeCommands() {}

  @Command(name = "create", mixinStandardHelpOptions = true,
      description = {"Create a volume served by a replica group of --replicas nodes.",
        "", "Example:  holdfast volume create mail --replicas 3"})
  static final class Create implements Callable<Integer> {
    @Mixin ClusterOption cluster;

    @Parameters(index = "0", paramLabel = "NAME", description = "Volume name: 1-64 of letters, digits, '.', '_', '-'.")
    String name;

    @Option(names = "--replicas", defaultValue = "3", description = "Number of replicas (default: ${DEFAULT-VALUE}; 1 allowed, 3 recommended).")
    int replicas;

    @Option(names = "--nodes", split = ",", paramLabel = "HOST:PORT", description = "Nodes to place the replicas on (default: the first N nodes).")
    List<String> nodes;

    @Override
    public Integer call() throws Exception {
      ClusterMap.checkVolumeName(name);
      if (replicas < 1) {
        throw new IllegalArgumentException("--replicas must be at least 1, got " + replicas);
      }
      try (HoldfastClient client = cluster.connect()) {
        ClusterMap map = client.refreshMap();
        List<String> chosen = nodes != null ? nodes : new ArrayList<>(map.nodes());
        if (chosen.size() < replicas) {
          throw new IllegalArgumentException("--replicas " + replicas + " but the cluster has only " + chosen.size() + " nodes");
        }
        chosen = chosen.subList(0, replicas);
        client.createVolume(name, chosen);
        System.out.println("created volume " + name + " on " + String.join(", ", chosen));
        return 0;
      }
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "List volumes.")
  static final class ListVolumes implements Callable<Integer> {
    @Mixin ClusterOption cluster;

    @Override
    public Integer call() throws Exception {
      try (HoldfastClient client = cluster.connect()) {
        ClusterMap map = client.refreshMap();
        System.out.printf("%-20s %-8s %s%n", "VOLUME", "REPLICAS", "NODES");
        for (ClusterMap.Volume v : map.volumes().values()) {
          System.out.printf("%-20s %-8d %s%n", v.name(), v.replicas().size(), String.join(",", v.replicas()));
        }
        return 0;
      }
    }
  }

  @Command(name = "info", mixinStandardHelpOptions = true, description = "Show a volume's replica group and each member's applied index and digest.")
  static final class Info implements Callable<Integer> {
    @Mixin ClusterOption cluster;

    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Override
    public Integer call() throws Exception {
      try (HoldfastClient client = cluster.connect()) {
        ClusterMap.Volume v = client.refreshMap().volume(name)
            .orElseThrow(() -> new IllegalArgumentException("no volume " + name));
        System.out.println("volume   " + v.name());
        System.out.println("group    " + v.groupId());
        System.out.println("created  " + Instant.ofEpochSecond(0, v.createdNanos()));
        System.out.println("members:");
        return ClusterCommands.printMembers(client.memberDigests(name)) == 0 ? 0 : 3;
      }
    }
  }
}
