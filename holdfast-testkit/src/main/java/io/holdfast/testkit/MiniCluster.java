package io.holdfast.testkit;

import io.holdfast.client.HoldfastClient;
import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import io.holdfast.server.AdminOptions;
import io.holdfast.server.CertificateAuthority;
import io.holdfast.server.HoldfastNode;
import io.holdfast.server.NodeConfig;
import io.holdfast.server.NodeSecurity;
import io.holdfast.server.ScrubSettings;
import io.holdfast.transport.Role;
import io.holdfast.transport.TlsFiles;
import io.holdfast.transport.TransportSecurity;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;

/**
 * An in-JVM cluster of Holdfast nodes on loopback ports, for tests: start, stop and restart
 * nodes, create volumes, and wait for members to converge.
 *
 * <p>{@link #stop} closes a node's Ratis server (its sockets go away at once, like a crashed
 * process, but buffered log writes are flushed); {@link #restart} starts it again on the same
 * data directory. Not thread-safe: drive it from the test thread.
 *
 * <p>Secure by default, like a real cluster: {@link #start} creates a cluster CA under
 * {@code root/ca}, a node certificate per node ({@code root/nodeN/tls}) and an admin client
 * certificate ({@code root/admin-tls}), which {@link #client()} uses. {@link #clientEnv} gives
 * the options for other clients; {@link #issueClient} issues more identities.
 *
 * <p>Each node serves its admin HTTP port (metrics, status page) on an ephemeral loopback
 * port, so clusters never collide with each other or with real nodes: {@link #adminUri}.
 */
public final class MiniCluster implements AutoCloseable {
  private final Map<Integer, Integer> maxLogFormats = new java.util.concurrent.ConcurrentHashMap<>();
  private final Path root;
  private final UUID clusterId = UUID.randomUUID();
  private final List<String> addresses;
  private final List<String> peers;
  /**
   * Disk reserve of test nodes: 16 MiB, not the production 256 MiB, so the tests' small volumes
   * run on a machine whose disk is nearly full (tweak it with {@link #tweakSecurity}).
   */
  public static final long TEST_DISK_RESERVE = 16L << 20;
  private final HoldfastNode[] nodes;
  private final long snapshotThreshold;
  private final CertificateAuthority ca;
  private UnaryOperator<NodeSecurity> securityTweak = UnaryOperator.identity();
  private ScrubSettings scrub = ScrubSettings.DEFAULT;
  private HoldfastClient client;

  private MiniCluster(Path root, int size, int spares, long snapshotThreshold, boolean tls) throws IOException {
    if (size < 1 || size + spares > 9 || spares < 0) {
      throw new IllegalArgumentException("cluster size must be 1..9 with spares, got " + size + " + " + spares);
    }
    this.root = root;
    this.snapshotThreshold = snapshotThreshold;
    this.addresses = io.holdfast.server.LoopbackAddresses.free(size + spares);
    this.peers = addresses.subList(0, size);
    this.nodes = new HoldfastNode[size + spares];
    if (tls) {
      this.ca = CertificateAuthority.create(root.resolve("ca"), clusterId.toString());
      for (int i = 0; i < size + spares; i++) {
        ca.issue(addresses.get(i), Role.NODE, List.of("127.0.0.1")).writeTo(NodeSecurity.tlsDirectory(dataDir(i)));
      }
      issueClient("admin", Role.ADMIN);
    } else {
      this.ca = null;
    }
  }

  /**
   * Starts {@code size} nodes under {@code root} with mutual TLS.
   *
   * @param snapshotThreshold entries between automatic snapshots
   */
  public static MiniCluster start(Path root, int size, long snapshotThreshold) throws IOException {
    return start(root, size, snapshotThreshold, true);
  }

  /**
   * Starts {@code size} nodes under {@code root}, plaintext unless {@code tls}.
   *
   * @param snapshotThreshold entries between automatic snapshots
   */
  public static MiniCluster start(Path root, int size, long snapshotThreshold, boolean tls) throws IOException {
    return start(root, size, 0, snapshotThreshold, tls);
  }

  /**
   * Starts {@code size} nodes under {@code root}, plaintext unless {@code tls}, and
   * {@code spares} more nodes (indexes {@code size..}) configured for the cluster but not in
   * it: they join when the admin adds them ({@link HoldfastClient#admin()}'s {@code addNode}).
   *
   * @param snapshotThreshold entries between automatic snapshots
   */
  public static MiniCluster start(Path root, int size, int spares, long snapshotThreshold, boolean tls) throws IOException {
    MiniCluster c = new MiniCluster(root, size, spares, snapshotThreshold, tls);
    try {
      for (int i = 0; i < size + spares; i++) {
        c.restart(i);
      }
    } catch (IOException | RuntimeException e) {
      c.close();
      throw e;
    }
    return c;
  }


  /** The cluster CA (null for a plaintext cluster). */
  public CertificateAuthority ca() {
    return ca;
  }

  /** Changes the security settings of nodes (re)started from now on, e.g. connection limits. */
  public void tweakSecurity(UnaryOperator<NodeSecurity> tweak) {
    this.securityTweak = tweak;
  }

  /** Changes the scrub settings of nodes (re)started from now on (default {@link ScrubSettings#DEFAULT}). */
  public void scrubSettings(ScrubSettings settings) {
    this.scrub = java.util.Objects.requireNonNull(settings, "settings");
  }

  /**
   * Issues a client certificate valid from now for a year into {@code root/tls-NAME}.
   *
   * @return the directory, for {@link #clientEnv(Path)}
   */
  public Path issueClient(String name, Role role) throws IOException {
    Path dir = root.resolve("tls-" + name);
    ca.issue(name, role, List.of()).writeTo(dir);
    return dir;
  }

  /**
   * The admin's transport security, for tests that build their own Raft clients (plaintext
   * for a plaintext cluster).
   */
  public TransportSecurity adminSecurity() throws IOException {
    return ca == null ? TransportSecurity.plaintext() : TransportSecurity.tls(TlsFiles.load(root.resolve("tls-admin"), "client"));
  }

  /** Client options for the admin identity (or plaintext for a plaintext cluster). */
  public Map<String, Object> clientEnv() {
    return ca == null ? clientEnv(null) : clientEnv(root.resolve("tls-admin"));
  }

  /** Client options for the identity in {@code tlsDir} (null: plaintext). */
  public Map<String, Object> clientEnv(Path tlsDir) {
    Map<String, Object> env = new java.util.HashMap<>();
    env.put("holdfast.deadline", Duration.ofSeconds(60));
    if (tlsDir == null) {
      env.put(TransportSecurity.INSECURE_OPTION, true);
    } else {
      env.put(TransportSecurity.TLS_OPTION, tlsDir);
    }
    return env;
  }

  /** Node {@code i}'s configuration, as it is started with (e.g. to run it as a process instead). */
  public NodeConfig config(int i) {
    return new NodeConfig(dataDir(i), addresses.get(i), peers, clusterId, snapshotThreshold)
        .withMaxLogFormat(maxLogFormats.getOrDefault(i, io.holdfast.protocol.LogFormat.MAX));
  }

  /**
   * Makes node {@code i} read, advertise and log at most log format {@code max} from its next
   * (re)start on: it then behaves as a node running older code would (rolling-upgrade tests).
   */
  public void maxLogFormat(int i, int max) {
    maxLogFormats.put(i, max);
  }

  /** Node addresses, in configuration order, the spares last. */
  public List<String> addresses() {
    return addresses;
  }

  /** The data directory of node {@code i}. */
  public Path dataDir(int i) {
    return root.resolve("node" + i);
  }

  /** Node {@code i}, or null while stopped. */
  public HoldfastNode node(int i) {
    return nodes[i];
  }

  /** Stops node {@code i} (no-op if stopped). */
  public void stop(int i) throws IOException {
    if (nodes[i] != null) {
      nodes[i].close();
      nodes[i] = null;
    }
  }

  /** Starts node {@code i} on its data directory (stopping it first if running). */
  public void restart(int i) throws IOException {
    stop(i);
    Files.createDirectories(dataDir(i));
    NodeSecurity security = (ca == null ? NodeSecurity.plaintext() : NodeSecurity.tls(dataDir(i)))
        .withDiskReserve(TEST_DISK_RESERVE);
    nodes[i] = HoldfastNode.start(config(i), securityTweak.apply(security), AdminOptions.at("127.0.0.1", 0),
        java.time.InstantSource.system(), scrub);
  }

  /**
   * The base address of node {@code i}'s admin port, e.g. {@code http://127.0.0.1:40123/}.
   *
   * @throws IllegalStateException if the node is stopped
   */
  public java.net.URI adminUri(int i) {
    if (nodes[i] == null) {
      throw new IllegalStateException("node " + i + " is stopped");
    }
    return nodes[i].adminUri().orElseThrow();
  }

  /** A client connected through the first running node; shared, closed with the cluster. */
  public HoldfastClient client() throws HoldfastException {
    if (client == null) {
      for (int i = 0; i < nodes.length; i++) {
        if (nodes[i] != null) {
          String a = addresses.get(i);
          int colon = a.lastIndexOf(':');
          HoldfastClient c = awaitValue(Duration.ofSeconds(30), () -> {
            try {
              return Optional.of(HoldfastClient.connect(a.substring(0, colon), Integer.parseInt(a.substring(colon + 1)),
                  clientEnv()));
            } catch (HoldfastException e) {
              return Optional.empty();
            }
          }, "client connects to " + a);
          client = c;
          break;
        }
      }
    }
    if (client == null) {
      throw new HoldfastException(Errno.EIO, "no node is running");
    }
    return client;
  }

  /**
   * Creates a volume on the given node indexes and waits until its replica group answers.
   */
  public VolumeService createVolume(String name, int... replicaIndexes) throws IOException {
    List<String> replicas = Arrays.stream(replicaIndexes).mapToObj(addresses::get).toList();
    HoldfastClient c = client();
    await(Duration.ofSeconds(30), () -> {
      try {
        c.admin().createVolume(name, replicas);
        return true;
      } catch (HoldfastException e) {
        if (e.errno() == Errno.EEXIST) {
          return true;
        }
        return false;
      }
    }, "volume " + name + " created");
    VolumeService v = c.volume(name);
    await(Duration.ofSeconds(60), () -> {
      try {
        return v.query(new Request.GetAttr("/", false)).get(10, TimeUnit.SECONDS) instanceof Response.AttrReply;
      } catch (Exception e) {
        return false;
      }
    }, "volume " + name + " answers");
    return v;
  }

  /**
   * Waits until every member of the volume's group reports the same digest at the same applied
   * index, and returns that digest.
   *
   * @throws AssertionError if they do not converge within {@code timeout}
   */
  public Response.Digest awaitConvergence(String volume, Duration timeout) throws IOException {
    HoldfastClient c = client();
    Response.Digest[] last = new Response.Digest[1];
    StringBuilder seen = new StringBuilder();
    try {
      await(timeout, () -> {
      try {
        Map<String, Response> d = c.probe().memberDigests(volume);
        seen.setLength(0);
        seen.append(d);
        Response first = null;
        for (Response r : d.values()) {
          if (!(r instanceof Response.Digest)) {
            return false;
          }
          if (first != null && !first.equals(r)) {
            return false;
          }
          first = r;
        }
        last[0] = (Response.Digest) first;
        return first != null;
      } catch (HoldfastException e) {
        seen.setLength(0);
        seen.append(e);
        return false;
      }
      }, "members of " + volume + " converge");
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; last seen: " + seen, e);
    }
    return last[0];
  }

  /** The cluster map as the cluster group sees it now. */
  public ClusterMap map() throws HoldfastException {
    return client().refreshMap();
  }

  /**
   * Polls {@code condition} until it holds. Polling is how a test waits for replicas to
   * converge: there is no event to wait on across processes.
   *
   * @throws AssertionError naming {@code what} if it does not hold within {@code timeout}
   */
  public static void await(Duration timeout, BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + timeout.toNanos();
    long pauseMillis = 10;
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("timed out after " + timeout + " waiting until " + what);
      }
      try {
        Thread.sleep(pauseMillis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting until " + what);
      }
      pauseMillis = Math.min(200, pauseMillis * 2);
    }
  }

  /** Polls {@code s} until it yields a value; fails the test after {@code timeout}. */
  public static <T> T awaitValue(Duration timeout, java.util.function.Supplier<Optional<T>> s, String what) {
    @SuppressWarnings("unchecked")
    T[] box = (T[]) new Object[1];
    await(timeout, () -> {
      Optional<T> v = s.get();
      v.ifPresent(x -> box[0] = x);
      return v.isPresent();
    }, what);
    return box[0];
  }

  /** Stops every node and deletes nothing (the caller owns {@code root}). */
  @Override
  public void close() throws IOException {
    if (client != null) {
      client.close();
    }
    IOException first = null;
    for (int i = 0; i < nodes.length; i++) {
      try {
        stop(i);
      } catch (IOException e) {
        if (first == null) {
          first = e;
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

}
