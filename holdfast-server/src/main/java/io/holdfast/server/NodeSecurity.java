package io.holdfast.server;

import io.holdfast.transport.TlsFiles;
import io.holdfast.transport.TransportSecurity;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * How a node protects its port, and paces what arrives on it.
 *
 * @param transport mutual TLS 1.3 with the node's certificate ({@code DATA/tls/node.crt}), or
 *     plaintext when started with {@code --insecure}
 * @param maxConnectionsPerClient most connections one client identity (certificate name, or
 *     address without TLS) may hold to this node; nodes are exempt (default 128)
 * @param maxConnections most client connections the node accepts in total (default 1024);
 *     connections from nodes count towards it but are never refused
 * @param requiredFeatures handshake features every client must offer (default
 *     {@code checksum=crc32c})
 * @param catchUpBytesPerSecond the most snapshot bytes per second this node takes in while a
 *     member of it catches up from a leader's snapshot (default {@link #DEFAULT_CATCH_UP_RATE}),
 *     so that a new or long-absent member does not starve the foreground
 * @param diskReserveBytes free bytes a leader keeps on its data directory's file system: past
 *     it, writes get ENOSPC (default {@link #DEFAULT_DISK_RESERVE}); see {@code DiskReserve}
 */
public record NodeSecurity(TransportSecurity transport, int maxConnectionsPerClient, int maxConnections,
    List<String> requiredFeatures, long catchUpBytesPerSecond, long diskReserveBytes) {
  /** Default {@link #diskReserveBytes}: 256 MiB. */
  public static final long DEFAULT_DISK_RESERVE = 256L << 20;
  /**
   * Default {@link #catchUpBytesPerSecond}: 8 MiB/s. The catch-up bench (1 GiB, three nodes and
   * the new member on two shared cores) kept the foreground p99 within 2x of normal at 8 MiB/s
   * (1.87x) and not at 16 or 32 (2.1-4x); a 1 GiB brick then takes about 4.5 minutes (the
   * transfer and the restore each at this rate).
   */
  public static final long DEFAULT_CATCH_UP_RATE = 8L << 20;
  /** Default {@link #maxConnectionsPerClient}. */
  public static final int DEFAULT_PER_CLIENT = 128;
  /** Default {@link #maxConnections}. */
  public static final int DEFAULT_TOTAL = 1024;
  /** Default {@link #requiredFeatures}. */
  public static final List<String> DEFAULT_REQUIRED = List.of("checksum=crc32c");

  public NodeSecurity {
    Objects.requireNonNull(transport, "transport");
    requiredFeatures = List.copyOf(requiredFeatures);
    if (maxConnectionsPerClient < 1 || maxConnections < 1) {
      throw new IllegalArgumentException("connection limits must be positive");
    }
    if (diskReserveBytes < 0) {
      throw new IllegalArgumentException("the disk reserve must not be negative, got " + diskReserveBytes);
    }
    if (catchUpBytesPerSecond < 1) {
      throw new IllegalArgumentException("the catch-up rate must be positive, got " + catchUpBytesPerSecond);
    }
  }

  /** The directory of a node's TLS material: {@code DATA/tls}. */
  public static Path tlsDirectory(Path dataDir) {
    return dataDir.resolve("tls");
  }

  /**
   * Mutual TLS with the material in {@code DATA/tls} and default limits.
   *
   * @throws IOException if {@code ca.crt}, {@code node.crt} or {@code node.key} is missing or
   *     unusable (the message says which and how to issue them)
   */
  public static NodeSecurity tls(Path dataDir) throws IOException {
    Path dir = tlsDirectory(dataDir);
    try {
      return new NodeSecurity(TransportSecurity.tls(TlsFiles.load(dir, "node")), DEFAULT_PER_CLIENT, DEFAULT_TOTAL, DEFAULT_REQUIRED,
          DEFAULT_CATCH_UP_RATE, DEFAULT_DISK_RESERVE);
    } catch (IOException e) {
      throw new IOException("cannot start with TLS: " + e.getMessage()
          + ". Issue this node's certificate with 'holdfast cert node HOST:PORT --data " + dataDir
          + "' on the machine that holds the cluster CA (or run with --insecure, plaintext)", e);
    }
  }

  /** Plaintext with default limits (only with {@code --insecure}). */
  public static NodeSecurity plaintext() {
    return new NodeSecurity(TransportSecurity.plaintext(), DEFAULT_PER_CLIENT, DEFAULT_TOTAL, DEFAULT_REQUIRED,
        DEFAULT_CATCH_UP_RATE, DEFAULT_DISK_RESERVE);
  }

  /** These settings with other connection limits. */
  public NodeSecurity withLimits(int perClient, int total) {
    return new NodeSecurity(transport, perClient, total, requiredFeatures, catchUpBytesPerSecond, diskReserveBytes);
  }

  /** These settings with other required features. */
  public NodeSecurity withRequired(List<String> features) {
    return new NodeSecurity(transport, maxConnectionsPerClient, maxConnections, features, catchUpBytesPerSecond,
        diskReserveBytes);
  }

  /** These settings with another catch-up rate, in bytes per second. */
  public NodeSecurity withCatchUpRate(long bytesPerSecond) {
    return new NodeSecurity(transport, maxConnectionsPerClient, maxConnections, requiredFeatures, bytesPerSecond,
        diskReserveBytes);
  }

  /** These settings with another disk reserve, in bytes. */
  public NodeSecurity withDiskReserve(long bytes) {
    return new NodeSecurity(transport, maxConnectionsPerClient, maxConnections, requiredFeatures, catchUpBytesPerSecond,
        bytes);
  }
}
