package io.holdfast.client.security;

import java.util.Locale;

/**
 * What a certificate lets its holder do; carried in the certificate subject's organizational
 * unit ({@code OU=node}, {@code OU=admin}, {@code OU=client}).
 */
public enum Role {
  /** A cluster node: may speak the node-to-node Raft protocol and has full access. */
  NODE,
  /** The cluster administrator: full access to every volume and to cluster commands. */
  ADMIN,
  /** A client: access to volumes as their export ACLs grant it. */
  CLIENT,
  /**
   * A peer of a node started with {@code --insecure}: no certificate, so no identity; it is
   * treated as an administrator, because without authentication nothing can be enforced.
   */
  ANONYMOUS;

  /** The organizational unit that names this role in a certificate. */
  public String unit() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Full access (every volume read-write, cluster commands allowed). */
  public boolean privileged() {
    return this != CLIENT;
  }

  /**
   * The role named by a certificate's organizational unit.
   *
   * @throws IllegalArgumentException if {@code unit} is not node, admin or client
   */
  public static Role ofUnit(String unit) {
    return switch (unit == null ? "" : unit) {
      case "node" -> NODE;
      case "admin" -> ADMIN;
      case "client" -> CLIENT;
      default -> throw new IllegalArgumentException("certificate has no Holdfast role (OU=node, admin or client), found OU=" + unit);
    };
  }
}
