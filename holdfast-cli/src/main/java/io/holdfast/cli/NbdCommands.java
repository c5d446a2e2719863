package io.holdfast.cli;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.nio.HoldfastFiles;
import io.holdfast.common.HoldfastException;
import io.holdfast.common.Units;
import io.holdfast.nbd.ClusterAccess;
import io.holdfast.nbd.ExportAccess;
import io.holdfast.nbd.NbdServer;
import io.holdfast.nbd.StripeLayout;
import io.holdfast.nbd.VolumeExports;
import io.holdfast.protocol.Limits;
import io.holdfast.transport.TlsFiles;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code holdfast nbd serve|create|list|resize|rm}: replicated block devices over NBD. */
@Command(
        name = "nbd",
        mixinStandardHelpOptions = true,
        description = {
            "Replicated block devices for any NBD client (qemu, nbdcopy, nbdinfo, nbdfuse, libnbd, nbd-client).",
            "",
            "A block image is a regular file on a volume; its export name is VOLUME/path (the path inside the",
            "volume without the leading slash). 'holdfast nbd serve' is a gateway: it talks to the cluster as a",
            "client and serves the images over the NBD protocol. A write is acknowledged once it is ordered in",
            "the gateway's write-back window; FLUSH (and FUA) returns only when every write acknowledged before",
            "it is committed by a majority of the volume's replicas.",
            "",
            "Examples:",
            "  holdfast nbd create vms:/disks/web.img 20GiB      a sparse 20 GiB image",
            "  holdfast nbd serve                                 serve on 127.0.0.1:10809 until Ctrl-C",
            "  qemu-img convert -n -O raw debian.qcow2 nbd://127.0.0.1/vms/disks/web.img",
            "  nbdinfo --map nbd://127.0.0.1/vms/disks/web.img   which parts hold data",
            "  holdfast nbd list vms",
            "  holdfast nbd resize vms:/disks/web.img 40GiB",
            "  holdfast nbd rm vms:/disks/web.img"
        },
        subcommands = {
            NbdCommands.ServeImages.class,
            NbdCommands.Create.class,
            NbdCommands.ListImages.class,
            NbdCommands.Resize.class,
            NbdCommands.Rm.class
        })
final class NbdCommands {
    /** The extended attribute that marks a file made by {@code nbd create} (for list and rm). */
    static final String MARK = VolumeExports.MARK;

    private NbdCommands() {}

    /** The size of an image, in bytes, within Holdfast's file size limit. */
    static long checkSize(long size) {
        if (size < 1 || size > Limits.MAX_FILE_SIZE) {
            throw new IllegalArgumentException("an image size must be between 1 byte and "
                    + Units.size(Limits.MAX_FILE_SIZE) + " (Holdfast's largest file): " + size);
        }
        return size;
    }

    /** The export name of a resolved {@code VOLUME:/path}. */
    static String exportName(Locations.Location l) {
        String p = l.path().toAbsolutePath().normalize().toString();
        return l.volume() + p;
    }

    static boolean marked(Path p) {
        return markOf(p) != null;
    }

    /** The value of {@link #MARK} ({@code image}, {@code stripe}, {@code stripe-member}), or null. */
    static String markOf(Path p) {
        UserDefinedFileAttributeView v = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class);
        if (v == null) {
            return null;
        }
        try {
            if (!v.list().contains(MARK) || v.size(MARK) > 64) {
                return null;
            }
            ByteBuffer b = ByteBuffer.allocate(v.size(MARK));
            v.read(MARK, b);
            return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * Creates a sparse block image of {@code size} bytes at {@code p} (which must not exist; its
     * directory must), durably, and marks it an image.
     *
     * @throws IOException if it exists or cannot be made
     */
    static void createImage(Path p, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            HoldfastFiles.fallocate(ch, 0, 0, size);
            ch.force(true);
        }
        mark(p, VolumeExports.MARK_IMAGE);
    }

    static void mark(Path p, String value) throws IOException {
        UserDefinedFileAttributeView v = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class);
        if (v != null) {
            v.write(MARK, ByteBuffer.wrap(value.getBytes(StandardCharsets.UTF_8)));
        }
    }

    /** A stripe descriptor's layout (bounded and checked). */
    static StripeLayout layoutOf(Path descriptor) throws IOException {
        if (Files.size(descriptor) > StripeLayout.MAX_DESCRIPTOR_BYTES) {
            throw new IOException(descriptor + " is too large for a stripe descriptor");
        }
        try {
            return StripeLayout.decode(Files.readAllBytes(descriptor));
        } catch (IllegalArgumentException e) {
            throw new IOException("damaged stripe descriptor " + descriptor + ": " + e.getMessage(), e);
        }
    }

    /** The {@code VOLUME:/path} argument of a member's export name {@code VOLUME/path}. */
    static String memberArg(String exportName) {
        VolumeExports.Name n = VolumeExports.parse(exportName);
        return n.volume() + ":" + n.path();
    }

    /** A remote image argument, or a usage error. */
    static Locations.Location image(FileCommand cmd, String arg) {
        if (!Locations.isRemote(arg)) {
            throw cmd.usage("'" + arg + "' is not VOLUME:/path (an image lives on a volume)");
        }
        return cmd.resolve(arg);
    }

    @Command(
            name = "serve",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            description = {
                "Serve block images over NBD in the foreground until Ctrl-C or SIGTERM.",
                "",
                "Clients name an export VOLUME/path, e.g. nbd://127.0.0.1:10809/vms/disks/web.img. Without --export,",
                "every regular file of every volume this gateway's certificate may reach is served (read-only where",
                "the volume is exported read-only to it). Connections to one image share the gateway's write-back",
                "window, so a FLUSH on one covers the writes acknowledged on all (NBD multi-conn).",
                "",
                "TLS (NBD_OPT_STARTTLS, mutual): --nbd-cert DIR holds the gateway's certificate as",
                "'holdfast cert node HOST:PORT --out DIR' writes it (ca.crt, node.crt, node.key); clients must present",
                "a certificate of the same CA (libnbd: nbds:// with tls-certificates=DIR holding ca-cert.pem,",
                "client-cert.pem and client-key.pem). With --nbd-cert, TLS is required unless --nbd-tls says",
                "otherwise. Without TLS required the gateway listens on loopback only, unless --plaintext-network",
                "says that the network is trusted.",
                "",
                "Per-client permissions: a client that presents a certificate gets what the volume's export ACL",
                "('holdfast volume acl VOLUME add IDENTITY NETWORK ro|rw') grants its certificate's name and address:",
                "no rule refuses the export, ro serves it read-only (writes get EPERM), rw read-write. The gateway",
                "reads the rules with its own cluster certificate (--tls), which must be the admin's (clients may not",
                "read ACLs); otherwise every client with a certificate is refused. Plaintext clients (--nbd-tls off,",
                "or on without upgrading) have no identity and get the gateway's own access, as without ACLs.",
                "",
                "Examples:",
                "  holdfast nbd serve",
                "  holdfast nbd serve --export vms/disks/web.img --read-only",
                "  holdfast nbd serve --unix /run/holdfast-nbd.sock",
                "  holdfast nbd serve --listen 10.0.0.5:10809 --nbd-cert /etc/holdfast/nbd-tls",
                "  holdfast nbd serve --listen 10.0.0.5:10809 --plaintext-network"
            },
            exitCodeList = {"0:stopped by Ctrl-C or SIGTERM", "1:could not listen or reach the cluster"})
    static final class ServeImages implements Callable<Integer> {
        @Mixin
        ClusterOption cluster;

        @Option(
                names = "--listen",
                paramLabel = "HOST:PORT",
                defaultValue = "127.0.0.1:" + NbdServer.DEFAULT_PORT,
                description = "Address to listen on (default ${DEFAULT-VALUE}; port 0 picks a free one).")
        String listen;

        @Option(
                names = "--export",
                paramLabel = "VOLUME/path",
                description = "Serve only this image (repeatable); with exactly one it is also the default "
                        + "export (empty name).")
        List<String> exports = new ArrayList<>();

        @Option(
                names = "--unix",
                paramLabel = "SOCKET",
                description = "Also listen on this Unix socket (a new file, mode 0600, removed at exit); "
                        + "clients use nbd+unix:///VOLUME/path?socket=SOCKET.")
        Path unixSocket;

        @Option(names = "--read-only", description = "Serve every image read-only (writes get EPERM).")
        boolean readOnly;

        @Option(
                names = "--max-connections",
                paramLabel = "N",
                defaultValue = "64",
                description = "Connections served at once (default ${DEFAULT-VALUE}).")
        int maxConnections;

        @Option(
                names = "--plaintext-network",
                description = "Allow listening on a non-loopback address without requiring TLS: plaintext NBD "
                        + "traffic is unencrypted and unauthenticated, so anyone who reaches the port can read and "
                        + "write the images.")
        boolean plaintextNetwork;

        @Option(
                names = "--nbd-cert",
                paramLabel = "DIR",
                description = "The gateway's TLS certificate for NBD clients: ca.crt, node.crt, node.key, as "
                        + "'holdfast cert node HOST:PORT --out DIR' writes them (the host name clients use must be "
                        + "in it). Clients must present a certificate issued by the same CA.")
        Path nbdCert;

        @Option(
                names = "--nbd-tls",
                paramLabel = "off|on|require",
                description = "NBD_OPT_STARTTLS: off (plaintext only), on (clients choose) or require (default with "
                        + "--nbd-cert; without it, off). Not --tls, which names this gateway's own client "
                        + "certificate for the cluster.")
        String nbdTls;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            NbdServer.TlsMode mode = tlsMode();
            InetSocketAddress bind = listenAddress(mode);
            TlsFiles tls = null;
            if (mode != NbdServer.TlsMode.OFF) {
                try {
                    tls = TlsFiles.load(nbdCert, "node");
                } catch (IOException e) {
                    System.err.println("holdfast nbd serve: --nbd-cert: " + e.getMessage()
                            + " (write one with 'holdfast cert node HOST:" + NbdServer.DEFAULT_PORT + " --out "
                            + nbdCert + "')");
                    return 1;
                }
            }
            ClientLogging.quietClient();
            ClientProcess.prepare();
            Map<String, Object> env = cluster.env();
            for (String e : exports) {
                try {
                    VolumeExports.parse(e);
                } catch (IllegalArgumentException x) {
                    throw new CommandLine.ParameterException(spec.commandLine(), x.getMessage());
                }
            }
            // reach the cluster now, so a wrong address or certificate shows before clients come; with TLS
            // the connection stays open: it reads the export ACLs for the clients' identities
            HoldfastClient aclClient = null;
            try {
                aclClient = mode == NbdServer.TlsMode.OFF ? cluster.connect() : connectLongLived(env);
                aclClient.map();
            } catch (Exception e) {
                if (aclClient != null) {
                    aclClient.close();
                }
                System.err.println("holdfast nbd serve: cannot reach the cluster at " + cluster.address() + ": "
                        + Errors.describe(e));
                return 1;
            }
            ExportAccess access = ExportAccess.GATEWAY;
            if (mode == NbdServer.TlsMode.OFF) {
                aclClient.close();
                aclClient = null;
            } else {
                ClusterAccess acl = ClusterAccess.of(aclClient);
                if (!acl.canReadAcls()) {
                    System.err.println("holdfast nbd serve: warning: this gateway connects to the cluster as "
                            + aclClient.welcome().peer() + ", which may not read export ACLs; every NBD client"
                            + " that presents a certificate will be refused (give the gateway the admin"
                            + " certificate with --tls DIR)");
                }
                access = acl;
            }
            HoldfastClient aclConnection = aclClient;
            VolumeExports provider;
            try {
                provider = new VolumeExports(cluster.address(), env, exports, readOnly, access);
            } catch (IllegalArgumentException e) {
                if (aclConnection != null) {
                    aclConnection.close();
                }
                throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
            }
            NbdServer server;
            NbdServer unix = null;
            try {
                server = NbdServer.start(
                        NbdServer.Config.defaults(bind)
                                .withMaxConnections(maxConnections)
                                .withTls(mode, tls),
                        provider);
            } catch (IOException e) {
                provider.close();
                closeAcl(aclConnection);
                System.err.println("holdfast nbd serve: " + e.getMessage());
                return 1;
            }
            if (unixSocket != null) {
                try {
                    unix = NbdServer.start(
                            NbdServer.Config.defaults(UnixDomainSocketAddress.of(unixSocket.toAbsolutePath()))
                                    .withMaxConnections(maxConnections)
                                    .withTls(mode, tls),
                            provider);
                } catch (IOException e) {
                    server.close();
                    provider.close();
                    closeAcl(aclConnection);
                    System.err.println("holdfast nbd serve: " + e.getMessage()
                            + (Files.exists(unixSocket) ? " (remove the old socket file if no gateway uses it)" : ""));
                    return 1;
                }
            }
            NbdServer unixServer = unix;
            String scheme = mode == NbdServer.TlsMode.REQUIRE ? "nbds" : "nbd";
            String tlsNote = switch (mode) {
                case OFF -> "; no TLS";
                case ON -> "; TLS offered, not required";
                case REQUIRE -> "; TLS required";
            };
            Serve.run("holdfast-nbd-stop", new Serve.Served() {
                @Override
                public void ready() {
                    InetSocketAddress a = (InetSocketAddress) server.address();
                    String host = a.getAddress().getHostAddress();
                    System.out.println("serving NBD on " + host + ":" + a.getPort()
                            + (unixServer != null ? " and " + unixServer.address() : "") + " for cluster "
                            + cluster.address() + (readOnly ? " (read-only)" : "") + tlsNote);
                    if (exports.isEmpty()) {
                        System.out.println("exports: any image as VOLUME/path, e.g. " + scheme + "://" + host + ":"
                                + a.getPort() + "/VOLUME/disk.img");
                    } else {
                        for (String e : exports) {
                            System.out.println("export: " + scheme + "://" + host + ":" + a.getPort() + "/" + e);
                        }
                    }
                    System.out.println("stop with Ctrl-C");
                    System.out.flush();
                }

                @Override
                public void close() throws Exception {
                    server.close();
                    if (unixServer != null) {
                        unixServer.close();
                    }
                    provider.close(); // waits for the writes in flight
                    closeAcl(aclConnection);
                }
            });
            return 0;
        }

        private static void closeAcl(HoldfastClient c) {
            if (c != null) {
                c.close();
            }
        }

        /** A connection to the cluster for the gateway's lifetime (not a short-lived command's). */
        private HoldfastClient connectLongLived(Map<String, Object> env) throws HoldfastException {
            String a = cluster.address();
            int i = a.lastIndexOf(':');
            return HoldfastClient.connect(a.substring(0, i), Integer.parseInt(a.substring(i + 1)), env);
        }

        private NbdServer.TlsMode tlsMode() {
            NbdServer.TlsMode mode;
            if (nbdTls == null) {
                mode = nbdCert != null ? NbdServer.TlsMode.REQUIRE : NbdServer.TlsMode.OFF;
            } else {
                mode = switch (nbdTls.toLowerCase(Locale.ROOT)) {
                    case "off" -> NbdServer.TlsMode.OFF;
                    case "on" -> NbdServer.TlsMode.ON;
                    case "require" -> NbdServer.TlsMode.REQUIRE;
                    default ->
                        throw new CommandLine.ParameterException(
                                spec.commandLine(), "--nbd-tls must be off, on or require: " + nbdTls);
                };
            }
            if (mode != NbdServer.TlsMode.OFF && nbdCert == null) {
                throw new CommandLine.ParameterException(
                        spec.commandLine(),
                        "--nbd-tls " + nbdTls + " needs --nbd-cert DIR (the gateway's certificate: 'holdfast cert "
                                + "node HOST:" + NbdServer.DEFAULT_PORT + " --out DIR' writes one)");
            }
            return mode;
        }

        private InetSocketAddress listenAddress(NbdServer.TlsMode mode) {
            int colon = listen.lastIndexOf(':');
            if (colon <= 0 || colon == listen.length() - 1) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--listen must be HOST:PORT: " + listen);
            }
            String host = listen.substring(0, colon).replace("[", "").replace("]", "");
            int port;
            try {
                port = Integer.parseInt(listen.substring(colon + 1));
            } catch (NumberFormatException e) {
                port = -1;
            }
            if (port < 0 || port > 65535) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--listen port out of range: " + listen);
            }
            InetAddress addr;
            try {
                addr = InetAddress.getByName(host);
            } catch (IOException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--listen: unknown host " + host);
            }
            if (!addr.isLoopbackAddress() && mode != NbdServer.TlsMode.REQUIRE && !plaintextNetwork) {
                throw new CommandLine.ParameterException(
                        spec.commandLine(),
                        "--listen " + listen + " is not a loopback address and TLS is not required: give the "
                                + "gateway a certificate with --nbd-cert DIR, or add --plaintext-network if the "
                                + "network is trusted");
            }
            return new InetSocketAddress(addr, port);
        }
    }

    @Command(
            name = "create",
            mixinStandardHelpOptions = true,
            description = {
                "Create a sparse block image of SIZE bytes (units K/M/G/T = KiB/MiB/GiB/TiB) on a volume.",
                "",
                "Nothing is allocated until written; the image reads as zeros. Missing parent directories are made.",
                "Its export name is printed.",
                "",
                "With --stripe VOL1,VOL2,... the export is striped (RAID-0) over one image per volume, each volume",
                "its own replica group: stripe unit k lives on volume k mod N. The images are VOLi:/path.stripeI;",
                "VOLUME:/path (on VOL1) is a small descriptor naming them, which 'nbd serve' reads.",
                "",
                "Examples:",
                "  holdfast nbd create vms:/disks/web.img 20GiB",
                "  holdfast nbd create --stripe vms,fast --stripe-unit 4MiB vms:/disks/db.img 100GiB"
            })
    static final class Create extends FileCommand {
        @Parameters(index = "0", paramLabel = "VOLUME:/path", description = "The image to create (must not exist).")
        String arg;

        @Parameters(
                index = "1",
                paramLabel = "SIZE",
                converter = CatchUpBenchCommand.SizeConverter.class,
                description = "Its size, e.g. 1GiB, 512M or 1073741824.")
        long size;

        @Option(
                names = "--stripe",
                split = ",",
                paramLabel = "VOL1,VOL2,...",
                description = "Stripe the export over one image on each of these volumes (2-16, the first being "
                        + "VOLUME's).")
        List<String> stripe;

        @Option(
                names = "--stripe-unit",
                paramLabel = "SIZE",
                defaultValue = "4MiB",
                converter = CatchUpBenchCommand.SizeConverter.class,
                description = "Bytes of one stripe unit: a power of two from 64KiB to 1GiB (default ${DEFAULT-VALUE}).")
        long stripeUnit;

        @Override
        void run() throws Exception {
            checkSize(size);
            Locations.Location l = image(this, arg);
            if (l == null) {
                return;
            }
            if (stripe != null) {
                createStripedIn(this, l);
                return;
            }
            try {
                Path p = l.path();
                if (p.getParent() != null) {
                    Files.createDirectories(p.getParent());
                }
                createImage(p, size);
                System.out.println("created " + l.display(p) + ", " + Units.size(size) + " (" + size
                        + " bytes); export name " + exportName(l));
            } catch (IOException | RuntimeException e) {
                fail(e, l);
            }
        }
    }

    /** Creates the member images, then the descriptor; removes what it made if a step fails. */
    private static void createStripedIn(Create cmd, Locations.Location l) {
        String path = l.path().toAbsolutePath().normalize().toString();
        List<String> members = new ArrayList<>();
        for (int i = 0; i < cmd.stripe.size(); i++) {
            members.add(cmd.stripe.get(i) + path + ".stripe" + i);
        }
        StripeLayout layout;
        try {
            if (!cmd.stripe.getFirst().equals(l.volume())) {
                throw new IllegalArgumentException("the descriptor " + cmd.arg
                        + " must be on the first --stripe volume, " + cmd.stripe.getFirst());
            }
            layout = new StripeLayout(cmd.size, cmd.stripeUnit, members);
            checkSize(layout.memberSize());
        } catch (IllegalArgumentException e) {
            throw cmd.usage(e.getMessage());
        }
        List<Path> made = new ArrayList<>();
        try {
            for (String m : members) {
                Locations.Location ml = cmd.resolve(memberArg(m));
                if (ml == null) {
                    throw new IOException("cannot reach the volume of " + m);
                }
                Path p = ml.path();
                if (p.getParent() != null) {
                    Files.createDirectories(p.getParent());
                }
                try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    made.add(p);
                    HoldfastFiles.fallocate(ch, 0, 0, layout.memberSize());
                    ch.force(true);
                }
                mark(p, VolumeExports.MARK_MEMBER);
            }
            Path d = l.path();
            if (d.getParent() != null) {
                Files.createDirectories(d.getParent());
            }
            try (FileChannel ch = FileChannel.open(d, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                made.add(d);
                ch.write(ByteBuffer.wrap(layout.encode()));
                ch.force(true);
            }
            mark(d, VolumeExports.MARK_STRIPE);
            System.out.println("created " + l.display(d) + ", " + Units.size(cmd.size) + " (" + cmd.size
                    + " bytes) striped over " + members.size() + " volumes (" + String.join(", ", cmd.stripe)
                    + "), unit " + Units.size(cmd.stripeUnit) + "; export name " + exportName(l));
        } catch (IOException | RuntimeException e) {
            for (Path p : made) {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException | RuntimeException x) {
                    e.addSuppressed(x);
                }
            }
            cmd.fail(e, l);
        }
    }

    @Command(
            name = "list",
            mixinStandardHelpOptions = true,
            description = {
                "List the images made by 'holdfast nbd create' under a directory of a volume (default: its root),",
                "with their sizes and export names.",
                "",
                "Example:  holdfast nbd list vms      or      holdfast nbd list vms:/disks"
            })
    static final class ListImages extends FileCommand {
        /** How deep {@code list} looks below the directory. */
        static final int MAX_DEPTH = 16;

        @Parameters(index = "0", paramLabel = "VOLUME[:/dir]", description = "Where to look.")
        String arg;

        @Override
        void run() throws Exception {
            String where = Locations.isRemote(arg) ? arg : arg + ":/";
            if (!Locations.isRemote(where)) {
                throw usage("'" + arg + "' is not a volume name or VOLUME:/dir");
            }
            Locations.Location l = resolve(where);
            if (l == null) {
                return;
            }
            int found = 0;
            try (Stream<Path> s = Files.walk(l.path(), MAX_DEPTH)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    BasicFileAttributes a;
                    try {
                        a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                    } catch (NoSuchFileException e) {
                        continue; // removed meanwhile
                    }
                    String mark = a.isRegularFile() ? markOf(p) : null;
                    if (mark != null) {
                        found++;
                        String name = l.volume() + p.toAbsolutePath().normalize();
                        if (mark.equals(VolumeExports.MARK_STRIPE)) {
                            StripeLayout layout = layoutOf(p);
                            System.out.printf(
                                    "%-40s %12s  %s  striped over %d volumes, unit %s%n",
                                    name,
                                    Units.size(layout.size()),
                                    l.display(p),
                                    layout.members().size(),
                                    Units.size(layout.unit()));
                        } else if (mark.equals(VolumeExports.MARK_MEMBER)) {
                            System.out.printf(
                                    "%-40s %12s  %s  (a stripe member)%n", name, Units.size(a.size()), l.display(p));
                        } else {
                            System.out.printf("%-40s %12s  %s%n", name, Units.size(a.size()), l.display(p));
                        }
                    }
                }
            } catch (IOException | RuntimeException e) {
                fail(e, l);
                return;
            }
            if (found == 0) {
                System.out.println("no images under " + l.display(l.path()));
            }
        }
    }

    @Command(
            name = "resize",
            mixinStandardHelpOptions = true,
            description = {
                "Change the size of an image. Growing adds zeros at the end; shrinking drops data past the new",
                "size and needs --shrink. Clients connected now keep the size they were given; they see the new",
                "one when they reconnect. A striped export's members are all resized.",
                "",
                "Example:  holdfast nbd resize vms:/disks/web.img 40GiB"
            })
    static final class Resize extends FileCommand {
        @Parameters(index = "0", paramLabel = "VOLUME:/path", description = "The image.")
        String arg;

        @Parameters(
                index = "1",
                paramLabel = "SIZE",
                converter = CatchUpBenchCommand.SizeConverter.class,
                description = "The new size, e.g. 40GiB.")
        long size;

        @Option(names = "--shrink", description = "Allow making the image smaller (the data past SIZE is lost).")
        boolean shrink;

        @Override
        void run() throws Exception {
            checkSize(size);
            Locations.Location l = image(this, arg);
            if (l == null) {
                return;
            }
            if (VolumeExports.MARK_STRIPE.equals(markOf(l.path()))) {
                resizeStriped(l);
                return;
            }
            try (FileChannel ch = FileChannel.open(l.path(), StandardOpenOption.WRITE)) {
                long old = ch.size();
                if (size < old) {
                    if (!shrink) {
                        throw usage(l.display(l.path()) + " is " + Units.size(old) + "; making it " + Units.size(size)
                                + " drops data: add --shrink if that is meant");
                    }
                    ch.truncate(size);
                } else if (size > old) {
                    HoldfastFiles.fallocate(ch, 0, old, size - old);
                }
                ch.force(true);
                System.out.println("resized " + l.display(l.path()) + " from " + Units.size(old) + " to "
                        + Units.size(size) + " (" + size + " bytes)");
            } catch (IOException | RuntimeException e) {
                if (e instanceof CommandLine.ParameterException pe) {
                    throw pe;
                }
                fail(e, l);
            }
        }

        /**
         * Resizes every member, then rewrites the descriptor when growing (members first, so the
         * descriptor never names more than they hold); when shrinking, the descriptor first.
         */
        private void resizeStriped(Locations.Location l) {
            try {
                StripeLayout old = layoutOf(l.path());
                StripeLayout next;
                try {
                    next = new StripeLayout(size, old.unit(), old.members());
                    checkSize(next.memberSize());
                } catch (IllegalArgumentException e) {
                    throw usage(e.getMessage());
                }
                if (size < old.size() && !shrink) {
                    throw usage(l.display(l.path()) + " is " + Units.size(old.size()) + "; making it "
                            + Units.size(size) + " drops data: add --shrink if that is meant");
                }
                if (size < old.size()) {
                    writeDescriptor(l.path(), next);
                }
                for (String m : old.members()) {
                    Locations.Location ml = resolve(memberArg(m));
                    if (ml == null) {
                        return;
                    }
                    try (FileChannel ch = FileChannel.open(ml.path(), StandardOpenOption.WRITE)) {
                        long was = ch.size();
                        if (next.memberSize() < was) {
                            ch.truncate(next.memberSize());
                        } else if (next.memberSize() > was) {
                            HoldfastFiles.fallocate(ch, 0, was, next.memberSize() - was);
                        }
                        ch.force(true);
                    }
                }
                if (size >= old.size()) {
                    writeDescriptor(l.path(), next);
                }
                System.out.println("resized striped " + l.display(l.path()) + " from " + Units.size(old.size())
                        + " to " + Units.size(size) + " (" + size + " bytes) over "
                        + old.members().size()
                        + " volumes");
            } catch (IOException | RuntimeException e) {
                if (e instanceof CommandLine.ParameterException pe) {
                    throw pe;
                }
                fail(e, l);
            }
        }

        private static void writeDescriptor(Path p, StripeLayout layout) throws IOException {
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ch.write(ByteBuffer.wrap(layout.encode()));
                ch.force(true);
            }
        }
    }

    @Command(
            name = "rm",
            mixinStandardHelpOptions = true,
            description = {
                "Delete an image made by 'holdfast nbd create' (other files are refused: use 'holdfast rm');",
                "a striped export's member images go with its descriptor.",
                "Clients still connected keep reading and writing it until they disconnect; then it is gone.",
                "",
                "Example:  holdfast nbd rm vms:/disks/web.img"
            })
    static final class Rm extends FileCommand {
        @Parameters(paramLabel = "VOLUME:/path", arity = "1..*", description = "The images to delete.")
        List<String> args;

        @Override
        void run() {
            for (String arg : args) {
                Locations.Location l = image(this, arg);
                if (l == null) {
                    continue;
                }
                try {
                    Path p = l.path();
                    BasicFileAttributes a =
                            Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                    String mark = a.isRegularFile() ? markOf(p) : null;
                    if (mark == null) {
                        fail(new IOException(l.display(p) + " is not an image made by 'holdfast nbd create'; "
                                + "use 'holdfast rm' for other files"));
                        continue;
                    }
                    if (mark.equals(VolumeExports.MARK_MEMBER)) {
                        fail(new IOException(l.display(p) + " is a member of a striped export; remove the export"
                                + " (its descriptor on the first volume) instead"));
                        continue;
                    }
                    if (mark.equals(VolumeExports.MARK_STRIPE)) {
                        for (String m : layoutOf(p).members()) {
                            Locations.Location ml = resolve(memberArg(m));
                            if (ml != null) {
                                Files.deleteIfExists(ml.path());
                                System.out.println("removed " + ml.display(ml.path()));
                            }
                        }
                    }
                    Files.delete(p);
                    System.out.println("removed " + l.display(p));
                } catch (IOException | RuntimeException e) {
                    fail(e, l);
                }
            }
        }
    }
}
