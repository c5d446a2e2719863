package io.holdfast.server;

import io.holdfast.server.admin.AdminOptions;
import io.holdfast.storage.ChangeFeedRetention;
import java.time.InstantSource;
import java.util.Objects;

/**
 * Everything a node starts with ({@link HoldfastNode#start(NodeOptions)}): its configuration and
 * security, and the settings that have defaults. Immutable and thread-safe; built with
 * {@link #builder}.
 *
 * <table>
 *   <caption>Settings and defaults</caption>
 *   <tr><th>setting</th><th>default</th></tr>
 *   <tr><td>{@link #admin}</td><td>{@link AdminOptions#defaultFor} the config: loopback, node port + 1000</td></tr>
 *   <tr><td>{@link #clock}</td><td>{@link InstantSource#system()}; it stamps log entries</td></tr>
 *   <tr><td>{@link #scrub}</td><td>{@link ScrubSettings#DEFAULT}</td></tr>
 *   <tr><td>{@link #network}</td><td>{@link NodeNetwork#DIRECT}</td></tr>
 *   <tr><td>{@link #catchUpBytesPerSecond}</td><td>{@link #DEFAULT_CATCH_UP_RATE} (8 MiB/s)</td></tr>
 *   <tr><td>{@link #diskReserveBytes}</td><td>{@link #DEFAULT_DISK_RESERVE} (256 MiB)</td></tr>
 *   <tr><td>{@link #changeFeedRetention}</td><td>{@link ChangeFeedRetention#DEFAULT} (64 MiB, 7 days)</td></tr>
 * </table>
 */
public final class NodeOptions {
    /** Default {@link #diskReserveBytes}: 256 MiB. */
    public static final long DEFAULT_DISK_RESERVE = 256L << 20;
    /**
     * Default {@link #catchUpBytesPerSecond}: 8 MiB/s. The catch-up bench (1 GiB, three nodes and
     * the new member on two shared cores) kept the foreground p99 within 2x of normal at 8 MiB/s
     * (1.87x) and not at 16 or 32 (2.1-4x); a 1 GiB brick then takes about 4.5 minutes (the
     * transfer and the restore each at this rate).
     */
    public static final long DEFAULT_CATCH_UP_RATE = 8L << 20;

    private final NodeConfig config;
    private final NodeSecurity security;
    private final AdminOptions admin;
    private final InstantSource clock;
    private final ScrubSettings scrub;
    private final NodeNetwork network;
    private final long catchUpBytesPerSecond;
    private final long diskReserveBytes;
    private final ChangeFeedRetention changeFeedRetention;

    private NodeOptions(Builder b) {
        this.config = b.config;
        this.security = b.security;
        this.admin = b.admin == null ? AdminOptions.defaultFor(b.config) : b.admin;
        this.clock = b.clock;
        this.scrub = b.scrub;
        this.network = b.network;
        this.catchUpBytesPerSecond = b.catchUpBytesPerSecond;
        this.diskReserveBytes = b.diskReserveBytes;
        this.changeFeedRetention = b.changeFeedRetention;
    }

    /**
     * A builder with every default.
     *
     * @param config the node's data directory, address and cluster
     * @param security TLS material and connection limits; plaintext only when the operator asked
     *     for it ({@code --insecure})
     * @throws NullPointerException if either is null
     */
    public static Builder builder(NodeConfig config, NodeSecurity security) {
        return new Builder(config, security);
    }

    /** The options with every default for {@code config} and {@code security}. */
    public static NodeOptions of(NodeConfig config, NodeSecurity security) {
        return builder(config, security).build();
    }

    /** The node's data directory, address and cluster. */
    public NodeConfig config() {
        return config;
    }

    /** TLS material and connection limits. */
    public NodeSecurity security() {
        return security;
    }

    /** Where the node serves metrics and the status page, or {@link AdminOptions#off()}. */
    public AdminOptions admin() {
        return admin;
    }

    /** The clock that stamps log entries. */
    public InstantSource clock() {
        return clock;
    }

    /** Pace and schedule of the scrubbers of the volumes this node serves. */
    public ScrubSettings scrub() {
        return scrub;
    }

    /** Where the node listens and how it reaches its peers. */
    public NodeNetwork network() {
        return network;
    }

    /**
     * The most snapshot bytes per second this node takes in while a member of it catches up from a
     * leader's snapshot; installing the snapshot is paced the same. Positive.
     */
    public long catchUpBytesPerSecond() {
        return catchUpBytesPerSecond;
    }

    /**
     * Free bytes a leader keeps on its data directory's file system: past it, writes get ENOSPC
     * (see {@code DiskReserve}). Zero or more.
     */
    public long diskReserveBytes() {
        return diskReserveBytes;
    }

    /** How much change feed history each member keeps (per brick). */
    public ChangeFeedRetention changeFeedRetention() {
        return changeFeedRetention;
    }

    /** Builds {@link NodeOptions}. Not thread-safe. */
    public static final class Builder {
        private final NodeConfig config;
        private final NodeSecurity security;
        private AdminOptions admin;
        private InstantSource clock = InstantSource.system();
        private ScrubSettings scrub = ScrubSettings.DEFAULT;
        private NodeNetwork network = NodeNetwork.DIRECT;
        private long catchUpBytesPerSecond = DEFAULT_CATCH_UP_RATE;
        private long diskReserveBytes = DEFAULT_DISK_RESERVE;
        private ChangeFeedRetention changeFeedRetention = ChangeFeedRetention.DEFAULT;

        private Builder(NodeConfig config, NodeSecurity security) {
            this.config = Objects.requireNonNull(config, "config");
            this.security = Objects.requireNonNull(security, "security");
        }

        /** Where to serve metrics and the status page, or {@link AdminOptions#off()}. */
        public Builder admin(AdminOptions admin) {
            this.admin = Objects.requireNonNull(admin, "admin");
            return this;
        }

        /** The clock that stamps log entries (tests). */
        public Builder clock(InstantSource clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** Pace and schedule of the scrubbers. */
        public Builder scrub(ScrubSettings scrub) {
            this.scrub = Objects.requireNonNull(scrub, "scrub");
            return this;
        }

        /** Sockets that differ from the node's address (tests that put a proxy between nodes). */
        public Builder network(NodeNetwork network) {
            this.network = Objects.requireNonNull(network, "network");
            return this;
        }

        /**
         * The catch-up rate.
         *
         * @throws IllegalArgumentException if {@code bytesPerSecond} is not positive
         */
        public Builder catchUpRate(long bytesPerSecond) {
            if (bytesPerSecond < 1) {
                throw new IllegalArgumentException("the catch-up rate must be positive, got " + bytesPerSecond);
            }
            this.catchUpBytesPerSecond = bytesPerSecond;
            return this;
        }

        /**
         * The disk reserve.
         *
         * @throws IllegalArgumentException if {@code bytes} is negative
         */
        public Builder diskReserve(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("the disk reserve must not be negative, got " + bytes);
            }
            this.diskReserveBytes = bytes;
            return this;
        }

        /** How much change feed history each member keeps. */
        public Builder changeFeedRetention(ChangeFeedRetention retention) {
            this.changeFeedRetention = Objects.requireNonNull(retention, "retention");
            return this;
        }

        /** The options. */
        public NodeOptions build() {
            return new NodeOptions(this);
        }
    }
}
