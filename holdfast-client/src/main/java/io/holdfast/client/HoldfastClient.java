package io.holdfast.client;

import io.holdfast.protocol.HoldfastException;
import io.holdfast.protocol.VolumeService;
import java.util.Map;

/**
 * A connection to a Holdfast cluster. Placeholder signature while the Ratis client is being
 * written; see the class {@code RaftVolumeService} once it lands.
 */
public final class HoldfastClient implements AutoCloseable {
  private HoldfastClient() {}

  /**
   * Connects to the cluster that the node at {@code host:port} belongs to.
   *
   * @param env options (see the README); unknown keys are ignored
   * @throws HoldfastException if no node answers
   */
  public static HoldfastClient connect(String host, int port, Map<String, ?> env)
      throws HoldfastException {
    throw new HoldfastException(io.holdfast.protocol.Errno.ENOTSUP, "not yet implemented");
  }

  /**
   * Opens a volume of this cluster.
   *
   * @throws HoldfastException {@link io.holdfast.protocol.Errno#ENOENT} if there is no such volume
   */
  public VolumeService volume(String name) throws HoldfastException {
    throw new HoldfastException(io.holdfast.protocol.Errno.ENOTSUP, "not yet implemented");
  }

  @Override
  public void close() {}
}
