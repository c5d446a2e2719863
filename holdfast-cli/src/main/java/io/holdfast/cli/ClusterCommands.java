package io.holdfast.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.client.HoldfastClient;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Placement;
import io.holdfast.protocol.Response;
import io.holdfast.server.CertificateAuthority;
import io.holdfast.server.NodeConfig;
import io.holdfast.server.NodeSecurity;
import io.holdfast.server.admin.StatusReport;
import io.holdfast.server.admin.StatusText;
import io.holdfast.transport.TransportSecurity;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code holdfast cluster init|status|add-node|remove-node}. */
@Command(
        name = "cluster",
        mixinStandardHelpOptions = true,
        description = "Set up a node's data directory, or show the cluster's state.",
        subcommands = {
            ClusterCommands.Init.class,
            ClusterCommands.Status.class,
            MembershipCommands.AddNode.class,
            MembershipCommands.RemoveNode.class
        })
final class ClusterCommands {

    @Command(
            name = "init",
            mixinStandardHelpOptions = true,
            description = {
                "Write holdfast.conf into a node's data directory, and its TLS certificate into DIR/tls.",
                "Run it once per node with the same --peers; the first node's run prints the cluster id,",
                "pass it to the others with --cluster-id. The first three peers hold the cluster map.",
                "",
                "The first run also creates the cluster CA (--ca, default ~/.holdfast/ca; keep ca.key safe)",
                "and an admin client certificate (--client-tls, default ~/.holdfast/tls). Later runs issue",
                "the node's certificate from the CA if --ca holds it; on other machines, issue it where the",
                "CA is ('holdfast cert node HOST:PORT --out DIR') and copy DIR to the node's DATA/tls.",
                "",
                "Example (three machines):",
                "  a$ holdfast cluster init --data /var/lib/holdfast --address a:7001 --peers a:7001,b:7001,c:7001",
                "  a$ holdfast cert node b:7001 --out b-tls     (copy b-tls to b:/var/lib/holdfast/tls; c likewise)",
                "  b$ holdfast cluster init --data /var/lib/holdfast --address b:7001 --peers a:7001,b:7001,c:7001 "
                        + "--cluster-id ID",
                "  c$ ... likewise, then 'holdfast server --data /var/lib/holdfast' on each."
            })
    static final class Init implements Callable<Integer> {
        @Option(names = "--data", required = true, paramLabel = "DIR", description = "Data directory to initialize.")
        Path data;

        @Option(
                names = "--address",
                required = true,
                paramLabel = "HOST:PORT",
                description = "This node's address (it listens here).")
        String address;

        @Option(
                names = "--peers",
                required = true,
                paramLabel = "A,B,C",
                description =
                        "The cluster's initial nodes (the first three hold the cluster map); a node added later lists "
                                + "them too.")
        String peers;

        @Option(
                names = "--cluster-id",
                paramLabel = "UUID",
                description = "The cluster id printed by the first node's init (default: a new cluster).")
        UUID clusterId;

        @Option(
                names = "--snapshot-threshold",
                paramLabel = "ENTRIES",
                defaultValue = "20000",
                description = "Applied log entries between automatic snapshots (default: ${DEFAULT-VALUE}).")
        long snapshotThreshold;

        @Option(names = "--ca", paramLabel = "DIR", description = "The cluster CA directory (default: ~/.holdfast/ca).")
        Path ca;

        @Option(
                names = "--client-tls",
                paramLabel = "DIR",
                description = "Where the first run writes the admin client certificate (default: $HOLDFAST_TLS, else "
                        + "~/.holdfast/tls).")
        Path clientTls;

        @Option(
                names = "--insecure",
                description = "No certificates: the node must then run with --insecure (plaintext). Prints a warning.")
        boolean insecure;

        @Override
        public Integer call() throws Exception {
            UUID id = clusterId != null ? clusterId : UUID.randomUUID();
            NodeConfig c = new NodeConfig(data, address, NodeFiles.peers(peers), id, snapshotThreshold);
            Path caDir = ca != null ? ca : CertCommands.defaultCaDir();
            if (!insecure && clusterId == null && Files.exists(caDir.resolve(CertificateAuthority.KEY_FILE))) {
                throw new IllegalArgumentException(
                        caDir + " already holds a cluster CA; for a new cluster pass --ca NEWDIR,"
                                + " for a node of the cluster it belongs to pass that cluster's --cluster-id");
            }
            NodeFiles.write(c);
            System.out.println(
                    "initialized " + data.resolve(NodeFiles.FILE) + " for node " + address + " of cluster " + id);
            if (!c.initialPeer()) {
                System.out.println(
                        "node " + address + " is not among the initial peers: once it runs ('holdfast server --data "
                                + data + "'), add it with 'holdfast cluster add-node " + address + "'");
            }
            if (insecure) {
                System.err.println(TransportSecurity.INSECURE_WARNING);
            } else if (clusterId == null) {
                CertificateAuthority authority = CertificateAuthority.create(caDir, id.toString());
                System.out.println("created the cluster CA in " + caDir
                        + " (ca.key is mode 0600: keep it safe and off the nodes if you can)");
                CertCommands.issueNode(
                        authority,
                        address,
                        List.of(),
                        NodeSecurity.tlsDirectory(data),
                        Instant.now().plus(CertificateAuthority.VALIDITY));
                Path admin = clientTls != null ? clientTls : TransportSecurity.defaultClientDirectory();
                if (Files.exists(admin.resolve("client.crt"))) {
                    System.out.println("kept the existing client certificate in " + admin
                            + "; issue an admin one for this cluster with"
                            + " 'holdfast cert client admin --admin --ca " + caDir + " --out DIR'");
                } else {
                    CertCommands.issueClient(
                            authority, "admin", true, admin, Instant.now().plus(CertificateAuthority.VALIDITY));
                }
            } else if (Files.exists(caDir.resolve(CertificateAuthority.KEY_FILE))) {
                CertCommands.issueNode(
                        CertificateAuthority.load(caDir),
                        address,
                        List.of(),
                        NodeSecurity.tlsDirectory(data),
                        Instant.now().plus(CertificateAuthority.VALIDITY));
            } else {
                System.out.println("no cluster CA in " + caDir + ": on the machine that has it run 'holdfast cert node "
                        + address + " --out DIR' and copy DIR to " + NodeSecurity.tlsDirectory(data));
            }
            if (clusterId == null) {
                System.out.println(
                        "on the other nodes run: holdfast cluster init --data DIR --address HOST:PORT --peers " + peers
                                + " --cluster-id " + id);
            }
            System.out.println("then start each node with: holdfast server --data " + data);
            return 0;
        }
    }

    @Command(
            name = "status",
            mixinStandardHelpOptions = true,
            description = {
                "Show nodes (up or DOWN), volumes, and every Raft group (the cluster group and each volume's):",
                "its leader, term and health, and each member's role, commit and applied index, lag (entries",
                "the member has yet to apply of what the leader committed), time since the leader last heard",
                "from it, and each volume member's state digest. The same as each node's status page",
                "(http://127.0.0.1:NODEPORT+1000/), seen from this client: lag in seconds is on the leader's",
                "page and in its metrics (holdfast_raft_lag_seconds).",
                "Health: healthy (leader known, all members up, lag small), degraded (a member down or",
                "catching up, a majority up), unavailable (no majority, or no leader).",
                "",
                "Example:  holdfast cluster status --json | jq '.groups[] | {name, leader, health}'"
            },
            exitCodeList = {"0:every volume member answered", "3:a volume member did not answer (it is shown DOWN)"})
    static final class Status implements Callable<Integer> {
        @Mixin
        ClusterOption cluster;

        @Option(names = "--json", description = "Print one JSON object instead of the table (for scripts).")
        boolean json;

        /**
         * A volume member as {@code --json} shows it under {@code volumes}: {@code up} with its
         * state digest, or the error it answered. Its applied index is not here but in
         * {@code groups[].members[].appliedIndex}, so that the document has one per member.
         */
        record Member(String address, boolean up, String digest, String error) {}

        /**
         * A volume as {@code --json} shows it.
         *
         * @param identical whether every member answered with the same digest at the same applied
         *     index (as its digest reported it)
         */
        record VolumeStatus(
                String name, String group, List<String> replicas, boolean identical, List<Member> members) {}

        /**
         * The whole {@code --json} document: the fields of earlier versions, then {@code health}
         * (the worst of the groups'), {@code nodeStatus} and {@code groups} as the status page's
         * JSON has them ({@link StatusReport}). Each member's role, commit and applied index, lag
         * and digest are in {@code groups}; {@code volumes} keeps each volume's members, up or not,
         * digest and error, and whether they are identical; {@code featureLevel} is the newest log
         * format every node supports, {@code halted} the members stopped at an entry they cannot
         * decode (each node's version and log formats are in {@code nodeStatus}).
         */
        record Report(
                String cluster,
                long epoch,
                String connectedAs,
                List<String> nodes,
                List<String> clusterGroup,
                List<VolumeStatus> volumes,
                boolean healthy,
                String health,
                List<StatusReport.Node> nodeStatus,
                List<StatusReport.Group> groups,
                Integer featureLevel,
                List<StatusReport.Halted> halted) {}

        @Override
        public Integer call() throws Exception {
            try (HoldfastClient client = cluster.connect()) {
                ClusterMap map = client.refreshMap();
                StatusProbe.Result probe = StatusProbe.report(client, map);
                StatusReport status = probe.report();
                Report r = report(client, map, probe);
                if (json) {
                    System.out.println(json(r));
                } else {
                    System.out.println("cluster " + map.clusterId() + " (map epoch " + map.epoch() + "), connected as "
                            + client.welcome().peer() + ", health " + r.health());
                    System.out.print(StatusText.render(status));
                }
                return r.healthy() ? 0 : 3;
            }
        }

        /** The {@code --json} document, pretty-printed. */
        static String json(Report r) throws JsonProcessingException {
            return new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(r);
        }

        private static Report report(HoldfastClient client, ClusterMap map, StatusProbe.Result probe) {
            List<VolumeStatus> volumes = new ArrayList<>();
            boolean healthy = true;
            for (ClusterMap.Volume v : map.volumes().values()) {
                List<Member> members = new ArrayList<>();
                Map<String, Response> digests = probe.digests().get(v.name());
                for (Map.Entry<String, Response> e : digests.entrySet()) {
                    members.add(
                            e.getValue() instanceof Response.Digest d
                                    ? new Member(e.getKey(), true, d.hex(), null)
                                    : new Member(e.getKey(), false, null, String.valueOf(e.getValue())));
                }
                boolean allUp = members.stream().allMatch(Member::up);
                healthy &= allUp;
                volumes.add(new VolumeStatus(
                        v.name(),
                        Placement.onlyGroup(v).toString(),
                        v.replicas(),
                        allUp && digests.values().stream().distinct().count() == 1,
                        members));
            }
            StatusReport status = probe.report();
            return new Report(
                    map.clusterId().toString(),
                    map.epoch(),
                    client.welcome().peer(),
                    map.nodes(),
                    map.clusterGroup(),
                    volumes,
                    healthy,
                    status.worstHealth().label(),
                    status.nodes(),
                    status.groups(),
                    status.featureLevel(),
                    status.halted());
        }
    }

    private ClusterCommands() {}
}
