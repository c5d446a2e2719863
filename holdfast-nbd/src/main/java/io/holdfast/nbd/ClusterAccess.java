package io.holdfast.nbd;

import io.holdfast.client.HoldfastClient;
import io.holdfast.protocol.Access;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.transport.Peer;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.time.Duration;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * Per-client export permissions from the cluster's export ACLs ({@code holdfast volume acl}),
 * evaluated by the gateway for the identity of each NBD client's certificate exactly as a node
 * evaluates them for a client of its own (first matching rule of {@link ClusterMap.Volume#acl},
 * by certificate common name and IP address; no match denies; the admin and node certificates
 * have full access).
 *
 * <p><b>Where the rules come from.</b> The gateway reads the cluster map through its own cluster
 * connection. Nodes send the rules only to privileged callers (the admin and nodes, or every
 * caller of a plaintext cluster), so the gateway must connect with the admin certificate for
 * its clients to be served; with a client certificate it cannot see the rules and refuses every
 * NBD client that presents a certificate (the reason is in the refusal). A connection to the
 * cluster as the NBD client itself is not possible: the gateway does not hold the client's
 * private key, and the cluster knows no delegation.
 *
 * <p><b>Freshness.</b> The map is read again when the copy is older than {@code maxAge} (1 s in
 * {@link #of}), so a changed rule applies to connections opened after that; a connection keeps
 * the access it was given when it opened its export. If the cluster cannot be reached and the
 * copy is older than {@code maxAge}, the client is refused. Thread-safe.
 */
public final class ClusterAccess implements ExportAccess {
    /** How old a copy of the map may be before it is read again: 1 s. */
    public static final Duration DEFAULT_MAX_AGE = Duration.ofSeconds(1);

    /** Where the maps come from: the cluster (a test gives its own). */
    interface MapSource {
        ClusterMap read() throws IOException;
    }

    private final MapSource source;
    private final boolean privileged;
    private final String gateway;
    private final long maxAgeNanos;
    private final LongSupplier clock;
    private ClusterMap map;
    private long readAt;

    ClusterAccess(MapSource source, boolean privileged, String gateway, Duration maxAge, LongSupplier clock) {
        this.source = Objects.requireNonNull(source, "source");
        this.privileged = privileged;
        this.gateway = Objects.requireNonNull(gateway, "gateway");
        this.maxAgeNanos = maxAge.toNanos();
        this.clock = clock;
    }

    /**
     * The ACLs of the cluster that {@code client} is connected to, read through it (the caller
     * keeps it open while this is used, and closes it).
     *
     * @param client the gateway's connection to the cluster; whether it may read the rules is
     *     taken from how the node identified it when it connected ({@link HoldfastClient#welcome})
     */
    public static ClusterAccess of(HoldfastClient client) {
        String peer = client.welcome().peer();
        return new ClusterAccess(
                () -> client.refreshMap(),
                mayReadAcls(peer),
                peer.isEmpty() ? "this gateway" : peer,
                DEFAULT_MAX_AGE,
                System::nanoTime);
    }

    /**
     * Whether a caller the node described as {@code peer} ({@link Peer#toString}: the role's
     * certificate unit first) gets the ACLs with the map: every role but {@code client}.
     */
    static boolean mayReadAcls(String peer) {
        return !peer.startsWith("client ");
    }

    /** Whether this gateway's identity lets it read the rules (if not, every client is refused). */
    public boolean canReadAcls() {
        return privileged;
    }

    @Override
    public Access access(String volume, Peer client) throws IOException {
        Objects.requireNonNull(volume, "volume");
        Objects.requireNonNull(client, "client");
        if (client.role().privileged()) {
            return Access.READ_WRITE; // as on a node: the admin and nodes are not subject to ACLs
        }
        if (!privileged) {
            throw new AccessDeniedException(
                    volume,
                    null,
                    "the gateway connects to the cluster as " + gateway
                            + ", which may not read export ACLs: run it with the admin certificate to serve clients"
                            + " that present a certificate");
        }
        ClusterMap.Volume v = map().volumes().get(volume);
        if (v == null) {
            return Access.NONE; // the open fails on the volume anyway; say nothing more here
        }
        return v.accessFor(client.name(), client.address());
    }

    private synchronized ClusterMap map() throws IOException {
        long now = clock.getAsLong();
        if (map == null || now - readAt >= maxAgeNanos) {
            map = source.read();
            readAt = now;
        }
        return map;
    }
}
