package io.holdfast.cli;

import java.util.Set;
import org.apache.ratis.thirdparty.io.netty.handler.ssl.OpenSsl;

/**
 * Start-up work of a one-shot client command done on the second core while the first builds the
 * command line: loading OpenSSL (netty-tcnative, which Ratis's gRPC transport uses for TLS;
 * about 80 ms) and the JDK's table of public CA certificates, which the first host-name check of
 * a TLS handshake reads ({@code sun.security.util.AnchorCertificates}, about 50 ms). Both happen
 * anyway; this only moves them off the critical path.
 *
 * <p>Thread safety: {@link #start} once per process (from {@code main}); {@link #await} from any
 * thread, before the first Raft client is built, so that the netty classes are never initialised
 * by two threads at once.
 */
final class StartupWarmup {
    private StartupWarmup() {}

    /** The commands that connect to a cluster at once and live for a moment. */
    private static final Set<String> ONE_SHOT =
            Set.of("ls", "stat", "cat", "mkdir", "rm", "mv", "volume", "cluster", "scrub", "watch", "georep");

    private static Thread thread;

    /**
     * Starts the warm-up if {@code args} name a one-shot client command, unless the system
     * property {@code holdfast.warmup} is {@code off} (to measure without it); otherwise does
     * nothing.
     */
    static synchronized void start(String... args) {
        if (thread == null
                && args.length > 0
                && ONE_SHOT.contains(args[0])
                && !"off".equals(System.getProperty("holdfast.warmup"))) {
            thread = Thread.ofPlatform().daemon().name("holdfast-warmup").start(StartupWarmup::run);
        }
    }

    /** Waits until the warm-up (if one was started) has finished; it never fails. */
    static void await() {
        Thread t;
        synchronized (StartupWarmup.class) {
            t = thread;
        }
        if (t != null) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static void run() {
        try {
            OpenSsl.isAvailable();
            Class.forName("sun.security.util.AnchorCertificates");
        } catch (Throwable e) { // NOPMD: a warm-up that fails leaves the work to its real place
            // nothing to do: the same code runs again where it is needed and reports there
        }
    }
}
