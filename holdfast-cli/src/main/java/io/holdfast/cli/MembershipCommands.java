package io.holdfast.cli;

import io.holdfast.client.ClusterAdmin;
import io.holdfast.client.HoldfastClient;
import io.holdfast.protocol.ClusterMap;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * Run-time membership: {@code holdfast cluster add-node|remove-node} and {@code holdfast volume
 * replace-replica}. Each needs the admin certificate.
 */
final class MembershipCommands {
    private MembershipCommands() {}

    /** A command about one node: the cluster options and the node's address. */
    abstract static class NodeCommand implements Callable<Integer> {
        @Mixin
        ClusterOption cluster;

        @Parameters(index = "0", paramLabel = "HOST:PORT", description = "The node's address.")
        String address;
    }

    @Command(
            name = "add-node",
            mixinStandardHelpOptions = true,
            description = {
                "Add a running node to the cluster. Prepare it first, on its machine:",
                "  holdfast cert node HOST:PORT --out DIR     (where the CA is; copy DIR to DATA/tls on the node)",
                "  holdfast cluster init --data DATA --address HOST:PORT --peers <the cluster's initial peers> "
                        + "--cluster-id ID",
                "  holdfast server --data DATA",
                "then run this. Volumes can then be placed on it ('holdfast volume replace-replica')."
            })
    static final class AddNode extends NodeCommand {
        @Override
        public Integer call() throws Exception {
            try (HoldfastClient client = cluster.connect()) {
                ClusterMap m = client.admin().addNode(address);
                System.out.println("added node " + address + "; nodes are " + String.join(", ", m.nodes()));
                return 0;
            }
        }
    }

    @Command(
            name = "remove-node",
            mixinStandardHelpOptions = true,
            description = {
                "Remove a node from the cluster. Every replica it holds is first moved to another node (the one",
                "serving the fewest replicas), one volume at a time, while clients keep working; then the node is",
                "removed from the cluster map. Its bricks are kept under DATA/removed/ on that node. The three",
                "nodes that hold the cluster map (the first three initial peers) cannot be removed."
            })
    static final class RemoveNode extends NodeCommand {
        @Override
        public Integer call() throws Exception {
            try (HoldfastClient client = cluster.connect()) {
                ClusterMap m = client.admin().removeNode(address, progressBar(System.err));
                System.err.println();
                System.out.println("removed node " + address + "; nodes are " + String.join(", ", m.nodes()));
                return 0;
            }
        }
    }

    @Command(
            name = "replace-replica",
            mixinStandardHelpOptions = true,
            description = {
                "Move a volume's replica from OLD_NODE to NEW_NODE while clients keep reading and writing.",
                "NEW_NODE starts an empty member, catches up from a snapshot and the log (a progress bar shows",
                "how far), the group's Raft configuration swaps the two, and OLD_NODE leaves the group (its brick",
                "is kept under DATA/removed/ there). The membership generation goes up by one: OLD_NODE's brick",
                "can never come back as current. If interrupted, run the same command again to finish.",
                "",
                "Example: holdfast volume replace-replica mail 10.0.0.3:7001 10.0.0.4:7001"
            })
    static final class ReplaceReplica implements Callable<Integer> {
        @Mixin
        ClusterOption cluster;

        @Parameters(index = "0", paramLabel = "VOLUME")
        String volume;

        @Parameters(index = "1", paramLabel = "OLD_NODE", description = "The replica to replace (HOST:PORT).")
        String oldNode;

        @Parameters(index = "2", paramLabel = "NEW_NODE", description = "The node to put it on (HOST:PORT).")
        String newNode;

        @Override
        public Integer call() throws Exception {
            try (HoldfastClient client = cluster.connect()) {
                ClusterMap m = client.admin().replaceReplica(volume, oldNode, newNode, progressBar(System.err));
                System.err.println();
                System.out.println("volume " + volume + ": replicas "
                        + String.join(", ", m.volume(volume).orElseThrow().replicas()) + " (membership generation "
                        + m.volume(volume).orElseThrow().generation() + ")");
                return 0;
            }
        }
    }

    /** A one-line progress bar of a joining member's catch-up, redrawn in place. */
    static Consumer<ClusterAdmin.CatchUp> progressBar(PrintStream out) {
        return p -> {
            int width = 30;
            int done = (int) Math.round(p.fraction() * width);
            out.printf(
                    "\r%s: %s [%s%s] %3.0f%%  applied %d of %d  %.1f s",
                    p.volume(),
                    p.member(),
                    "#".repeat(done),
                    " ".repeat(width - done),
                    p.fraction() * 100,
                    Math.max(0, p.appliedIndex()),
                    Math.max(0, p.targetIndex()),
                    p.elapsed().toMillis() / 1000.0);
            out.flush();
        };
    }
}
