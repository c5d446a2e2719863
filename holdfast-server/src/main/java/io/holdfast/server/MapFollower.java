package io.holdfast.server;

import io.holdfast.protocol.ClusterCommand;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.transport.ClusterIds;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a node outside the cluster group (one added at run time, or beyond the first three
 * configured) up to date with the cluster map: it reads the map from the cluster group once a
 * second, as a node (its certificate's role), and passes every newer map to {@code onMap}. Members
 * of the cluster group learn the map from their own log instead.
 *
 * <p>A read that fails (the cluster group is unreachable) is retried on the next tick; the
 * node keeps serving with the last map it had. Thread-safe; one daemon thread.
 */
final class MapFollower implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MapFollower.class);
    /** How often the map is read, in milliseconds. */
    static final long PERIOD_MILLIS = 1000;

    private final RaftClient client;
    private final Consumer<ClusterMap> onMap;
    private final Thread thread;
    private volatile boolean closed;
    private boolean warned;
    private long lastEpoch = -1;

    MapFollower(NodeConfig config, Parameters parameters, Consumer<ClusterMap> onMap) {
        this.client = clusterGroupClient(config, parameters);
        this.onMap = onMap;
        this.thread = new Thread(this::run, "holdfast-map-follower-" + config.address());
        this.thread.setDaemon(true);
    }

    /**
     * A Raft client of the cluster group that speaks as this node (its certificate's role): 3 s
     * per request, no retries (callers retry on their own schedule).
     */
    static RaftClient clusterGroupClient(NodeConfig config, Parameters parameters) {
        RaftProperties props = new RaftProperties();
        RaftClientConfigKeys.Rpc.setRequestTimeout(props, TimeDuration.valueOf(3, TimeUnit.SECONDS));
        GrpcConfigKeys.setMessageSizeMax(props, SizeInBytes.valueOf("32MB"));
        return RaftClient.newBuilder()
                .setProperties(props)
                .setParameters(parameters)
                .setRaftGroup(ClusterIds.group(ClusterIds.CLUSTER_GROUP, config.clusterGroupMembers()))
                .setClientId(ClientId.randomId())
                .setRetryPolicy(RetryPolicies.noRetry())
                .build();
    }

    void start() {
        thread.start();
    }

    private void run() {
        Message getMap = Message.valueOf(ByteString.copyFrom(ClusterCommand.encode(new ClusterCommand.GetMap())));
        while (!closed) {
            try {
                // blocking: a failed async call would close the Raft client's ordered window for good
                RaftClientReply reply = client.io().sendReadOnly(getMap);
                if (reply.isSuccess()) {
                    ClusterMap m =
                            ClusterMap.decode(reply.getMessage().getContent().toByteArray());
                    if (m.epoch() > lastEpoch) { // an unchanged map would only make the node check its groups again
                        lastEpoch = m.epoch();
                        onMap.accept(m);
                    }
                    warned = false;
                } else if (!warned) {
                    warned = true;
                    LOG.warn(
                            "cannot read the cluster map from the cluster group: {}; retrying every second",
                            reply.getException());
                }
            } catch (IOException | RuntimeException e) {
                if (!warned && !closed) {
                    warned = true;
                    LOG.warn(
                            "cannot read the cluster map from the cluster group: {}; retrying every second",
                            e.toString());
                }
            }
            try {
                Thread.sleep(PERIOD_MILLIS); // a polling period, not a synchronisation
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        try {
            client.close();
        } catch (IOException e) {
            // releasing connections only
        }
    }
}
