package io.holdfast.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.protocol.Access;
import io.holdfast.protocol.AclRule;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Placement;
import io.holdfast.protocol.Response;
import io.holdfast.server.admin.StatusText;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code holdfast volume create|list|info|acl}. */
@Command(
        name = "volume",
        mixinStandardHelpOptions = true,
        description = "Create and inspect volumes, and set who may use them.",
        subcommands = {
            VolumeCommands.Create.class,
            VolumeCommands.ListVolumes.class,
            VolumeCommands.Info.class,
            VolumeCommands.Acl.class,
            MembershipCommands.ReplaceReplica.class
        })
final class VolumeCommands {
    private VolumeCommands() {}

    @Command(
            name = "create",
            mixinStandardHelpOptions = true,
            description = {
                "Create a volume served by a replica group of --replicas nodes.",
                "",
                "Example:  holdfast volume create mail --replicas 3"
            })
    static final class Create implements Callable<Integer> {
        @Mixin
        ClusterOption cluster;

        @Parameters(
                index = "0",
                paramLabel = "NAME",
                description = "Volume name: 1-64 of letters, digits, '.', '_', '-'.")
        String name;

        @Option(
                names = "--replicas",
                defaultValue = "3",
                paramLabel = "N",
                description = "Number of replicas (default: ${DEFAULT-VALUE}; 1 allowed, 3 recommended).")
        int replicas;

        @Option(
                names = "--nodes",
                split = ",",
                paramLabel = "A,B,C",
                hideParamSyntax = true,
                description = "Nodes to place the replicas on (default: the first N nodes).")
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
                    throw new IllegalArgumentException(
                            "--replicas " + replicas + " but the cluster has only " + chosen.size() + " nodes");
                }
                chosen = chosen.subList(0, replicas);
                client.admin().createVolume(name, chosen);
                System.out.println("created volume " + name + " on " + String.join(", ", chosen));
                System.out.println("only the admin can use it until you export it, e.g.: holdfast volume acl " + name
                        + " add 'mail-*' 10.0.0.0/8 rw");
                return 0;
            }
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List volumes.")
    static final class ListVolumes implements Callable<Integer> {
        @Mixin
        ClusterOption cluster;

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

    @Command(
            name = "info",
            mixinStandardHelpOptions = true,
            description =
                    "Show a volume's replica group: leader, term, health, and each member's role, commit and applied "
                            + "index, lag and digest.",
            exitCodeList = {"3:a member did not answer (it is shown DOWN)"})
    static final class Info implements Callable<Integer> {
        @Mixin
        ClusterOption cluster;

        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Override
        public Integer call() throws Exception {
            try (HoldfastClient client = cluster.connect()) {
                ClusterMap.Volume v = client.refreshMap()
                        .volume(name)
                        .orElseThrow(() -> new IllegalArgumentException("no volume " + name));
                System.out.println("volume   " + v.name());
                System.out.println("group    " + Placement.onlyGroup(v));
                System.out.println("created  " + Instant.ofEpochSecond(0, v.createdNanos()));
                System.out.println("members  generation " + v.generation()
                        + (v.joining().isEmpty()
                                ? ""
                                : ", " + v.joining() + " joining (a replacement under way; see its applied index)"));
                var digests = client.probe().memberDigests(name);
                List<String> members = new ArrayList<>(v.replicas());
                if (!v.joining().isEmpty()) {
                    members.add(v.joining());
                }
                System.out.print(StatusText.group(
                        StatusProbe.group(client, v.name(), Placement.onlyGroup(v), members, digests)));
                return digests.values().stream().allMatch(Response.Digest.class::isInstance) ? 0 : 3;
            }
        }
    }

    @Command(
            name = "acl",
            mixinStandardHelpOptions = true,
            description = {
                "Show or change a volume's export ACL: which clients (certificate name, '*' wildcards) from",
                "which addresses (CIDR, or '*') get none, ro (read-only) or rw access. Rules are tried in order;",
                "the first match decides; no match denies. The admin and nodes always have full access.",
                "A read-only client gets EROFS on every write; a client with no access gets EACCES.",
                "Changes reach existing sessions as soon as the nodes apply them (well under a second).",
                "",
                "Examples:",
                "  holdfast volume acl mail add 'mail-*' 10.0.0.0/8 rw",
                "  holdfast volume acl mail add backup '*' ro",
                "  holdfast volume acl mail remove backup '*' ro",
                "  holdfast volume acl mail list"
            })
    static final class Acl implements Callable<Integer> {
        @Mixin
        ClusterOption cluster;

        @Parameters(index = "0", paramLabel = "VOLUME")
        String volume;

        @Parameters(index = "1", paramLabel = "add|remove|list")
        String action;

        @Parameters(
                index = "2..*",
                arity = "0..3",
                paramLabel = "[IDENTITY NETWORK ACCESS]",
                hideParamSyntax = true,
                description =
                        "For add and remove: the client name pattern, the CIDR range ('*' for any), and none|ro|rw.")
        List<String> rule = new ArrayList<>();

        @Override
        public Integer call() throws Exception {
            ClusterMap.checkVolumeName(volume);
            AclRule parsed = null;
            switch (action) {
                case "add", "remove" -> {
                    if (rule.size() != 3) {
                        throw new IllegalArgumentException(
                                action + " needs IDENTITY NETWORK ACCESS, e.g. 'mail-*' 10.0.0.0/8 rw");
                    }
                    parsed = new AclRule(rule.get(0), rule.get(1), Access.parse(rule.get(2)));
                }
                case "list" -> {
                    if (!rule.isEmpty()) {
                        throw new IllegalArgumentException("list takes no more arguments");
                    }
                }
                default ->
                    throw new IllegalArgumentException("unknown action \"" + action + "\": use add, remove or list");
            }
            try (HoldfastClient client = cluster.connect()) {
                ClusterMap map = switch (action) {
                    case "add" -> client.admin().addAclRule(volume, parsed);
                    case "remove" -> client.admin().removeAclRule(volume, parsed);
                    default -> client.refreshMap();
                };
                ClusterMap.Volume v =
                        map.volume(volume).orElseThrow(() -> new IllegalArgumentException("no volume " + volume));
                if (!action.equals("list")) {
                    System.out.println((action.equals("add") ? "added " : "removed ") + parsed);
                }
                System.out.printf("%-4s %-32s %-20s %s%n", "#", "IDENTITY", "NETWORK", "ACCESS");
                int i = 1;
                for (AclRule r : v.acl()) {
                    System.out.printf(
                            "%-4d %-32s %-20s %s%n",
                            i++, r.identity(), r.network(), r.access().label());
                }
                if (v.acl().isEmpty()) {
                    System.out.println("(no rules: only the admin and nodes can use " + volume + ")");
                }
                return 0;
            }
        }
    }
}
