package io.holdfast.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.common.Executables;
import io.holdfast.common.Units;
import io.holdfast.nbd.BlockDevice;
import io.holdfast.nbd.ClusterAccess;
import io.holdfast.nbd.ExportProvider;
import io.holdfast.nbd.NbdServer;
import io.holdfast.nbd.VolumeExports;
import io.holdfast.protocol.Access;
import io.holdfast.protocol.AclRule;
import io.holdfast.protocol.Response;
import io.holdfast.server.CertificateAuthority;
import io.holdfast.transport.Peer;
import io.holdfast.transport.Role;
import io.holdfast.transport.TlsFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.io.Writer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.interfaces.ECKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import java.util.function.UnaryOperator;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.sec.ECPrivateKey;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemWriter;

/**
 * {@code holdfast demo --nbd}: a replicated block device under a real NBD client, with the
 * volume's leader killed mid-copy. Runs on the three-node cluster {@link DemoCommand} started:
 *
 * <ol>
 *   <li>an ext4 file system image of the export's size is made locally with {@code mke2fs -d}
 *       from a directory (generated pseudo-random files filling about a quarter of it, or
 *       {@code --source});
 *   <li>a sparse export {@code demo/disk.img} of that size is created on the 3-replica volume,
 *       and the volume's export ACL gives the client certificate {@value #CLIENT} read-write from
 *       loopback;
 *   <li>an NBD gateway ({@link NbdServer} over {@link VolumeExports}, in this process, as {@code
 *       holdfast nbd serve} runs it) listens on loopback with TLS required, presenting a node
 *       certificate of the cluster CA;
 *   <li>{@code nbdcopy --flush} copies the image into the export over {@code nbds://}; when half
 *       of the image's data has been written, the volume's leader is killed with SIGKILL (the
 *       write that crosses the halfway mark waits in the gateway until the node is dead, so the
 *       kill always lands with the copy in progress); the copy must finish without an error;
 *   <li>the node is restarted and the three members must reach the same state digest;
 *   <li>the export is read back with {@code nbdcopy} over {@code nbds://} and its SHA-256 compared
 *       with the source's; {@code e2fsck -fn} checks the file system read back.
 * </ol>
 *
 * <p>The stall: the gateway records when each WRITE request returns; the longest time without one
 * after the kill is the pause the NBD client saw during the failover. Not thread-safe: one run.
 */
final class NbdDemo implements AutoCloseable {
    /** The client certificate's name, allowed read-write by the volume's export ACL. */
    static final String CLIENT = "nbd-demo";

    static final String IMAGE = "/disk.img";

    /** Sparse detection of nbdcopy (its {@code --sparse} default): zero blocks are not written. */
    private static final int BLOCK = 4096;

    private final DemoCommand demo;
    private final HoldfastClient client;
    private final FileSystem volume;
    private final Path dir;
    private final long size;
    private final Path source;
    private final int port;
    private VolumeExports exports;
    private NbdServer server;
    private Path certificates;
    private Process copy;

    /**
     * @param demo the demo whose cluster this runs on (its nodes are killed and restarted)
     * @param client an admin client of that cluster
     * @param volume the demo volume as a {@code holdfast://} file system
     * @param dir a directory of its own ({@code DATA/nbd}), emptied first
     * @param size the export's size in bytes
     * @param source the files to put in the image, or null for generated ones
     * @param port the gateway's loopback port (0: a free one)
     */
    NbdDemo(DemoCommand demo, HoldfastClient client, FileSystem volume, Path dir, long size, Path source, int port) {
        this.demo = demo;
        this.client = client;
        this.volume = volume;
        this.dir = dir;
        this.size = size;
        this.source = source;
        this.port = port;
    }

    /** The external tools this mode needs, with the Debian package of each. */
    static final List<String[]> TOOLS =
            List.of(new String[] {"nbdcopy", "libnbd-bin"}, new String[] {"mke2fs", "e2fsprogs"}, new String[] {
                "e2fsck", "e2fsprogs"
            });

    /**
     * The tools missing on this machine, as a message naming the packages to install, or null if
     * every one is there. Looks in {@code PATH} and in {@code /usr/sbin} and {@code /sbin} (where
     * Debian puts mke2fs, often outside a user's {@code PATH}).
     */
    static String missingTools() {
        return missingTools(NbdDemo::tool);
    }

    /** {@link #missingTools()} with {@code lookup} finding each tool (null: missing). */
    static String missingTools(UnaryOperator<String> lookup) {
        List<String> missing = new ArrayList<>();
        List<String> packages = new ArrayList<>();
        for (String[] t : TOOLS) {
            if (lookup.apply(t[0]) == null) {
                missing.add(t[0]);
                if (!packages.contains(t[1])) {
                    packages.add(t[1]);
                }
            }
        }
        if (missing.isEmpty()) {
            return null;
        }
        return "demo --nbd needs " + String.join(", ", missing) + ": apt-get install " + String.join(" ", packages);
    }

    /** The executable {@code name} from {@code PATH}, {@code /usr/sbin} or {@code /sbin}, or null. */
    static String tool(String name) {
        return Executables.find(name, "/usr/sbin", "/sbin", "/usr/bin")
                .map(Path::toString)
                .orElse(null);
    }

    /**
     * Runs the story and prints its summary.
     *
     * @return whether every check held
     * @throws Exception if a step could not run (a tool failed, the cluster did not converge)
     */
    boolean run() throws Exception {
        DemoCommand.deleteTree(dir);
        Files.createDirectories(dir);

        // 1. the file system image
        Path tree = source;
        if (tree == null) {
            tree = dir.resolve("files");
            generate(tree, size / 4);
        }
        Path image = dir.resolve("source.img");
        try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(size);
        }
        long t0 = System.nanoTime();
        DemoCommand.run(List.of(
                tool("mke2fs"),
                "-q",
                "-t",
                "ext4",
                "-F",
                "-L",
                "holdfast-demo",
                "-d",
                tree.toString(),
                image.toString()));
        ImageStats src = ImageStats.of(image);
        DemoCommand.say(
                "made an ext4 image %s of %s from %s with mke2fs -d in %.1f s: %s of data, SHA-256 %s…",
                image, Units.size(size), tree, seconds(t0), Units.size(src.dataBytes), src.sha256.substring(0, 16));

        // 2. the export, and who may use it
        Path img = volume.getPath(IMAGE);
        NbdCommands.createImage(img, size);
        String export = DemoCommand.VOLUME + IMAGE;
        client.admin().addAclRule(DemoCommand.VOLUME, new AclRule(CLIENT, "127.0.0.0/8", Access.READ_WRITE));
        DemoCommand.say(
                "created the export %s (%s, sparse, 3 replicas); the volume's ACL lets certificate '%s' read and"
                        + " write it from loopback",
                export, Units.size(size), CLIENT);

        // 3. the gateway, TLS required, certificates of the cluster CA
        CertificateAuthority ca = CertificateAuthority.load(demo.caDir());
        ca.issue("127.0.0.1:" + port, Role.NODE, List.of("127.0.0.1", "localhost"))
                .writeTo(dir.resolve("gateway-tls"));
        certificates = libnbdCertificates(ca.issue(CLIENT, Role.CLIENT, List.of()), dir.resolve("client-tls"));
        Metered metered = new Metered(
                exports = new VolumeExports(
                        // not the first node: this process's holdfast://FIRST/demo file system is open
                        // already, and the gateway opens its own (one per URI and process)
                        demo.addresses().get(1), demo.clientEnv(), List.of(export), false, ClusterAccess.of(client)));
        server = NbdServer.start(
                NbdServer.Config.defaults(new InetSocketAddress(InetAddress.getLoopbackAddress(), port))
                        .withTls(NbdServer.TlsMode.REQUIRE, TlsFiles.load(dir.resolve("gateway-tls"), "node")),
                metered);
        String uri = uri(export);
        DemoCommand.say(
                "NBD gateway serving %s (TLS required; libnbd client certificate in %s)",
                "nbds://127.0.0.1:" + server.port() + "/" + export, certificates);

        // 4. the copy, with the leader killed halfway
        long half = Math.max(1, src.dataBytes / 2);
        Kill kill = new Kill();
        int leaderBefore = leader();
        metered.onWritten(half, written -> {
            kill.atBytes = written;
            try {
                // the group info of a loaded member may take longer than the probe's 1 s: ask again
                int leader = -1;
                for (int i = 0; i < 3 && leader < 0; i++) {
                    leader = leader();
                }
                int victim = leader >= 0 ? leader : leaderBefore >= 0 ? leaderBefore : 1;
                kill.why = leader >= 0
                        ? "the volume's leader"
                        : leaderBefore >= 0
                                ? "the leader before the copy; no member answered as leader now"
                                : "leader unknown, a member";
                demo.killNode(victim, kill.why);
                kill.nanos = System.nanoTime(); // the node is dead: the stall is measured from here
                kill.node = victim;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                kill.failure = e;
            }
        });
        Path copyLog = dir.resolve("nbdcopy.log");
        DemoCommand.say("copying the image into the export: nbdcopy --flush %s '%s'", image, uri);
        long copyStart = System.nanoTime();
        copy = new ProcessBuilder(tool("nbdcopy"), "--flush", image.toString(), uri)
                .redirectErrorStream(true)
                .redirectOutput(copyLog.toFile())
                .start();
        long lastPrint = 0;
        while (!copy.waitFor(200, TimeUnit.MILLISECONDS)) {
            if (System.nanoTime() - lastPrint > TimeUnit.SECONDS.toNanos(1)) {
                lastPrint = System.nanoTime();
                progress(metered.written(), src.dataBytes, copyStart);
            }
        }
        double copySeconds = seconds(copyStart);
        progress(metered.written(), src.dataBytes, copyStart);
        System.out.println();
        String copyOut = Files.readString(copyLog, StandardCharsets.UTF_8).strip();
        if (copy.exitValue() != 0) {
            DemoCommand.say(
                    "nbdcopy FAILED (exit %d): %s (the server's reason: LIBNBD_DEBUG=1 nbdinfo '%s')",
                    copy.exitValue(), copyOut, uri);
            return false;
        }
        if (kill.failure != null) {
            throw new IOException("could not kill a node: " + kill.failure.getMessage(), kill.failure);
        }
        if (kill.node < 0) {
            DemoCommand.say("the copy ended before half the data was written: no node was killed");
            return false;
        }
        long afterKill = metered.written() - kill.atBytes;
        Stall stall = metered.stall(kill.nanos);
        DemoCommand.say(
                "copy finished without an error in %.1f s (%s of data, %s); %s written after the kill;"
                        + " no WRITE returned for %.1f s after it",
                copySeconds,
                Units.size(metered.written()),
                Units.rate(metered.written() / copySeconds),
                Units.size(afterKill),
                stall.afterKill);

        // 5. the node comes back
        long restart = System.nanoTime();
        demo.restart(kill.node);
        DemoCommand.say(
                "restarted node %s; waiting for it to catch up",
                demo.addresses().get(kill.node));
        Response.Digest digest = demo.awaitConvergence(client, 600);
        double catchUp = seconds(restart);
        DemoCommand.say(
                "all 3 members identical at applied index %d (digest %s…) after %.1f s",
                digest.appliedIndex(), digest.hex().substring(0, 16), catchUp);

        // 6. read back through NBD and compare
        Path back = dir.resolve("readback.img");
        long readStart = System.nanoTime();
        DemoCommand.run(List.of(tool("nbdcopy"), uri, back.toString()));
        double readSeconds = seconds(readStart);
        ImageStats got = ImageStats.of(back);
        boolean same = got.sha256.equals(src.sha256) && Files.size(back) == size;
        DemoCommand.say(
                "read the export back with nbdcopy in %.1f s: SHA-256 %s… (%s)",
                readSeconds,
                got.sha256.substring(0, 16),
                same ? "identical to the source" : "DIFFERENT FROM THE SOURCE");
        String fsck = fsck(back);
        boolean clean = fsck != null;
        DemoCommand.say("e2fsck -fn on the image read back: %s", clean ? fsck : "FAILED (see above)");
        Files.deleteIfExists(back);
        boolean ok = same && clean && afterKill > 0;

        System.out.println();
        System.out.println("== holdfast demo --nbd summary ==");
        System.out.printf(
                "export            %s, %s, 3 replicas, TLS (client certificate '%s', ACL rw)%n",
                "nbds://127.0.0.1:" + server.port() + "/" + export, Units.size(size), CLIENT);
        System.out.printf(
                "image             ext4 from %s: %s of data, SHA-256 %s%n",
                tree, Units.size(src.dataBytes), src.sha256);
        System.out.printf(
                "copy              nbdcopy --flush, %.1f s: %s of data at %s (the whole %s image at %s)%n",
                copySeconds,
                Units.size(metered.written()),
                Units.rate(metered.written() / copySeconds),
                Units.size(size),
                Units.rate(size / copySeconds));
        System.out.printf(
                "node killed       %s (SIGKILL, %s) mid-copy, with %s of %s data written (%.0f%%)%n",
                demo.addresses().get(kill.node),
                kill.why,
                Units.size(kill.atBytes),
                Units.size(src.dataBytes),
                100.0 * kill.atBytes / src.dataBytes);
        System.out.printf(
                "stall             %.1f s without a WRITE returning after the kill (longest before it:"
                        + " %.1f s; slowest WRITE %.1f s); %s written after the kill; no error to the client%n",
                stall.afterKill, stall.beforeKill, stall.slowestWrite, Units.size(afterKill));
        System.out.printf(
                "catch-up          %.1f s to identical state at applied index %d%n", catchUp, digest.appliedIndex());
        System.out.printf(
                "read back         nbdcopy, %.1f s (%s)%n", readSeconds, Units.rate(src.dataBytes / readSeconds));
        System.out.printf(
                "verification      %s%n",
                ok
                        ? "PASS: the image read back through NBD has the source's SHA-256; e2fsck clean; 3 equal member"
                                + " digests"
                        : "FAIL");
        return ok;
    }

    /** The index of the volume's leader among the demo's nodes, or -1 if no member says it leads. */
    private int leader() {
        return client.probe()
                .leaderOf(DemoCommand.VOLUME)
                .map(demo.addresses()::indexOf)
                .orElse(-1);
    }

    /** The nbds:// URI of {@code export} for libnbd, with the client certificate directory. */
    String uri(String export) {
        return "nbds://127.0.0.1:" + server.port() + "/" + export + "?tls-certificates=" + certificates;
    }

    /** What {@code --keep} adds to the demo's message: how to reach the export. */
    String keepMessage() {
        String u = uri(DemoCommand.VOLUME + IMAGE);
        String nl = System.lineSeparator();
        return "The NBD gateway keeps serving the export (TLS; the client certificate is in " + certificates + "):" + nl
                + "  nbdinfo --map '" + u + "'" + nl
                + "  nbdcopy '" + u + "' disk.img" + nl;
    }

    private static void progress(long written, long total, long start) {
        double secs = Math.max(seconds(start), 1e-3);
        System.out.printf(
                "\r  written %s/%s of data (%.0f%%), %s   ",
                Units.size(written),
                Units.size(total),
                total == 0 ? 100.0 : Math.min(100.0, 100.0 * written / total),
                Units.rate(written / secs));
        System.out.flush();
    }

    private static double seconds(long since) {
        return (System.nanoTime() - since) / 1e9;
    }

    /** {@code e2fsck -fn}'s summary line, or null (with its output printed) if it found problems. */
    private static String fsck(Path image) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(tool("e2fsck"), "-fn", image.toString())
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (p.waitFor() != 0) {
            System.out.println(out);
            return null;
        }
        String[] lines = out.split("\n");
        return lines[lines.length - 1].strip();
    }

    /**
     * Fills {@code into} with files of pseudo-random bytes (seeded: the same every run) totalling
     * about {@code bytes}, in a few directories, plus a small text file.
     */
    static void generate(Path into, long bytes) throws IOException {
        Files.createDirectories(into);
        Files.writeString(
                into.resolve("README"),
                "Written by holdfast demo --nbd: an ext4 image copied into a replicated NBD export.\n");
        Random random = new Random(9);
        byte[] buf = new byte[1 << 20];
        long left = bytes;
        int file = 0;
        while (left > 0) {
            Path d = Files.createDirectories(into.resolve(String.format("dir-%02d", file / 8)));
            long n = Math.min(left, (4L << 20) + random.nextInt(4 << 20));
            try (OutputStream out = Files.newOutputStream(d.resolve(String.format("blob-%03d.bin", file)))) {
                for (long w = 0; w < n; ) {
                    random.nextBytes(buf);
                    int k = (int) Math.min(buf.length, n - w);
                    out.write(buf, 0, k);
                    w += k;
                }
            }
            left -= n;
            file++;
        }
    }

    /**
     * Writes an issued client certificate in the layout libnbd ({@code tls-certificates=DIR}) and
     * qemu's x509 credentials read: {@code ca-cert.pem}, {@code client-cert.pem} and
     * {@code client-key.pem}, the key as an SEC1 {@code EC PRIVATE KEY} with its public key
     * (GnuTLS cannot read the PKCS#8 key Holdfast writes, which lacks the optional public key).
     */
    static Path libnbdCertificates(CertificateAuthority.Issued issued, Path out) throws IOException {
        Path holdfast = out.resolveSibling(out.getFileName() + "-holdfast");
        issued.writeTo(holdfast);
        Files.createDirectories(out);
        Files.copy(holdfast.resolve(TlsFiles.CA_FILE), out.resolve("ca-cert.pem"));
        Files.copy(holdfast.resolve(issued.fileName() + ".crt"), out.resolve("client-cert.pem"));
        ECPrivateKey parsed = ECPrivateKey.getInstance(
                PrivateKeyInfo.getInstance(issued.key().getEncoded()).parsePrivateKey());
        SubjectPublicKeyInfo pub = SubjectPublicKeyInfo.getInstance(
                issued.certificate().getPublicKey().getEncoded());
        ECPrivateKey sec1 = new ECPrivateKey(
                ((ECKey) issued.key()).getParams().getOrder().bitLength(),
                parsed.getKey(),
                pub.getPublicKeyData(),
                pub.getAlgorithm().getParameters());
        Path key = out.resolve("client-key.pem");
        try (Writer w = Files.newBufferedWriter(key);
                PemWriter pem = new PemWriter(w)) {
            pem.writeObject(new PemObject("EC PRIVATE KEY", sec1.getEncoded()));
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        if (copy != null && copy.isAlive()) {
            copy.destroy(); // the demo stopped early (a failure, Ctrl-C): no nbdcopy left behind
        }
        if (server != null) {
            server.close();
        }
        if (exports != null) {
            exports.close(); // waits for the writes in flight
        }
    }

    private static final class Kill {
        volatile int node = -1;
        volatile long atBytes;
        volatile long nanos;
        volatile RuntimeException failure;
        volatile String why;
    }

    record Stall(double afterKill, double beforeKill, double slowestWrite) {}

    /** The SHA-256 of an image file and its bytes in non-zero 4 KiB blocks (what nbdcopy writes). */
    record ImageStats(String sha256, long dataBytes) {
        static ImageStats of(Path image) throws IOException {
            MessageDigest md;
            try {
                md = MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
            byte[] buf = new byte[1 << 20];
            byte[] zero = new byte[BLOCK];
            long data = 0;
            try (InputStream in = Files.newInputStream(image)) {
                int n;
                while ((n = in.readNBytes(buf, 0, buf.length)) > 0) {
                    md.update(buf, 0, n);
                    for (int o = 0; o < n; o += BLOCK) {
                        int len = Math.min(BLOCK, n - o);
                        if (Arrays.mismatch(buf, o, o + len, zero, 0, len) >= 0) {
                            data += len;
                        }
                    }
                }
            }
            return new ImageStats(HexFormat.of().formatHex(md.digest()), data);
        }
    }

    /**
     * The gateway's exports, counting the bytes of WRITE requests that returned and when each
     * returned; calls a hook once, on the write that takes that count across a threshold, before
     * its reply is sent. Thread-safe.
     */
    static final class Metered implements ExportProvider {
        private final ExportProvider inner;
        private final AtomicLong written = new AtomicLong();
        private final ConcurrentLinkedQueue<long[]> writes = new ConcurrentLinkedQueue<>(); // {start, end}
        private final AtomicBoolean fired = new AtomicBoolean();
        private volatile long threshold = Long.MAX_VALUE;
        private volatile LongConsumer hook;

        Metered(ExportProvider inner) {
            this.inner = inner;
        }

        void onWritten(long bytes, LongConsumer then) {
            hook = then;
            threshold = bytes;
        }

        long written() {
            return written.get();
        }

        /**
         * The longest time in seconds without a WRITE returning from {@code kill} on (from the kill to
         * the first return, or between two returns), the same before it, and the slowest WRITE.
         */
        Stall stall(long kill) {
            return stallOf(new ArrayList<>(writes), kill);
        }

        /**
         * {@link #stall} of {@code writes}, each {@code {start, end}} in {@link System#nanoTime} units
         * (sorted here by end).
         */
        static Stall stallOf(List<long[]> all, long kill) {
            all.sort((a, b) -> Long.compare(a[1], b[1]));
            long after = 0;
            long before = 0;
            long slowest = 0;
            long prev = Long.MIN_VALUE;
            for (long[] w : all) {
                slowest = Math.max(slowest, w[1] - w[0]);
                if (prev != Long.MIN_VALUE) {
                    if (w[1] <= kill) {
                        before = Math.max(before, w[1] - prev);
                    } else {
                        after = Math.max(after, w[1] - Math.max(prev, kill));
                    }
                }
                prev = w[1];
            }
            return new Stall(after / 1e9, before / 1e9, slowest / 1e9);
        }

        @Override
        public BlockDevice open(String name) throws IOException {
            return new Device(inner.open(name));
        }

        @Override
        public BlockDevice open(String name, Peer client) throws IOException {
            return new Device(inner.open(name, client));
        }

        @Override
        public List<String> list() {
            return inner.list();
        }

        @Override
        public List<String> list(Peer client) {
            return inner.list(client);
        }

        private final class Device implements BlockDevice {
            private final BlockDevice d;

            Device(BlockDevice d) {
                this.d = d;
            }

            @Override
            public String name() {
                return d.name();
            }

            @Override
            public long size() throws IOException {
                return d.size();
            }

            @Override
            public boolean readOnly() {
                return d.readOnly();
            }

            @Override
            public void read(ByteBuffer dst, long offset) throws IOException {
                d.read(dst, offset);
            }

            @Override
            public void write(ByteBuffer src, long offset) throws IOException {
                int n = src.remaining();
                long start = System.nanoTime();
                d.write(src, offset);
                writes.add(new long[] {start, System.nanoTime()});
                long now = written.addAndGet(n);
                if (now - n < threshold && now >= threshold && fired.compareAndSet(false, true)) {
                    // the kill, before this write's reply: the client waits for it, so the copy is in flight
                    hook.accept(now);
                }
            }

            @Override
            public void flush() throws IOException {
                d.flush();
            }

            @Override
            public void trim(long offset, long length) throws IOException {
                d.trim(offset, length);
            }

            @Override
            public boolean zero(long offset, long length, boolean mayDeallocate, boolean fastOnly) throws IOException {
                return d.zero(offset, length, mayDeallocate, fastOnly);
            }

            @Override
            public List<Extent> extents(long offset, long length, int maxExtents) throws IOException {
                return d.extents(offset, length, maxExtents);
            }

            @Override
            public void close() throws IOException {
                d.close();
            }
        }
    }
}
