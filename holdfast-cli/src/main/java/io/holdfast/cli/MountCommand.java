package io.holdfast.cli;

import io.holdfast.client.nio.HoldfastFileSystem;
import io.holdfast.client.nio.HoldfastFileSystemProvider;
import io.holdfast.client.nio.HoldfastFiles;
import io.holdfast.fuse.CallerScope;
import io.holdfast.fuse.Capabilities;
import io.holdfast.fuse.FuseMount;
import io.holdfast.fuse.FuseOptions;
import io.holdfast.server.admin.AdminOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code holdfast mount}: serves a volume's {@code holdfast://} file system at a local mount
 * point through FUSE, in the foreground ({@link Serve}), until SIGINT/SIGTERM or until the mount
 * is removed from outside ({@code fusermount3 -u}).
 */
@Command(
        name = "mount",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        description = {
            "Mount a volume at a local directory with FUSE and serve it in the foreground.",
            "Stop with Ctrl-C, SIGTERM or 'fusermount3 -u MOUNTPOINT'. Needs fuse3 (apt-get install fuse3);",
            "the file commands (holdfast ls|cat|cp|...) work without FUSE.",
            "",
            "Example:  holdfast mount mail /srv/mail"
        },
        exitCodeList = {
            "0:unmounted after Ctrl-C, SIGTERM or fusermount3 -u",
            "1:could not mount (no FUSE, no such mount point, cluster unreachable)"
        })
final class MountCommand implements Callable<Integer> {
    /**
     * How long the kernel keeps a mount's names and attributes under the volume's read lease
     * ({@code --cache-timeout auto}), seconds: well past a walk of a tree, while another client's
     * change takes them back at once.
     */
    static final int LEASED_CACHE_SECONDS = 10;

    /**
     * Passes the uid, gid and groups of the process behind each FUSE request to the Holdfast file
     * system, so files get the right owner and the brick checks the right permissions.
     */
    static final CallerScope HOLDFAST_CALLERS = caller -> HoldfastFileSystem.bindCaller(caller)::close;

    @Mixin
    ClusterOption cluster;

    @Parameters(
            index = "0",
            paramLabel = "VOLUME",
            description = "The volume to mount (VOLUME or VOLUME:/dir for a subtree).")
    String volume;

    @Parameters(index = "1", paramLabel = "MOUNTPOINT", description = "An existing, empty local directory.")
    Path mountPoint;

    @Mixin
    FuseMountOptions fuse;

    @Option(
            names = "--read-only",
            description = "Mount read-only (automatic when the volume is exported read-only to this client).")
    boolean readOnly;

    @Option(
            names = "--no-cache",
            description = "Do not cache metadata in this process. By default the mount holds the volume's read "
                    + "lease and answers stat, lookups, listings, link targets and xattrs from memory; the leader "
                    + "holds every other client's change until this mount dropped its cache, so nothing stale is "
                    + "ever shown. Without the cache every such call is a round trip to the volume.")
    boolean noCache;

    @Option(
            names = "--sync",
            description = "Wait for the volume's answer to every change. By default chmod, chown, utimens, unlink, "
                    + "rmdir (of a directory known to be empty), renames of files and creates of files by root are "
                    + "written back: answered at once from the cache and sent in order, in batches, without "
                    + "waiting; one the volume refuses (another client removed or replaced the file meanwhile) is "
                    + "logged and reported by the next fsync of that file or directory or at unmount. Another "
                    + "client may still see the old name for the few milliseconds before it is sent. fsync waits "
                    + "for everything before it; close waits for the file's data and its create (close-to-open).")
    boolean sync;

    @Option(
            names = "--metrics",
            paramLabel = "HOST:PORT",
            description = "Serve this mount's status page (/), /status.json and Prometheus /metrics (metadata cache "
                    + "hits, misses, entries and drops, read lease, write-back changes, requests, pending and failed) "
                    + "at this address, e.g. 127.0.0.1:9480 (port 0: any free one). Unauthenticated: keep it on "
                    + "loopback or a trusted network. Default: off.",
            defaultValue = "off")
    String metrics;

    @Override
    public Integer call() throws Exception {
        String arg = Locations.isRemote(volume) ? volume : volume + ":/";
        String name = Locations.volumeOf(arg);
        if (name == null) {
            throw new IllegalArgumentException("not a volume name: '" + volume + "'");
        }
        if (!FuseMount.isAvailable()) {
            return unavailable("FUSE is not available here (needs /dev/fuse, libfuse3.so.3 and fusermount3)");
        }
        if (!Files.isDirectory(mountPoint)) {
            System.err.println("holdfast mount: mount point " + mountPoint + " is not an existing directory");
            return 1;
        }
        Path realMountPoint = mountPoint.toRealPath();
        ClientLogging.quietClient();
        Map<String, Object> env = cluster.env();
        env.put(HoldfastFileSystemProvider.ENV_CACHE, !noCache);
        env.put(HoldfastFileSystemProvider.ENV_WRITE_BACK, !sync);
        Locations locations = new Locations(cluster::address, env);
        AdminOptions metricsAt = StatusServer.metricsAddress(metrics);
        FuseMount mount;
        MountMonitor monitor = null;
        try {
            Path root = locations.resolve(arg).path();
            if (metricsAt.enabled()) {
                monitor = new MountMonitor(root.getFileSystem(), name, metricsAt);
            }
            boolean exportedReadOnly = root.getFileSystem().isReadOnly();
            if (exportedReadOnly && !readOnly) {
                System.out.println("volume " + name + " is exported read-only to this client: mounting read-only");
            }
            Duration auto = HoldfastFiles.readLease(root.getFileSystem()).isPresent()
                    ? Duration.ofSeconds(LEASED_CACHE_SECONDS)
                    : Duration.ZERO;
            FuseOptions options = fuse.fuseOptions(readOnly || exportedReadOnly, "holdfast-" + name, auto)
                    .withCallerScope(HOLDFAST_CALLERS)
                    .withCapabilities(Capabilities.HOLDFAST);
            mount = FuseMount.mount(root, mountPoint, options);
        } catch (IOException | RuntimeException e) {
            if (monitor != null) {
                monitor.close();
            }
            locations.close();
            if (e.getMessage() != null && e.getMessage().startsWith("FUSE is not available")) {
                return unavailable(e.getMessage());
            }
            if (e instanceof IllegalArgumentException iae) {
                throw iae;
            }
            System.err.println("holdfast mount: cannot mount " + volume + " at " + mountPoint + ": "
                    + (e.getClass() == IOException.class ? e.getMessage() : Errors.describe(e)));
            return 1;
        }
        List<AutoCloseable> resources = new ArrayList<>();
        if (monitor != null) {
            monitor.watch(mount);
            System.out.println("metrics and status of this mount at " + monitor.uri());
            resources.add(monitor);
        }
        resources.add(locations);
        Serve.run(
                "holdfast-unmount",
                new FuseServed(
                        "holdfast mount",
                        "mounted " + volume + " at " + mountPoint,
                        mount,
                        mountPoint,
                        realMountPoint,
                        resources));
        return 0;
    }

    private static int unavailable(String reason) {
        System.err.println("holdfast mount: " + reason + ".");
        System.err.println(
                "  Install fuse3 (e.g. 'apt-get install fuse3'; in a container also pass --device /dev/fuse).");
        System.err.println(
                "  The file commands work without FUSE: holdfast ls|stat|cat|put|get|cp|mkdir|rm|mv VOLUME:/path");
        return 1;
    }

    /** Reads {@code /proc/self/mountinfo} (Linux). */
    static final class MountTable {
        private MountTable() {}

        /**
         * Whether {@code dir}, a real path (as {@link Path#toRealPath} gives before mounting), is a
         * mount point now; does no I/O on {@code dir} itself. If the table cannot be read, assumes it is
         * (the loop then ends only by signal).
         */
        static boolean isMountPoint(Path dir) {
            Path info = Path.of("/proc/self/mountinfo");
            String wanted = dir.toString();
            try (var lines = Files.lines(info)) {
                return lines.map(l -> l.split(" "))
                        .filter(f -> f.length > 4)
                        .anyMatch(f -> unescape(f[4]).equals(wanted));
            } catch (IOException | UncheckedIOException e) {
                return true;
            }
        }

        /** Undoes mountinfo's octal escapes ({@code \040} for a space, ...). */
        static String unescape(String s) {
            if (s.indexOf('\\') < 0) {
                return s;
            }
            StringBuilder b = new StringBuilder(s.length());
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (c == '\\'
                        && i + 3 < s.length()
                        && s.substring(i + 1, i + 4).chars().allMatch(ch -> ch >= '0' && ch <= '7')) {
                    b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                    i += 3;
                } else {
                    b.append(c);
                }
            }
            return b.toString();
        }
    }
}
