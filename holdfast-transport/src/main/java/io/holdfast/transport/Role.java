package io.holdfast.transport;

import io.holdfast.common.WireCode;
import io.holdfast.common.WireCodes;
import java.util.Locale;

/**
 * What a certificate lets its holder do; carried in the certificate subject's organizational
 * unit ({@code OU=node}, {@code OU=admin}, {@code OU=client}). Wire codes (in the caller
 * envelope) are stable: never renumber.
 */
public enum Role implements WireCode {
    /** A cluster node: may speak the node-to-node Raft protocol and has full access. */
    NODE(0),
    /** The cluster administrator: full access to every volume and to cluster commands. */
    ADMIN(1),
    /** A client: access to volumes as their export ACLs grant it. */
    CLIENT(2),
    /**
     * A peer of a node started with {@code --insecure}: no certificate, so no identity; it is
     * treated as an administrator, because without authentication nothing can be enforced.
     */
    ANONYMOUS(3);

    private static final WireCodes<Role> CODES = WireCodes.of(Role.class, "role");

    private final int code;

    Role(int code) {
        this.code = code;
    }

    /** The wire code. */
    @Override
    public int code() {
        return code;
    }

    /**
     * The role with a wire code.
     *
     * @throws IllegalArgumentException for an unknown code
     */
    public static Role fromCode(int code) {
        return CODES.fromCode(code);
    }

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
            default ->
                throw new IllegalArgumentException(
                        "certificate has no Holdfast role (OU=node, admin or client), found OU=" + unit);
        };
    }
}
