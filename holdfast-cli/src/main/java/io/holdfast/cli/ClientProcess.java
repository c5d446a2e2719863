package io.holdfast.cli;

import org.apache.ratis.metrics.MetricRegistries;

/**
 * Machinery that a command talking to a cluster as a client does not need, left unstarted.
 *
 * <p>Ratis creates a metric registry for every gRPC connection of a Raft client, and when the
 * first registry of the process is created without any reporter registered, it registers a JMX
 * reporter, which starts the platform MBean server (and with it the JDK's management and
 * diagnostic-command beans, some 300 classes): 7 % of the CPU samples of a profiled
 * {@code holdfast cat}, for beans nobody reads.
 * Registering a reporter that does nothing first keeps the registries (and anything reading
 * them) as they are, without JMX. Has no effect if a registry exists already.
 */
final class ClientProcess {
    private ClientProcess() {}

    private static boolean prepared;

    /** Call before the first Raft client of the process is built; later calls do nothing. */
    static synchronized void prepare() {
        StartupWarmup.await();
        if (!prepared) {
            prepared = true;
            MetricRegistries.global().addReporterRegistration(registry -> {}, registry -> {});
        }
    }
}
