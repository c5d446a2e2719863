package io.holdfast.cli;

import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Keeps the Ratis client's internal log lines off a file command's stderr, where each failure
 * is already reported in one line. Works through slf4j-simple's system properties, so it only
 * takes effect if called before the first logger is created (true for a fresh CLI process);
 * an explicit {@code -Dorg.slf4j.simpleLogger.log.org.apache.ratis=...} or
 * {@code HOLDFAST_DEBUG} in the environment wins.
 */
final class ClientLogging {
    private ClientLogging() {}

    static final String RATIS_LEVEL_PROPERTY = "org.slf4j.simpleLogger.log.org.apache.ratis";

    /** gRPC's own java.util.logging lines (e.g. TcpMetrics at INFO); held so it is not collected. */
    private static final Logger GRPC = Logger.getLogger("org.apache.ratis.thirdparty.io.grpc");

    /** Keeps gRPC's INFO lines off every command's stderr, unless HOLDFAST_DEBUG is set. */
    static void quietGrpc() {
        if (System.getenv("HOLDFAST_DEBUG") == null) {
            GRPC.setLevel(Level.WARNING);
        }
    }

    static void quietClient() {
        if (System.getenv("HOLDFAST_DEBUG") == null && System.getProperty(RATIS_LEVEL_PROPERTY) == null) {
            System.setProperty(RATIS_LEVEL_PROPERTY, "off");
        }
    }
}
