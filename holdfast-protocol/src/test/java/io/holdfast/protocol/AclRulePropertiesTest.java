package io.holdfast.protocol;

import static io.holdfast.protocol.Gen.w;
import static io.holdfast.protocol.Gen.weighted;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

/**
 * The parsers behind ACL rules, which the cluster decoders run on every rule they read: the
 * {@link AclRule} constructor (identity pattern and CIDR network) and {@link Access#parse}.
 */
class AclRulePropertiesTest {

    @Provide
    Arbitrary<String> identityCandidates() {
        return weighted(
                w(4, ClusterValues.identities(true)),
                w(2, Gen.anyChars(20)),
                w(
                        1,
                        Arbitraries.strings()
                                .withChars("a*\u0000\u001f\u007f\u0080 ")
                                .ofMaxLength(10)),
                w(1, Arbitraries.integers().between(254, 257).map("i"::repeat)),
                w(1, Arbitraries.just((String) null)));
    }

    @Provide
    Arbitrary<String> networkCandidates() {
        Arbitrary<String> chaos =
                Arbitraries.strings().withChars("0123456789abcdef:./%*[]- ").ofMaxLength(24);
        Arbitrary<String> mangled = Combinators.combine(
                        ClusterValues.networks(), Arbitraries.of("", "/", "/-1", "/33", "/129", "%1", "/08", "x", " "))
                .as(String::concat);
        return weighted(
                w(4, ClusterValues.networks()),
                w(3, chaos),
                w(2, mangled),
                w(1, Arbitraries.of("*", "**", "", "/8", "::ffff:10.0.0.1/96", "1.2.3/24", "010.0.0.1/8", "[::1]/128")),
                w(1, Arbitraries.just((String) null)));
    }

    @Property(tries = 3000)
    void theConstructorAcceptsValidRulesAndThrowsNothingButIllegalArgument(
            @ForAll("identityCandidates") String identity,
            @ForAll("networkCandidates") String network,
            @ForAll Access access) {
        AclRule rule;
        try {
            rule = new AclRule(identity, network, access);
        } catch (IllegalArgumentException e) {
            Statistics.label("outcome").collect("refused");
            return;
        } catch (RuntimeException e) {
            throw new AssertionError(
                    "AclRule threw " + e + " for identity " + Show.show(identity) + ", network " + Show.show(network),
                    e);
        }
        Statistics.label("outcome").collect("accepted");
        boolean printable = !identity.isEmpty()
                && identity.length() <= AclRule.MAX_IDENTITY
                && identity.chars().noneMatch(c -> c < 0x20 || c == 0x7f);
        assertThat(printable).as("accepted identity %s", Show.show(identity)).isTrue();
        assertThat(network.equals("*") || network.matches("[0-9a-fA-F:.\\[\\]]+(/[0-9]+)?"))
                .as("accepted network %s", Show.show(network))
                .isTrue();
    }

    /**
     * Every member of a replica group must judge a rule alike, or a replicated ACL change applies
     * on some members and fails on others: a rule, and a decoded map or command carrying it, must
     * not be valid on hosts that happen to have a certain network interface and invalid elsewhere.
     */
    @Example
    void networksAreJudgedAlikeOnEveryHost() throws SocketException {
        List<String> interfaces = NetworkInterface.networkInterfaces()
                .map(NetworkInterface::getName)
                .toList();
        assertThat(interfaces).isNotEmpty();
        String elsewhere = "fe80::1%no-such-if0/64";
        for (String name : interfaces) {
            String network = "fe80::1%" + name + "/64";
            assertThat(ClusterValues.acceptedNetwork(network))
                    .as("verdict on %s", network)
                    .isEqualTo(ClusterValues.acceptedNetwork(elsewhere));
            assertThat(decodes(() -> ClusterMap.decode(mapWithRuleOn(network))))
                    .as("decoding a cluster map with a rule on %s", network)
                    .isEqualTo(decodes(() -> ClusterMap.decode(mapWithRuleOn(elsewhere))));
            assertThat(decodes(() -> ClusterCommand.decode(commandWithRuleOn(network))))
                    .as("decoding a command adding a rule on %s", network)
                    .isEqualTo(decodes(() -> ClusterCommand.decode(commandWithRuleOn(elsewhere))));
        }
    }

    /** A decoder call, for {@link #decodes}. */
    private interface Decoding {
        Object run() throws ProtocolException;
    }

    private static boolean decodes(Decoding d) {
        try {
            d.run();
            return true;
        } catch (ProtocolException e) {
            return false;
        }
    }

    /** An encoded cluster map with one volume whose one rule has {@code network}, unchecked. */
    private static byte[] mapWithRuleOn(String network) {
        byte[] n = network.getBytes(StandardCharsets.UTF_8);
        WireWriter w = new WireWriter()
                .raw(ReferenceClusterWire.MAP_HEADER)
                .i64(1)
                .i64(1)
                .i64(1)
                .i32(0); // no nodes
        w.i32(1).u16(1).raw(new byte[] {'v'}).i64(2).i64(2).i32(0).i64(3); // volume "v", no replicas
        w.i32(1).u16(1).raw(new byte[] {'*'}).u16(n.length).raw(n).u8(Access.READ_ONLY.ordinal());
        return w.finish(true).bytes();
    }

    /** An encoded command adding a rule with {@code network} to volume "v", unchecked. */
    private static byte[] commandWithRuleOn(String network) {
        byte[] n = network.getBytes(StandardCharsets.US_ASCII);
        WireWriter w = new WireWriter().raw(ReferenceClusterWire.COMMAND_HEADER).u8(3);
        w.u16(1)
                .raw(new byte[] {'v'})
                .u16(1)
                .raw(new byte[] {'*'})
                .u16(n.length)
                .raw(n)
                .u8(Access.READ_ONLY.ordinal());
        return w.finish(false).bytes();
    }

    @Provide
    Arbitrary<String> accessSpellings() {
        return weighted(
                w(3, Arbitraries.of("none", "ro", "rw", "read-only", "read-write")),
                w(2, Arbitraries.strings().withChars("nonerwadly-RO").ofMaxLength(10)),
                w(1, Arbitraries.of("", "NONE", "Ro", "rw ", "readonly")));
    }

    @Property(tries = 500)
    void accessParseKnowsExactlyTheCliSpellings(@ForAll("accessSpellings") String s) {
        Access expected = switch (s) {
            case "none" -> Access.NONE;
            case "ro", "read-only" -> Access.READ_ONLY;
            case "rw", "read-write" -> Access.READ_WRITE;
            default -> null;
        };
        Statistics.label("outcome").collect(expected == null ? "refused" : "accepted");
        if (expected == null) {
            assertThatThrownBy(() -> Access.parse(s)).isExactlyInstanceOf(IllegalArgumentException.class);
        } else {
            assertThat(Access.parse(s)).isEqualTo(expected);
            assertThat(Access.parse(expected.label())).isEqualTo(expected);
        }
    }
}
