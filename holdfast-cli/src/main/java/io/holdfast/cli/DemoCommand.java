package io.holdfast.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.common.Units;
import io.holdfast.fuse.Capabilities;
import io.holdfast.fuse.FuseMount;
import io.holdfast.fuse.FuseOptions;
import io.holdfast.protocol.Response;
import io.holdfast.server.NodeConfig;
import io.holdfast.server.admin.AdminOptions;
import io.holdfast.transport.TransportSecurity;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionService;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code holdfast demo}: three nodes as separate processes on this machine, a 3-replica
 * volume mounted with FUSE, a real source tree copied in with {@code cp -a} while one node is
 * killed with SIGKILL, the node restarted and caught up, and every byte checked. With {@code --nbd}
 * the same cluster serves a block device instead ({@link NbdDemo}); with {@code --overlay}, no
 * cluster ({@link OverlayDemo}).
 */
@Command(
        name = "demo",
        mixinStandardHelpOptions = true,
        description = {
            "Run Holdfast end to end on this machine and check every byte.",
            "",
            "Starts three nodes (separate JVMs, loopback ports from --base-port, data under --data),",
            "creates a 3-replica volume, mounts it with FUSE (or uses the CLI copy if FUSE is missing),",
            "copies a real source tree into it with cp -a, kills one node with SIGKILL halfway, restarts",
            "it and waits for it to catch up, then verifies names, sizes, symlink targets and SHA-256 of",
            "every file, and that all three members report the same state digest at the same applied",
            "index.",
            "",
            "Source tree: --source DIR, else the Linux kernel source from Debian's linux-source package",
            "(/usr/src/linux-source-*.tar.xz) if installed, else the JDK's lib/src.zip.",
            "",
            "With --keep the demo stays in the foreground once verified: the three nodes it started and the",
            "mount run until Ctrl-C (or SIGTERM), which stops those nodes and unmounts the volume. To restart",
            "a node by hand meanwhile: kill its PID (printed), then run 'holdfast server --data DIR/nN'",
            "(N = 1, 2, 3) in another terminal; that process is then yours to stop, not the demo's.",
            "",
            "With --nbd, instead of the FUSE copy: a replicated block device under a real NBD client. A sparse",
            "export demo/disk.img of --nbd-size (1 GiB) is created on the volume and served by the NBD gateway on",
            "127.0.0.1:--nbd-port with TLS required (a client certificate of the cluster CA, allowed read-write by",
            "the volume's export ACL, written for libnbd under DATA/nbd/client-tls). An ext4 image of the same size,",
            "made with mke2fs -d from generated files (or --source DIR), is copied in with nbdcopy --flush; when half",
            "its data is written the volume's leader is killed with SIGKILL and the copy must finish without an error.",
            "The node is restarted, the members must converge, and the export read back with nbdcopy must have the",
            "source's SHA-256 (and pass e2fsck -fn). The summary gives the copy rate and the stall the client saw.",
            "Needs nbdcopy (apt-get install libnbd-bin) and mke2fs, e2fsck (e2fsprogs). Example:",
            "  holdfast demo --nbd                    (256 MiB of data into a 1 GiB export)",
            "  holdfast demo --nbd --nbd-size 256MiB  (a quicker run)",
            "",
            "With --overlay, instead: the overlay's disaster-recovery story in about half a minute, no cluster",
            "(needs FUSE). A base tree with unreadable files (injected read errors) is mounted under an overlay",
            "with 'holdfast overlay mount', a workload of ordinary tools (writes, renames, deletes, overwriting an",
            "unreadable file) runs through the mount, 'holdfast overlay status' lists the lower errors, 'holdfast",
            "overlay merge' is killed with SIGKILL partway and run again to resume, and the merged base is compared",
            "with the tree the same workload gives on a plain copy (types, contents, modes, links). DATA/overlay."
        },
        exitCodeList = {
            "0:every check held (with --keep: after Ctrl-C)",
            "1:a check failed, or the demo could not run (why is on stderr)"
        })
final class DemoCommand implements Callable<Integer> {
    static final String VOLUME = "demo";
    private static final String MARKER = ".holdfast-demo";
    private static final int COPIERS = 4;
    private static final long NBD_MIN_SIZE = 32L << 20;
    private static final int CONNECT_SECONDS = 180;

    @Option(
            names = "--data",
            defaultValue = "holdfast-data",
            paramLabel = "DIR",
            description = "Where the demo keeps everything (default: ./${DEFAULT-VALUE}).")
    Path data;

    @Option(
            names = "--source",
            paramLabel = "DIR",
            description = "Copy this directory tree instead of the default source.")
    Path source;

    @Option(
            names = "--base-port",
            defaultValue = "7001",
            paramLabel = "PORT",
            description = "First of three loopback ports (default: ${DEFAULT-VALUE}).")
    int basePort;

    @Option(
            names = "--keep",
            description = "Once verified, stay in the foreground with the cluster running and the volume mounted"
                    + " until Ctrl-C; prints how to use it, restart a node, and stop it.")
    boolean keep;

    @Option(names = "--no-fuse", description = "Copy with the CLI (NIO) instead of through a FUSE mount.")
    boolean noFuse;

    @Option(
            names = "--overlay",
            description = "Instead: the overlay's disaster-recovery story (no cluster; needs FUSE). A base tree with"
                    + " unreadable files (injected EIO) is mounted under an overlay, a workload of ordinary tools"
                    + " runs through it, 'holdfast overlay status' lists the errors, 'holdfast overlay merge' is"
                    + " killed with SIGKILL halfway and resumed, and the merged base is compared with the expected"
                    + " tree. Works in DATA/overlay.")
    boolean overlay;

    @Option(
            names = "--nbd",
            description = "Instead of the FUSE copy: a replicated block device. Creates an export of --nbd-size on"
                    + " the volume, serves it with the NBD gateway (TLS), copies an ext4 image into it with nbdcopy,"
                    + " kills the volume's leader (SIGKILL) mid-copy, restarts it, and checks the image read back"
                    + " through NBD by SHA-256. Needs nbdcopy (libnbd-bin) and mke2fs, e2fsck (e2fsprogs).")
    boolean nbd;

    @Option(
            names = "--nbd-size",
            defaultValue = "1GiB",
            paramLabel = "SIZE",
            converter = CatchUpBenchCommand.SizeConverter.class,
            description = "With --nbd: the export's and the ext4 image's size, 32MiB or more (default"
                    + " ${DEFAULT-VALUE}); generated files fill about a quarter of it.")
    long nbdSize;

    @Option(
            names = "--nbd-port",
            defaultValue = "10809",
            paramLabel = "PORT",
            description = "With --nbd: the gateway's loopback port (default ${DEFAULT-VALUE}; 0 picks a free one).")
    int nbdPort;

    private final List<Process> nodes = new ArrayList<>();
    private final List<String> addresses = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        ClientLogging
                .quietClient(); // the Raft client's retries during the failover are expected; the demo reports progress
        // itself
        data = data.toAbsolutePath().normalize();
        if (overlay) {
            if (keep || noFuse || source != null || nbd) {
                throw new IllegalArgumentException(
                        "--overlay runs on its own: it takes no --keep, --no-fuse, --source or --nbd");
            }
            claimDataDir();
            return new OverlayDemo(data, System.out).run();
        }
        if (nbd) {
            if (noFuse) {
                throw new IllegalArgumentException("--nbd uses no FUSE mount: it takes no --no-fuse");
            }
            if (nbdSize < NBD_MIN_SIZE || nbdSize > (1L << 40)) {
                throw new IllegalArgumentException("--nbd-size must be from 32MiB to 1TiB: " + Units.size(nbdSize));
            }
            if (nbdPort < 0 || nbdPort > 65535) {
                throw new IllegalArgumentException("--nbd-port out of range: " + nbdPort);
            }
            String missing = NbdDemo.missingTools();
            if (missing != null) {
                System.err.println("holdfast demo: " + missing);
                return 1;
            }
        }
        prepareDataDir();
        Path tree = source != null ? source.toAbsolutePath().normalize() : null;
        if (tree != null && !Files.isDirectory(tree)) {
            throw new IllegalArgumentException("source " + tree + " is not a directory");
        }
        TreeStats stats = null;
        if (!nbd) {
            if (tree == null) {
                tree = defaultSource();
            }
            stats = TreeStats.of(tree);
            say(
                    "source: %s (%d files, %d directories, %d symlinks, %s)",
                    tree, stats.files, stats.dirs, stats.links, Units.size(stats.bytes));
        }

        UUID clusterId = UUID.randomUUID();
        for (int i = 0; i < 3; i++) {
            addresses.add("127.0.0.1:" + (basePort + i));
            // the node's port and its admin port (status page, metrics) at port + 1000
            for (int port : new int[] {basePort + i, basePort + i + AdminOptions.PORT_OFFSET}) {
                probePort(port, "--base-port");
            }
        }
        if (nbd && nbdPort != 0) {
            probePort(nbdPort, "--nbd-port");
        }
        List<NodeConfig> configs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            configs.add(new NodeConfig(nodeDir(i), addresses.get(i), addresses, clusterId, 20_000));
            NodeFiles.write(configs.get(i));
        }
        LoopbackCredentials.issue(caDir(), configs, clientTls());
        say("created a cluster CA and certificates in %s: every connection is mutual TLS 1.3", data);
        // Ctrl-C / SIGTERM before the demo is done: stop the node processes we started; the FUSE
        // mount goes away with this process (auto_unmount). With --keep, once verified, the signal
        // is awaited instead and the finally block below stops the mount and the nodes in order.
        Thread reaper = new Thread(() -> nodes.forEach(Process::destroy), "holdfast-demo-reaper");
        Runtime.getRuntime().addShutdownHook(reaper);
        boolean ok = false;
        FuseMount mount = null;
        FileSystem fs = null;
        HoldfastClient client = null;
        NbdDemo nbdDemo = null;
        try {
            for (int i = 0; i < 3; i++) {
                nodes.add(startNode(i));
            }
            say("started 3 nodes: %s (logs in %s/n*/server.log)", String.join(", ", addresses), data);
            client = connect();
            client.admin().createVolume(VOLUME, addresses); // returns once every replica serves it
            say("created volume '%s' with 3 replicas", VOLUME);

            fs = FileSystems.newFileSystem(URI.create("holdfast://" + addresses.get(0) + "/" + VOLUME), clientEnv());
            if (nbd) {
                nbdDemo = new NbdDemo(this, client, fs, data.resolve("nbd"), nbdSize, tree, nbdPort);
                ok = nbdDemo.run();
                if (keep && ok) {
                    System.out.println();
                    System.out.print(keepMessage(
                            data,
                            basePort,
                            addresses,
                            null,
                            nodes.stream().map(Process::pid).toList(),
                            nbdDemo.keepMessage()));
                    System.out.flush();
                    awaitStopSignal();
                    say("stopping: the NBD gateway and the %d nodes this demo started", nodes.size());
                }
                return ok ? 0 : 1;
            }
            Path target;
            boolean fuse = !noFuse && FuseMount.isAvailable();
            if (fuse) {
                Path mnt = Files.createDirectories(data.resolve("mnt"));
                mount = FuseMount.mount(
                        fs.getPath("/"),
                        mnt,
                        FuseOptions.defaults()
                                .withFsName("holdfast-demo")
                                .withCacheTimeout(Duration.ofSeconds(MountCommand.LEASED_CACHE_SECONDS))
                                .withCallerScope(MountCommand.HOLDFAST_CALLERS)
                                .withCapabilities(Capabilities.HOLDFAST));
                target = mnt;
                say("mounted at %s (FUSE)", mnt);
            } else {
                target = fs.getPath("/");
                say(
                        noFuse
                                ? "copying with the CLI (--no-fuse)"
                                : "FUSE is not available (install fuse3); copying with the CLI instead");
            }

            long copyStart = System.nanoTime();
            int killed = copyWithKill(tree, target, fuse, stats, client);
            double copySeconds = (System.nanoTime() - copyStart) / 1e9;
            say(
                    "copy finished in %.1f s (%s) with node %s down since halfway",
                    copySeconds, Units.rate(stats.bytes / copySeconds), addresses.get(killed));

            long restart = System.nanoTime();
            restart(killed);
            say("restarted node %s; waiting for it to catch up", addresses.get(killed));
            Response.Digest digest = awaitConvergence(client, 600);
            double catchUp = (System.nanoTime() - restart) / 1e9;
            say(
                    "all 3 members identical at applied index %d (digest %s…) after %.1f s",
                    digest.appliedIndex(), digest.hex().substring(0, 16), catchUp);

            say("verifying every file through the %s …", fuse ? "mount" : "NIO file system");
            Verification v = verify(tree, target);
            say(
                    "verified %d files, %d directories, %d symlinks, %s: %s",
                    v.files,
                    v.dirs,
                    v.links,
                    Units.size(v.bytes),
                    v.problems.isEmpty() ? "all identical" : v.problems.size() + " PROBLEMS");
            v.problems.stream().limit(20).forEach(p -> say("  mismatch: %s", p));
            ok = v.problems.isEmpty();

            System.out.println();
            System.out.println("== holdfast demo summary ==");
            System.out.printf("source            %s%n", tree);
            System.out.printf("files             %d (+%d dirs, %d symlinks)%n", stats.files, stats.dirs, stats.links);
            System.out.printf("bytes             %s%n", Units.size(stats.bytes));
            System.out.printf(
                    "copy              %.1f s, %s, %.0f files/s (%s, 3 replicas)%n",
                    copySeconds,
                    Units.rate(stats.bytes / copySeconds),
                    stats.files / copySeconds,
                    fuse ? "cp -a through FUSE" : "CLI copy");
            System.out.printf("node killed       %s (SIGKILL, halfway through the copy)%n", addresses.get(killed));
            System.out.printf(
                    "catch-up          %.1f s to identical state at applied index %d%n",
                    catchUp, digest.appliedIndex());
            System.out.printf(
                    "verification      %s%n",
                    ok ? "PASS: every name, size, symlink and SHA-256 identical; 3 equal member digests" : "FAIL");
            if (keep && ok) {
                System.out.println();
                System.out.print(keepMessage(
                        data,
                        basePort,
                        addresses,
                        fuse ? target : null,
                        nodes.stream().map(Process::pid).toList()));
                System.out.flush();
                awaitStopSignal();
                say(
                        "stopping: %sthe %d nodes this demo started",
                        fuse ? "unmounting " + target + " and stopping " : "stopping ", nodes.size());
            }
            return ok ? 0 : 1;
        } finally {
            if (nbdDemo != null) {
                nbdDemo.close();
            }
            if (mount != null) {
                mount.close();
            }
            if (fs != null) {
                fs.close();
            }
            if (client != null) {
                client.close();
            }
            for (Process p : nodes) {
                p.destroy();
            }
            for (Process p : nodes) {
                if (!p.waitFor(20, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            }
        }
    }

    /**
     * What {@code --keep} prints once the demo is verified: that it stays in the foreground, how
     * to use the cluster, how to restart a node by hand, and what Ctrl-C stops.
     *
     * @param data the demo's data directory (absolute)
     * @param basePort the first node's port
     * @param addresses the nodes' addresses
     * @param mountPoint where the volume is mounted, or null if it is not (no FUSE)
     * @param pids the process ids of the nodes, in address order
     */
    static String keepMessage(Path data, int basePort, List<String> addresses, Path mountPoint, List<Long> pids) {
        return keepMessage(data, basePort, addresses, mountPoint, pids, null);
    }

    /**
     * {@link #keepMessage(Path, int, List, Path, List)} for {@code --nbd}: {@code gateway} (lines
     * ending in a line separator; null without a gateway) says how to reach the NBD gateway, which
     * Ctrl-C then stops too.
     */
    static String keepMessage(
            Path data, int basePort, List<String> addresses, Path mountPoint, List<Long> pids, String gateway) {
        StringBuilder s = new StringBuilder();
        String nl = System.lineSeparator();
        s.append("holdfast demo stays in the foreground: the cluster keeps running")
                .append(mountPoint != null ? " and the volume stays mounted at " + mountPoint : "")
                .append('.')
                .append(nl);
        s.append("  export HOLDFAST_TLS=")
                .append(data.resolve("client-tls"))
                .append("   (the demo's admin certificate)")
                .append(nl);
        s.append("  holdfast cluster status -c ").append(addresses.get(0)).append(nl);
        s.append("  holdfast ls -l -c ")
                .append(addresses.get(0))
                .append(' ')
                .append(VOLUME)
                .append(":/")
                .append(nl);
        s.append("  status pages and metrics: http://127.0.0.1:")
                .append(basePort + AdminOptions.PORT_OFFSET)
                .append("/ (and the next two ports; /metrics for Prometheus)")
                .append(nl);
        s.append("The nodes (logs in ").append(data).append("/nN/server.log):").append(nl);
        for (int i = 0; i < addresses.size(); i++) {
            s.append(String.format(
                    "  %-16s pid %-8d restart by hand: kill %d; holdfast server --data %s%n",
                    addresses.get(i), pids.get(i), pids.get(i), data.resolve("n" + (i + 1))));
        }
        s.append("A node restarted by hand runs in your terminal: stop it there with Ctrl-C; this demo no "
                        + "longer owns it.")
                .append(nl);
        if (gateway != null) {
            s.append(gateway);
        }
        s.append("Ctrl-C (or SIGTERM) here stops ")
                .append(gateway != null ? "the NBD gateway and " : "")
                .append("the ")
                .append(addresses.size())
                .append(" nodes this demo started")
                .append(mountPoint != null ? " and unmounts " + mountPoint : "")
                .append(", then exits.")
                .append(nl);
        return s.toString();
    }

    /**
     * Blocks until SIGINT or SIGTERM; the caller then stops the mount and the nodes in order. A
     * second signal exits at once (the shutdown hook still stops the nodes).
     */
    private static void awaitStopSignal() throws InterruptedException {
        CountDownLatch stop = new CountDownLatch(1);
        for (String name : new String[] {"INT", "TERM"}) {
            Signals.handle(name, () -> {
                if (stop.getCount() == 0) {
                    new Thread(() -> System.exit(130), "holdfast-demo-exit")
                            .start(); // impatient: don't wait for a clean stop
                }
                stop.countDown();
            });
        }
        stop.await();
    }

    /** Makes sure {@link #data} is the demo's (or new), and marks it so. */
    private void claimDataDir() throws IOException {
        if (Files.exists(data)) {
            boolean empty;
            try (Stream<Path> s = Files.list(data)) {
                empty = s.findAny().isEmpty();
            }
            if (!empty && !Files.exists(data.resolve(MARKER))) {
                throw new IllegalArgumentException(
                        data + " exists and was not made by the demo; choose another --data");
            }
        }
        Files.createDirectories(data);
        Files.writeString(data.resolve(MARKER), "made by holdfast demo; safe to delete\n");
    }

    private void prepareDataDir() throws IOException, InterruptedException {
        Path mnt = data.resolve("mnt");
        if (Files.readAllLines(Path.of("/proc/mounts")).stream().anyMatch(l -> l.contains(" " + mnt + " "))) {
            say("unmounting a leftover mount at %s", mnt);
            run(List.of("fusermount3", "-u", "-z", mnt.toString()));
        }
        if (Files.exists(data)) {
            boolean empty;
            try (Stream<Path> s = Files.list(data)) {
                empty = s.findAny().isEmpty();
            }
            if (!empty && !Files.exists(data.resolve(MARKER))) {
                throw new IllegalArgumentException(
                        data + " exists and was not made by the demo; choose another --data");
            }
            for (int i = 0; i < 3; i++) {
                deleteTree(nodeDir(i));
            }
            deleteTree(caDir());
            deleteTree(clientTls());
            if (Files.exists(data.resolve("mnt"))) {
                try (Stream<Path> s = Files.list(data.resolve("mnt"))) {
                    if (s.findAny().isPresent()) {
                        throw new IllegalArgumentException(data.resolve("mnt")
                                + " is not empty (still mounted? run 'fusermount3 -u " + data.resolve("mnt") + "')");
                    }
                }
            }
        }
        Files.createDirectories(data);
        Files.writeString(data.resolve(MARKER), "made by holdfast demo; safe to delete\n");
    }

    private static void probePort(int port, String option) {
        try (ServerSocket probe = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            probe.setReuseAddress(true);
        } catch (IOException e) {
            throw new IllegalArgumentException("port " + port + " is in use (another demo still running?); "
                    + "stop it or choose another port with " + option);
        }
    }

    /** Node {@code i}'s data directory, {@code DATA/n1} to {@code DATA/n3}; {@link #keepMessage} names them too. */
    private Path nodeDir(int i) {
        return data.resolve("n" + (i + 1));
    }

    private Path defaultSource() throws IOException, InterruptedException {
        Path cache = data.resolve("source");
        if (Files.isDirectory(cache) && Files.exists(data.resolve("source.done"))) {
            return cache;
        }
        deleteTree(cache);
        Files.createDirectories(cache);
        Path kernel = null;
        Path usrSrc = Path.of("/usr/src");
        if (Files.isDirectory(usrSrc)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(usrSrc, "linux-source-*.tar.*")) {
                for (Path p : ds) {
                    kernel = p;
                }
            }
        }
        if (kernel != null) {
            say("extracting %s (Debian linux-source) to %s …", kernel, cache);
            run(List.of("tar", "-xf", kernel.toString(), "-C", cache.toString()));
        } else {
            Path srcZip = Path.of(System.getProperty("java.home"), "lib", "src.zip");
            if (!Files.exists(srcZip)) {
                throw new IllegalArgumentException(
                        "no source tree: install linux-source (apt-get install linux-source) or pass --source DIR");
            }
            say("linux-source is not installed (apt-get install linux-source for the kernel tree); using %s", srcZip);
            unzip(srcZip, cache);
        }
        Files.writeString(data.resolve("source.done"), "ok\n");
        return cache;
    }

    private static void unzip(Path zip, Path into) throws IOException {
        long total = 0;
        try (ZipInputStream in = new ZipInputStream(Files.newInputStream(zip))) {
            for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
                Path out = into.resolve(e.getName()).normalize();
                if (!out.startsWith(into)) {
                    throw new IOException("zip entry escapes the target: " + e.getName());
                }
                if (e.isDirectory()) {
                    Files.createDirectories(out);
                } else {
                    Files.createDirectories(out.getParent());
                    total += Files.copy(in, out, StandardCopyOption.REPLACE_EXISTING);
                    if (total > (8L << 30)) {
                        throw new IOException("zip expands beyond 8 GiB; refusing");
                    }
                }
            }
        }
    }

    /** The demo's admin client certificate directory. */
    private Path clientTls() {
        return data.resolve("client-tls");
    }

    Map<String, Object> clientEnv() {
        return Map.of(TransportSecurity.TLS_OPTION, clientTls());
    }

    /** The demo cluster's CA directory. */
    Path caDir() {
        return data.resolve("ca");
    }

    /** The nodes' addresses, node 0 first. */
    List<String> addresses() {
        return addresses;
    }

    /** Starts node {@code i} again (after {@link #kill}). */
    void restart(int i) throws IOException {
        nodes.set(i, startNode(i));
    }

    private Process startNode(int i) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = List.of(
                java,
                "-Xmx1g",
                "-XX:+UseG1GC",
                "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow",
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName(),
                "server",
                "--data",
                nodeDir(i).toString());
        return new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(
                        nodeDir(i).resolve("server.log").toFile()))
                .start();
    }

    private HoldfastClient connect() throws HoldfastException, InterruptedException {
        // three JVMs starting at once on a busy 2-core machine have taken over a minute to elect leaders
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(CONNECT_SECONDS);
        HoldfastException last = null;
        while (System.nanoTime() < deadline) {
            for (int i = 0; i < nodes.size(); i++) {
                if (!nodes.get(i).isAlive()) {
                    throw new HoldfastException(
                            Errno.EIO,
                            "node " + addresses.get(i) + " exited; see "
                                    + nodeDir(i).resolve("server.log"));
                }
            }
            try {
                return HoldfastClient.connect("127.0.0.1", basePort, clientEnv());
            } catch (HoldfastException e) {
                last = e;
                Thread.sleep(250); // the nodes are separate processes still starting; nothing to wait on but time
            }
        }
        throw new HoldfastException(
                Errno.ETIMEDOUT,
                "cluster did not come up within " + CONNECT_SECONDS + " s: " + (last == null ? "" : last.getMessage()));
    }

    /**
     * Copies the tree's top-level entries, {@link #COPIERS} at a time (a mail or file server has
     * many clients at once, and Raft commits many entries in flight far faster than one by one);
     * kills the volume's leader when half the bytes are in.
     */
    private int copyWithKill(Path tree, Path target, boolean fuse, TreeStats stats, HoldfastClient client)
            throws Exception {
        List<Path> entries;
        try (Stream<Path> s = Files.list(tree)) {
            entries = s.sorted().toList();
        }
        ExecutorService copiers = Executors.newFixedThreadPool(COPIERS, r -> {
            Thread t = new Thread(r, "holdfast-demo-copier");
            t.setDaemon(true);
            return t;
        });
        CompletionService<Long> done = new ExecutorCompletionService<>(copiers);
        try {
            for (Path e : entries) {
                done.submit(() -> {
                    if (fuse) {
                        run(List.of("cp", "-a", e.toString(), target.toString() + "/"));
                    } else {
                        copyTree(e, target.resolve(e.getFileName().toString()));
                    }
                    return TreeStats.of(e).bytes;
                });
            }
            long bytes = 0;
            int killed = -1;
            long start = System.nanoTime();
            for (int n = 0; n < entries.size(); n++) {
                bytes += done.take().get();
                double secs = (System.nanoTime() - start) / 1e9;
                System.out.printf(
                        "\r  copied %d/%d top-level entries, %s/%s, %s   ",
                        n + 1,
                        entries.size(),
                        Units.size(bytes),
                        Units.size(stats.bytes),
                        Units.rate(bytes / Math.max(secs, 1e-3)));
                System.out.flush();
                if (killed < 0 && n + 1 < entries.size() && (bytes * 2 >= stats.bytes || n + 1 >= entries.size() / 2)) {
                    killed = kill(client);
                }
            }
            System.out.println();
            return killed >= 0 ? killed : kill(client);
        } finally {
            copiers.shutdownNow();
        }
    }

    /** Kills the volume's leader (or, if none is known, the second node) with SIGKILL. */
    int kill(HoldfastClient client) throws InterruptedException {
        int leader = client.probe().leaderOf(VOLUME).map(addresses::indexOf).orElse(-1);
        int victim = leader >= 0 ? leader : 1;
        killNode(victim, leader >= 0 ? "the volume's leader" : "leader unknown, a member");
        return victim;
    }

    /** Kills node {@code victim} with SIGKILL and waits until it is gone; {@code why} says who it is. */
    void killNode(int victim, String why) throws InterruptedException {
        nodes.get(victim).destroyForcibly().waitFor();
        System.out.println();
        say("killed node %s with SIGKILL (%s); copy continues", addresses.get(victim), why);
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path dst = to;
                for (Path part : from.relativize(p)) {
                    dst = dst.resolve(part.toString());
                }
                if (Files.isSymbolicLink(p)) {
                    Files.createSymbolicLink(
                            dst,
                            dst.getFileSystem()
                                    .getPath(Files.readSymbolicLink(p).toString()));
                } else if (Files.isDirectory(p)) {
                    Files.createDirectories(dst);
                } else {
                    try (InputStream in = Files.newInputStream(p)) {
                        Files.copy(in, dst, StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
        }
    }

    Response.Digest awaitConvergence(HoldfastClient client, int seconds) throws Exception {
        Response.Digest[] out = new Response.Digest[1];
        awaitTrue(
                seconds,
                () -> {
                    Map<String, Response> d = client.probe().memberDigests(VOLUME);
                    if (d.values().stream().allMatch(Response.Digest.class::isInstance)
                            && d.values().stream().distinct().count() == 1) {
                        out[0] = (Response.Digest) d.values().iterator().next();
                        return true;
                    }
                    return false;
                },
                "all members report the same digest");
        return out[0];
    }

    interface Check {
        boolean holds() throws Exception;
    }

    private static void awaitTrue(int seconds, Check check, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!check.holds()) {
            if (System.nanoTime() > deadline) {
                throw new HoldfastException(Errno.ETIMEDOUT, "timed out after " + seconds + " s waiting until " + what);
            }
            Thread.sleep(200); // polling replicas in other processes
        }
    }

    /** Compares two trees entry by entry: type, size, symlink target, SHA-256. */
    static Verification verify(Path expected, Path actual) throws IOException {
        Verification v = new Verification();
        Map<String, Path> want = index(expected);
        Map<String, Path> got = index(actual);
        for (String name : want.keySet()) {
            if (!got.containsKey(name)) {
                v.problems.add("missing " + name);
            }
        }
        for (String name : got.keySet()) {
            if (!want.containsKey(name)) {
                v.problems.add("unexpected " + name);
            }
        }
        for (Map.Entry<String, Path> e : want.entrySet()) {
            Path a = got.get(e.getKey());
            if (a == null) {
                continue;
            }
            Path w = e.getValue();
            BasicFileAttributes wa = Files.readAttributes(w, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            BasicFileAttributes aa = Files.readAttributes(a, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (wa.isSymbolicLink()) {
                v.links++;
                if (!aa.isSymbolicLink()
                        || !Files.readSymbolicLink(w)
                                .toString()
                                .equals(Files.readSymbolicLink(a).toString())) {
                    v.problems.add("symlink differs: " + e.getKey());
                }
            } else if (wa.isDirectory()) {
                v.dirs++;
                if (!aa.isDirectory()) {
                    v.problems.add("not a directory: " + e.getKey());
                }
            } else {
                v.files++;
                v.bytes += wa.size();
                if (!aa.isRegularFile() || aa.size() != wa.size()) {
                    v.problems.add("size differs: " + e.getKey() + " " + wa.size() + " vs " + aa.size());
                } else if (!sha256(w).equals(sha256(a))) {
                    v.problems.add("content differs: " + e.getKey());
                }
            }
        }
        return v;
    }

    private static Map<String, Path> index(Path root) throws IOException {
        Map<String, Path> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            s.filter(p -> !p.equals(root))
                    .forEach(p -> out.put(root.relativize(p).toString(), p));
        }
        return out;
    }

    private static String sha256(Path p) throws IOException {
        try (InputStream in = Files.newInputStream(p)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static final class Verification {
        long files;
        long dirs;
        long links;
        long bytes;
        final List<String> problems = new ArrayList<>();
    }

    static final class TreeStats {
        long files;
        long dirs;
        long links;
        long bytes;

        static TreeStats of(Path root) throws IOException {
            TreeStats t = new TreeStats();
            try (Stream<Path> s = Files.walk(root)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    if (p.equals(root) && Files.isDirectory(root)) {
                        continue;
                    }
                    BasicFileAttributes a =
                            Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                    if (a.isSymbolicLink()) {
                        t.links++;
                    } else if (a.isDirectory()) {
                        t.dirs++;
                    } else {
                        t.files++;
                        t.bytes += a.size();
                    }
                }
            }
            return t;
        }
    }

    static void run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed: " + out.strip());
        }
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(x);
            }
        }
    }

    static void say(String fmt, Object... args) {
        System.out.println("holdfast demo: " + String.format(fmt, args));
        System.out.flush();
    }
}
