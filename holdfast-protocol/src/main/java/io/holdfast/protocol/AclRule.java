package io.holdfast.protocol;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.Objects;

/**
 * One rule of a volume's export ACL: clients whose certificate common name matches
 * {@code identity} and whose address lies in {@code network} get {@code access}.
 *
 * <p>A volume's rules are evaluated in order; the first that matches decides. No match means
 * {@link Access#NONE} (deny by default). The cluster's admin and node certificates are not
 * subject to ACLs.
 *
 * @param identity a common name, where {@code *} matches any run of characters
 *     ({@code mail-*}, {@code *}); 1–255 printable characters
 * @param network an address range in CIDR notation ({@code 10.0.0.0/8}, {@code 127.0.0.1/32},
 *     {@code fd00::/8}), or {@code *} for any address
 * @param access what the rule grants
 */
public record AclRule(String identity, String network, Access access) {
    /** Longest identity pattern, in characters. */
    public static final int MAX_IDENTITY = 255;

    /**
     * Checks the rule.
     *
     * @throws IllegalArgumentException if the pattern is empty, too long or has control
     *     characters, or the network is not CIDR (a scoped address such as {@code fe80::1%eth0}
     *     is not)
     */
    public AclRule {
        Objects.requireNonNull(access, "access");
        if (identity == null
                || identity.isEmpty()
                || identity.length() > MAX_IDENTITY
                || identity.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            throw new IllegalArgumentException("identity pattern must be 1-" + MAX_IDENTITY + " printable characters");
        }
        parseNetwork(network);
    }

    /** Whether a client named {@code name} connecting from {@code address} (an IP literal) matches. */
    public boolean matches(String name, String address) {
        return globMatches(identity, name) && inNetwork(address);
    }

    private boolean inNetwork(String address) {
        if (network.equals("*")) {
            return true;
        }
        InetAddress addr;
        try {
            addr = InetAddress.ofLiteral(address);
        } catch (IllegalArgumentException e) {
            return false;
        }
        Network n = parseNetwork(network);
        byte[] a = addr.getAddress();
        byte[] b = n.base().getAddress();
        if (a.length != b.length) {
            return false;
        }
        int bits = n.prefix();
        for (int i = 0; i < a.length && bits > 0; i++, bits -= 8) {
            int mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
            if ((a[i] & mask) != (b[i] & mask)) {
                return false;
            }
        }
        return true;
    }

    private record Network(InetAddress base, int prefix) {}

    private static Network parseNetwork(String network) {
        if (network == null) {
            throw new IllegalArgumentException("network is required (CIDR such as 10.0.0.0/8, or *)");
        }
        if (network.equals("*")) {
            return null;
        }
        if (network.indexOf('%') >= 0) {
            // A scope names an interface of one host, and whether it exists differs between hosts;
            // a rule must be valid on every node that applies it.
            throw new IllegalArgumentException(
                    "invalid network \"" + network + "\": scoped addresses (%) are not allowed");
        }
        int slash = network.indexOf('/');
        try {
            InetAddress base = InetAddress.ofLiteral(slash < 0 ? network : network.substring(0, slash));
            int max = base instanceof Inet4Address ? 32 : 128;
            int prefix = slash < 0 ? max : Integer.parseInt(network.substring(slash + 1));
            if (prefix < 0 || prefix > max) {
                throw new IllegalArgumentException("prefix length " + prefix + " outside 0.." + max);
            }
            return new Network(base, prefix);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid network \"" + network + "\": expected CIDR such as 10.0.0.0/8,"
                    + " 127.0.0.1/32 or fd00::/8, or * (" + e.getMessage() + ")");
        }
    }

    /** Glob match where '*' matches any run of characters; iterative, linear in practice. */
    static boolean globMatches(String pattern, String s) {
        int p = 0;
        int i = 0;
        int star = -1;
        int mark = 0;
        while (i < s.length()) {
            if (p < pattern.length() && pattern.charAt(p) != '*' && pattern.charAt(p) == s.charAt(i)) {
                p++;
                i++;
            } else if (p < pattern.length() && pattern.charAt(p) == '*') {
                star = p++;
                mark = i;
            } else if (star >= 0) {
                p = star + 1;
                i = ++mark;
            } else {
                return false;
            }
        }
        while (p < pattern.length() && pattern.charAt(p) == '*') {
            p++;
        }
        return p == pattern.length();
    }

    @Override
    public String toString() {
        return identity + " " + network + " " + access.label();
    }
}
