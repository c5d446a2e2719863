package io.holdfast.testkit;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.nio.HoldfastFileSystemProvider;
import io.holdfast.georep.GeoListener;
import io.holdfast.georep.GeoOptions;
import io.holdfast.georep.GeoReplicator;
import io.holdfast.georep.VolumeChangeSource;
import io.holdfast.transport.TransportSecurity;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A geo-replication worker in a process of its own, for tests that kill it with SIGKILL: tails
 * a volume's feed into a target directory until killed. Prints {@code READY} once connected and
 * {@code FULLSYNC index reason} whenever it starts a full synchronisation.
 *
 * <p>Arguments: {@code ADDRESS VOLUME TARGET SESSION TLS_DIR|insecure}.
 */
final class GeoWorkerProcess {
    private GeoWorkerProcess() {}

    /** The command line that runs one, with this JVM's class path. */
    static List<String> command(String address, String volume, Path target, String session, Path tlsDir) {
        return List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow",
                "-Xmx256m",
                "-cp",
                System.getProperty("java.class.path"),
                GeoWorkerProcess.class.getName(),
                address,
                volume,
                target.toString(),
                session,
                tlsDir == null ? "insecure" : tlsDir.toString());
    }

    /** Whether a {@code FULLSYNC} line is a full synchronisation rather than a comparison of the whole tree. */
    static boolean isResync(String line) {
        return line.contains(GeoReplicator.NO_STATE_REASON) || line.contains(GeoReplicator.TRIMMED_REASON);
    }

    public static void main(String[] args) throws Exception {
        String address = args[0];
        Map<String, Object> env = new HashMap<>();
        env.put("holdfast.deadline", Duration.ofSeconds(20));
        env.put(HoldfastFileSystemProvider.ENV_CACHE, false); // as holdfast georep start: see GeoReplicator
        if (args[4].equals("insecure")) {
            env.put(TransportSecurity.INSECURE_OPTION, true);
        } else {
            env.put(TransportSecurity.TLS_OPTION, Path.of(args[4]));
        }
        int colon = address.lastIndexOf(':');
        try (HoldfastClient client = HoldfastClient.connect(
                        address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)), env);
                FileSystem fs = FileSystems.newFileSystem(URI.create("holdfast://" + address + "/" + args[1]), env)) {
            GeoOptions options = GeoOptions.defaults(args[3]).withListener(new GeoListener() {
                @Override
                public void fullSyncStarted(long index, String reason) {
                    System.out.println("FULLSYNC " + index + " " + reason);
                }
            });
            GeoReplicator r = new GeoReplicator(
                    new VolumeChangeSource(client.volume(args[1]), Duration.ofSeconds(20)),
                    fs.getPath("/"),
                    Path.of(args[2]),
                    options);
            System.out.println("READY");
            r.run();
        }
    }
}
