package io.holdfast.protocol;

import static io.holdfast.protocol.Gen.w;
import static io.holdfast.protocol.Gen.weighted;

import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;

/** Arbitraries of what the cluster formats carry besides plain strings: ACL rules. */
final class ClusterValues {
    private ClusterValues() {}

    /** Whether {@link AclRule} accepts {@code network}. */
    static boolean acceptedNetwork(String network) {
        try {
            new AclRule("x", network, Access.NONE);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static String hexGroups(List<Integer> groups) {
        return groups.stream().map(Integer::toHexString).collect(Collectors.joining(":"));
    }

    /** Networks {@link AclRule} accepts: {@code *}, IPv4 and IPv6 addresses, with or without a prefix. */
    static Arbitrary<String> networks() {
        Arbitrary<Integer> octet = Arbitraries.integers().between(0, 255);
        Arbitrary<Integer> group = Arbitraries.integers().between(0, 0xffff);
        Arbitrary<String> v4 =
                Combinators.combine(octet, octet, octet, octet).as((a, b, c, d) -> a + "." + b + "." + c + "." + d);
        Arbitrary<String> v6full = group.list().ofSize(8).map(ClusterValues::hexGroups);
        Arbitrary<String> v6short = Combinators.combine(
                        group.list().ofMaxSize(3), group.list().ofMaxSize(3))
                .as((a, b) -> hexGroups(a) + "::" + hexGroups(b));
        Arbitrary<String> v6 = weighted(w(1, v6full), w(2, v6short));
        Arbitrary<String> prefixed4 =
                Combinators.combine(v4, Arbitraries.integers().between(0, 32)).as((a, p) -> a + "/" + p);
        Arbitrary<String> prefixed6 =
                Combinators.combine(v6, Arbitraries.integers().between(0, 128)).as((a, p) -> a + "/" + p);
        return weighted(w(1, Arbitraries.just("*")), w(3, prefixed4), w(1, v4), w(3, prefixed6), w(1, v6))
                .filter(ClusterValues::acceptedNetwork);
    }

    private static String printable(String s) {
        return s.replaceAll("[\\x00-\\x1f\\x7f]", "_");
    }

    /**
     * Identity patterns {@link AclRule} accepts: 1 to 255 printable UTF-16 units; any units
     * (lone surrogates too) when {@code anyUnits}, else valid UTF-16 only.
     */
    static Arbitrary<String> identities(boolean anyUnits) {
        Arbitrary<String> some = anyUnits
                ? Gen.anyChars(40).map(ClusterValues::printable)
                : Gen.codePoints().list().ofMaxSize(40).map(cps -> {
                    StringBuilder sb = new StringBuilder();
                    cps.forEach(sb::appendCodePoint);
                    return printable(sb.toString());
                });
        Arbitrary<String> longest = Arbitraries.longs().map(seed -> {
            Random r = new Random(seed);
            StringBuilder sb = new StringBuilder();
            while (sb.length() < AclRule.MAX_IDENTITY) {
                int cp = r.nextBoolean() ? 'a' + r.nextInt(26) : 0x100 + r.nextInt(0xd000);
                sb.appendCodePoint(cp);
            }
            return sb.toString();
        });
        return weighted(
                w(9, some.filter(s -> !s.isEmpty()).map(s -> s.length() > 255 ? s.substring(0, 255) : s)),
                w(1, longest),
                w(1, Arbitraries.of("*", "mail-*", "admin")));
    }

    /** ACL rules {@link AclRule} accepts. */
    static Arbitrary<AclRule> aclRules(boolean anyUnits) {
        return Combinators.combine(identities(anyUnits), networks(), Arbitraries.of(Access.class))
                .as(AclRule::new);
    }

    /** A small valid rule from a seeded random, for long lists. */
    static AclRule randomRule(Random r) {
        return new AclRule(
                "client-" + r.nextInt(1000) + "*",
                "10." + r.nextInt(256) + ".0.0/16",
                Access.values()[r.nextInt(Access.values().length)]);
    }
}
