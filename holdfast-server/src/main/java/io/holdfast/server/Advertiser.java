package io.holdfast.server;

import io.holdfast.protocol.ClusterCommand;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.LogFormat;
import java.io.IOException;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Advertises what this node's code supports (its log format range and software version) in
 * the cluster map: at start-up, once the node sees itself in a map, and again whenever a map
 * shows something else for it (after an upgrade, or once it was added with {@code holdfast
 * cluster add-node}). Until the map shows it, leaders count this node as supporting log
 * format 1 only (see {@link LogFormatGuard}).
 *
 * <p>One daemon thread; a failed proposal (the cluster group has no leader yet) is retried
 * every second while the latest map still differs. Thread-safe.
 */
final class Advertiser implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Advertiser.class);
    private static final long RETRY_MILLIS = 1000;

    private final String address;
    private final ClusterMap.NodeInfo mine;
    private final NodeConfig config;
    private final Parameters parameters;
    private final Thread thread;
    private volatile ClusterMap latest;
    private volatile boolean closed;

    Advertiser(NodeConfig config, Parameters parameters) {
        this.config = config;
        this.parameters = parameters;
        this.address = config.address();
        this.mine = new ClusterMap.NodeInfo(LogFormat.MIN, config.maxLogFormat(), softwareVersion());
        this.thread = new Thread(this::run, "holdfast-advertiser-" + address);
        this.thread.setDaemon(true);
    }

    /** This build's version, from the jar's manifest, or {@code "dev"} when run from classes. */
    static String softwareVersion() {
        String v = Advertiser.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    /** What this node advertises. */
    ClusterMap.NodeInfo info() {
        return mine;
    }

    void start() {
        thread.start();
    }

    /** Told every map this node learns; wakes the thread if the map does not show this node's advertisement. */
    void mapKnown(ClusterMap map) {
        latest = map;
        if (needed(map)) {
            synchronized (this) {
                notifyAll();
            }
        }
    }

    private boolean needed(ClusterMap map) {
        return map != null
                && map.nodes().contains(address)
                && !map.infoOf(address).equals(mine);
    }

    private void run() {
        RaftClient client = null;
        boolean warned = false;
        try {
            while (!closed) {
                synchronized (this) {
                    while (!closed && !needed(latest)) {
                        wait();
                    }
                }
                if (closed) {
                    return;
                }
                try {
                    if (client == null) {
                        client = MapFollower.clusterGroupClient(config, parameters);
                    }
                    ClusterCommand ad = new ClusterCommand.AdvertiseNode(
                            address, mine.minLogFormat(), mine.maxLogFormat(), mine.version());
                    RaftClientReply reply =
                            client.io().send(Message.valueOf(ByteString.copyFrom(ClusterCommand.encode(ad))));
                    if (reply.isSuccess()) {
                        ClusterMap m = ClusterMap.decode(
                                reply.getMessage().getContent().toByteArray());
                        latest = latest == null || m.epoch() > latest.epoch() ? m : latest;
                        LOG.info(
                                "advertised log formats {} (version {}); cluster feature level {}",
                                mine.logFormats(),
                                mine.version(),
                                m.featureLevel());
                        warned = false;
                        continue;
                    }
                    if (!warned) {
                        warned = true;
                        LOG.warn(
                                "cannot advertise this node's log formats yet: {}; retrying every second",
                                reply.getException());
                    }
                } catch (IOException | RuntimeException e) {
                    if (!warned && !closed) {
                        warned = true;
                        LOG.warn(
                                "cannot advertise this node's log formats yet: {}; retrying every second",
                                e.toString());
                    }
                }
                Thread.sleep(RETRY_MILLIS); // a retry period, not a synchronisation
            }
        } catch (InterruptedException e) {
            // closing
        } finally {
            if (client != null) {
                try {
                    client.close();
                } catch (IOException e) {
                    // releasing connections only
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
    }
}
