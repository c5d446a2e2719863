package io.holdfast.cli;

import io.holdfast.server.HoldfastNode;
import io.holdfast.server.NodeConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code holdfast server}: runs one node in the foreground until SIGTERM or SIGINT. */
@Command(name = "server", mixinStandardHelpOptions = true,
    description = {
      "Run a Holdfast node in the foreground until stopped with Ctrl-C or SIGTERM.",
      "The data directory must have been set up with 'holdfast cluster init'.",
      "",
      "Example:  holdfast server --data /var/lib/holdfast"
    })
final class ServerCommand implements Callable<Integer> {
  @Option(names = "--data", required = true, paramLabel = "DIR", description = "The node's data directory (holds holdfast.conf, raft/, bricks/).")
  Path data;

  @Override
  public Integer call() throws Exception {
    NodeConfig config = NodeFiles.read(data);
    HoldfastNode node = HoldfastNode.start(config);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        node.close();
      } catch (Exception e) {
        System.err.println("holdfast: error while stopping: " + e.getMessage());
      } finally {
        stopped.countDown();
      }
    }, "holdfast-shutdown"));
    System.out.println("holdfast node " + config.address() + " running (cluster " + config.clusterId() + ", data " + data.toAbsolutePath() + ")");
    System.out.flush();
    stopped.await();
    return 0;
  }
}
