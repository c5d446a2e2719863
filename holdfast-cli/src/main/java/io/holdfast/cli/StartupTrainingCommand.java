package io.holdfast.cli;

import java.io.OutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The training run of the launcher's start-up cache (hidden): runs the one-shot client
 * commands, each as {@code holdfast ...} would, in this one JVM, against a running cluster, so
 * that a JVM started with {@code -XX:AOTCacheOutput} records what they load and run. Their
 * output is discarded; the exit status is 0 if every command that should succeed did. The
 * launcher {@code ./holdfast} starts a one-node cluster for it; see there.
 */
@Command(
        name = "startup-training",
        hidden = true,
        mixinStandardHelpOptions = true,
        description = "Run the client commands once against a cluster, for the launcher's start-up cache.")
final class StartupTrainingCommand implements Callable<Integer> {
    @Option(
            names = {"-c", "--cluster"},
            required = true,
            paramLabel = "HOST:PORT",
            description = "A node of the cluster.")
    String cluster;

    @Option(names = "--tls", required = true, paramLabel = "DIR", description = "Client certificate directory.")
    String tls;

    @Option(names = "--volume", required = true, paramLabel = "VOLUME", description = "A volume to read and write.")
    String volume;

    @Option(names = "--file", required = true, paramLabel = "PATH", description = "A small file in the volume.")
    String file;

    @Override
    public Integer call() {
        String v = volume + ":";
        List<List<String>> succeed = List.of(
                List.of("ls", v + "/"),
                List.of("ls", "-l", v + "/"),
                List.of("stat", v + file),
                List.of("cat", v + file),
                List.of("mkdir", "-p", v + "/startup-training/a"),
                List.of("mv", v + "/startup-training/a", v + "/startup-training/b"),
                List.of("rm", "-r", v + "/startup-training"),
                List.of("volume", "list"),
                List.of("cluster", "status"),
                List.of("ls", "--help"));
        List<List<String>> fail = List.of(List.of("stat", v + "/no-such-file"), List.of("cat", v + "/no-such-file"));
        PrintStream out = System.out;
        PrintStream err = System.err;
        List<String> failed = new ArrayList<>();
        PrintStream discard = new PrintStream(OutputStream.nullOutputStream());
        try {
            System.setOut(discard);
            System.setErr(discard);
            for (List<String> c : succeed) {
                if (Main.run(withCluster(c)) != 0) {
                    failed.add(String.join(" ", c));
                }
            }
            for (List<String> c : fail) {
                if (Main.run(withCluster(c)) == 0) {
                    failed.add(String.join(" ", c) + " (should fail)");
                }
            }
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        failed.forEach(c -> err.println("holdfast startup-training: failed: " + c));
        return failed.isEmpty() ? 0 : 1;
    }

    private String[] withCluster(List<String> command) {
        List<String> args = new ArrayList<>(command);
        if (!command.contains("--help")) {
            args.addAll(List.of("-c", cluster, "--tls", tls));
        }
        return args.toArray(String[]::new);
    }
}
