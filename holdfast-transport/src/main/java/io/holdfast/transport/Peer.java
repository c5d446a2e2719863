package io.holdfast.transport;

import java.security.cert.X509Certificate;
import java.util.Objects;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/**
 * Who is on the other end of a connection, as a node authenticated it.
 *
 * @param name the certificate's common name (CN); "anonymous" without a certificate
 * @param role what the certificate allows
 * @param address the remote IP address as text (no port), or "" if unknown
 */
public record Peer(String name, Role role, String address) {
    /** Longest name accepted, in characters. */
    public static final int MAX_NAME = 255;

    public Peer {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(address, "address");
        if (name.isEmpty() || name.length() > MAX_NAME) {
            throw new IllegalArgumentException("peer name must be 1.." + MAX_NAME + " characters");
        }
    }

    /** The peer of an unauthenticated (insecure) connection. */
    public static Peer anonymous(String address) {
        return new Peer("anonymous", Role.ANONYMOUS, address);
    }

    /**
     * The identity a certificate carries: its subject's CN and OU.
     *
     * @throws IllegalArgumentException if the subject lacks a CN or a Holdfast role
     */
    public static Peer of(X509Certificate cert, String address) {
        String cn = null;
        String ou = null;
        try {
            for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    cn = rdn.getValue().toString();
                } else if (rdn.getType().equalsIgnoreCase("OU")) {
                    ou = rdn.getValue().toString();
                }
            }
        } catch (InvalidNameException e) {
            throw new IllegalArgumentException("unparsable certificate subject", e);
        }
        if (cn == null || cn.isEmpty()) {
            throw new IllegalArgumentException("certificate subject has no common name (CN)");
        }
        return new Peer(cn, Role.ofUnit(ou), address);
    }

    @Override
    public String toString() {
        return role.unit() + " \"" + name + "\"" + (address.isEmpty() ? "" : " from " + address);
    }
}
