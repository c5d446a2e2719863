package io.holdfast.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.client.nio.HoldfastFileSystem;
import io.holdfast.fuse.Capabilities;
import io.holdfast.fuse.FuseMount;
import io.holdfast.fuse.FuseOptions;
import io.holdfast.overlay.OverlayFileSystem;
import io.holdfast.overlay.OverlayStatus;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code holdfast overlay}: a union of a damaged (read-only) file system and a healthy writable one,
 * mounted with FUSE ({@code mount}), and what it has done and seen ({@code status}).
 */
@Command(
        name = "overlay",
        mixinStandardHelpOptions = true,
        description = {
            "Keep a damaged file system in service: mount a union of it (LOWER, read-only, never written) under a",
            "healthy writable directory (UPPER). Reads come from UPPER, else LOWER; every change goes to UPPER (a",
            "changed LOWER file is copied up first); a delete leaves a whiteout in UPPER. A LOWER file that cannot",
            "be read fails with EIO for that file only, and is listed by 'holdfast overlay status'; it can still be",
            "replaced by writing it anew (truncating) or renaming another file over it.",
            "",
            "UPPER is in Linux overlayfs's format (whiteouts are character devices 0/0, opaque directories carry",
            "user.overlay.opaque=y), so the kernel can mount the same layers too:",
            "  mount -t overlay overlay -o lowerdir=LOWER,upperdir=UPPER,workdir=W,userxattr MNT",
            "Where UPPER cannot hold device nodes or user xattrs, the aufs format (.wh.NAME files) is used instead.",
            "",
            "Not built yet: 'holdfast overlay merge' (folding UPPER back into a repaired or new base)."
        },
        subcommands = {OverlayCommands.Mount.class, OverlayCommands.Status.class})
final class OverlayCommands {
    private OverlayCommands() {}

    @Command(
            name = "mount",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            description = {
                "Mount the union of LOWER under UPPER at MOUNTPOINT with FUSE and serve it in the foreground.",
                "Stop with Ctrl-C, SIGTERM or 'fusermount3 -u MOUNTPOINT'. Each of LOWER and UPPER is a local",
                "directory or VOLUME:/dir on a Holdfast cluster (--cluster). Copy-ups are built in a work directory",
                "(default: .NAME.overlay-work beside UPPER, on the same file system) and renamed into UPPER, so a",
                "crash never leaves a half-copied file visible. The work directory also holds the status record.",
                "",
                "Examples:",
                "  holdfast overlay mount /mnt/damaged /srv/healthy/upper /srv/data",
                "  holdfast overlay mount /mnt/damaged mail:/rescue /srv/mail --cluster a:7001"
            },
            exitCodeList = {
                "0:unmounted after Ctrl-C, SIGTERM or fusermount3 -u",
                "1:could not mount (no FUSE, a layer missing, layers overlapping, cluster unreachable)"
            })
    static final class Mount implements Callable<Integer> {
        @Mixin
        ClusterOption cluster;

        @Parameters(index = "0", paramLabel = "LOWER", description = "The read-only layer (never written).")
        String lower;

        @Parameters(index = "1", paramLabel = "UPPER", description = "The writable layer: an existing directory.")
        String upper;

        @Parameters(index = "2", paramLabel = "MOUNTPOINT", description = "An existing, empty local directory.")
        Path mountPoint;

        @Option(
                names = "--work",
                paramLabel = "DIR",
                description = "The work directory, on UPPER's file system and outside both layers "
                        + "(default: .NAME.overlay-work beside UPPER).")
        String work;

        @Mixin
        FuseMountOptions fuse;

        @Override
        public Integer call() throws Exception {
            if (!FuseMount.isAvailable()) {
                System.err.println("holdfast overlay mount: FUSE is not available here "
                        + "(needs /dev/fuse, libfuse3.so.3 and fusermount3; apt-get install fuse3)");
                return 1;
            }
            if (!Files.isDirectory(mountPoint)) {
                System.err.println(
                        "holdfast overlay mount: mount point " + mountPoint + " is not an existing directory");
                return 1;
            }
            Path realMountPoint = mountPoint.toRealPath();
            ClientLogging.quietClient();
            Locations locations = new Locations(cluster::address, cluster.env());
            OverlayFileSystem overlay;
            FuseMount mount;
            try {
                Path lowerPath = locations.resolve(lower).path();
                Path upperPath = locations.resolve(upper).path();
                Path workPath = work == null
                        ? OverlayFileSystem.defaultWorkDirectory(upperPath)
                        : locations.resolve(work).path();
                overlay = OverlayFileSystem.open(lowerPath, upperPath, workPath);
                boolean holdfastUpper = upperPath.getFileSystem() instanceof HoldfastFileSystem;
                FuseOptions options = fuse.fuseOptions(false, "holdfast-overlay")
                        .withCapabilities(new Capabilities(false, Capabilities.Ownership.PROCESS, holdfastUpper));
                try {
                    mount = FuseMount.mount(overlay.root(), mountPoint, options);
                } catch (IOException | RuntimeException e) {
                    overlay.close();
                    throw e;
                }
            } catch (IOException | RuntimeException e) {
                locations.close();
                if (e instanceof IllegalArgumentException iae) {
                    throw iae;
                }
                System.err.println(
                        "holdfast overlay mount: cannot mount " + lower + " under " + upper + " at " + mountPoint + ": "
                                + (e.getClass() == IOException.class ? e.getMessage() : Errors.describe(e)));
                return 1;
            }
            OverlayFileSystem served = overlay;
            Serve.run(
                    "holdfast-overlay-unmount",
                    new FuseServed(
                            "holdfast overlay mount",
                            "mounted " + lower + " under " + upper + " at " + mountPoint + " ("
                                    + served.whiteoutFormat() + " whiteouts, work directory " + served.work() + ")",
                            mount,
                            mountPoint,
                            realMountPoint,
                            List.of(served, locations)));
            return 0;
        }
    }

    @Command(
            name = "status",
            mixinStandardHelpOptions = true,
            description = {
                "Show what an overlay of UPPER has done and seen since it was mounted: copy-ups, whiteouts, opaque",
                "directories, and every path of the lower layer that failed (operation, count, first and last time,",
                "error). Read from the status record in the work directory, which a mounted overlay rewrites every",
                "second when something changed and once more at unmount. Works while mounted and after.",
                "",
                "Examples:",
                "  holdfast overlay status /srv/healthy/upper",
                "  holdfast overlay status /srv/healthy/upper --json"
            },
            exitCodeList = {
                "0:the record was read (also when it lists lower errors)",
                "1:no status record there (never mounted, or another --work)"
            })
    static final class Status implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "UPPER", description = "The overlay's upper layer (a local directory).")
        Path upper;

        @Option(names = "--work", paramLabel = "DIR", description = "The work directory, if not the default.")
        Path work;

        @Option(names = "--json", description = "Print the record as it is stored (JSON).")
        boolean json;

        @Override
        public Integer call() throws IOException {
            Path w = work == null ? OverlayFileSystem.defaultWorkDirectory(upper) : work;
            Path file = w.resolve(OverlayFileSystem.STATUS_FILE);
            String text;
            try {
                text = Files.readString(file, StandardCharsets.UTF_8);
            } catch (NoSuchFileException e) {
                System.err.println("holdfast overlay status: no status record " + file + " (was " + upper
                        + " ever mounted as an upper layer? give --work if another work directory)");
                return 1;
            }
            if (json) {
                System.out.print(text);
                return 0;
            }
            JsonNode r = new ObjectMapper().readTree(text);
            if (!OverlayStatus.FORMAT.equals(r.path("format").asText())) {
                System.err.println("holdfast overlay status: " + file + " is not an overlay status record");
                return 1;
            }
            if (r.path("version").asInt() > OverlayStatus.VERSION) {
                System.err.println("holdfast overlay status: " + file + " has version "
                        + r.path("version").asInt() + ", newer than this holdfast (" + OverlayStatus.VERSION + ")");
                return 1;
            }
            System.out.println(render(r));
            return 0;
        }

        static String render(JsonNode r) {
            StringBuilder b = new StringBuilder();
            b.append("lower           ").append(r.path("lower").asText()).append('\n');
            b.append("upper           ")
                    .append(r.path("upper").asText())
                    .append(" (")
                    .append(r.path("whiteoutFormat").asText())
                    .append(" whiteouts)\n");
            b.append("mounted         ")
                    .append(r.path("openedAt").asText())
                    .append(", record of ")
                    .append(r.path("updatedAt").asText())
                    .append('\n');
            b.append("copy-ups        ")
                    .append(r.path("copyUps").asLong())
                    .append(" (")
                    .append(r.path("copyUpBytes").asLong())
                    .append(" bytes)\n");
            b.append("whiteouts       ").append(r.path("whiteouts").asLong()).append('\n');
            b.append("opaque dirs     ")
                    .append(r.path("opaqueDirectories").asLong())
                    .append('\n');
            JsonNode paths = r.path("lowerErrorPaths");
            b.append("lower errors    ")
                    .append(r.path("lowerErrors").asLong())
                    .append(" on ")
                    .append(paths.size() + r.path("lowerErrorPathsDropped").asLong())
                    .append(" paths");
            for (JsonNode e : paths) {
                b.append("\n  ")
                        .append(e.path("path").asText())
                        .append("  ")
                        .append(e.path("operation").asText())
                        .append(" x")
                        .append(e.path("count").asLong())
                        .append("  first ")
                        .append(e.path("first").asText())
                        .append("  last ")
                        .append(e.path("last").asText())
                        .append("  ")
                        .append(e.path("message").asText());
            }
            long dropped = r.path("lowerErrorPathsDropped").asLong();
            if (dropped > 0) {
                b.append("\n  ... and ").append(dropped).append(" more paths not kept");
            }
            return b.toString();
        }
    }
}
