package io.holdfast.protocol;

import static io.holdfast.protocol.Gen.w;
import static io.holdfast.protocol.Gen.weighted;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;

/** {@link ClusterCommand#decode} against the reference model of cluster commands. */
class ClusterCommandDecoderTest extends DecoderProperties<ClusterCommand> {
    @Override
    ClusterCommand decode(byte[] bytes) throws ProtocolException {
        return ClusterCommand.decode(bytes);
    }

    @Override
    byte[] encode(ClusterCommand value) {
        return ClusterCommand.encode(value);
    }

    @Override
    WireWriter.Encoding reference(ClusterCommand value) {
        return ReferenceClusterWire.encode(value);
    }

    @Override
    int maxBytes() {
        return ClusterCommand.MAX_BYTES;
    }

    @Override
    byte[] header() {
        return ReferenceClusterWire.COMMAND_HEADER;
    }

    @Override
    boolean sealed() {
        return false;
    }

    @Override
    List<Integer> kinds() {
        return List.of(1, 2, 3, 4, 5, 6, 7, 8);
    }

    @Override
    Set<String> variants() {
        return permittedRecords(ClusterCommand.class);
    }

    @Override
    List<ClusterCommand> examples() {
        AclRule rule = new AclRule("mail-*", "10.0.0.0/8", Access.READ_ONLY);
        return List.of(
                new ClusterCommand.GetMap(),
                new ClusterCommand.CreateVolume("vol-1", List.of("node-a:9860", "node-b:9860")),
                new ClusterCommand.AddAclRule("vol-1", rule),
                new ClusterCommand.RemoveAclRule("vol-1", rule),
                new ClusterCommand.Hello(
                        1, 2, List.of("checksum=crc32c", "identity=x509"), List.of("checksum=crc32c"), "client"),
                new ClusterCommand.AddNode("node-d:9860"),
                new ClusterCommand.RemoveNode("node-d:9860"),
                new ClusterCommand.ReplaceReplica("vol-1", "node-c:9860", "node-d:9860", false),
                new ClusterCommand.ReplaceReplica("vol-1", "node-c:9860", "node-d:9860", true),
                new ClusterCommand.AdvertiseNode("node-d:9860", 1, 2, "0.1.0"),
                new ClusterCommand.PutGeorepSession("mail-dr", "vol-1", "/srv/dr/mail", 30_000),
                new ClusterCommand.RemoveGeorepSession("mail-dr"),
                new ClusterCommand.GeorepProgress("mail-dr", 1234, 1_765_000_000_000_000_000L));
    }

    @Override
    Arbitrary<ClusterCommand> values() {
        return commands(Gen.VALID);
    }

    @Override
    Arbitrary<ClusterCommand> stretchedValues() {
        return commands(Gen.STRETCHED);
    }

    /**
     * Cluster commands of every kind. Strings are any UTF-16 strings, NUL and lone surrogates
     * included, since modified UTF-8 carries them all; ACL rules are ones {@link AclRule} accepts.
     * When stretched, lists are around their limits and some names bring the command to around
     * {@link ClusterCommand#MAX_BYTES}.
     */
    private static Arbitrary<ClusterCommand> commands(Gen g) {
        Arbitrary<String> name = Gen.anyChars(40);
        Arbitrary<List<String>> replicas = g.list(
                Gen.anyChars(40),
                r -> "node-" + r.nextInt(1000) + ":" + (1 + r.nextInt(65535)),
                ReferenceClusterWire.MAX_COMMAND_REPLICAS);
        Arbitrary<ClusterCommand> create = Combinators.combine(name, replicas).as(ClusterCommand.CreateVolume::new);
        Arbitrary<AclRule> rules = ClusterValues.aclRules(true);
        Arbitrary<ClusterCommand> addRule = Combinators.combine(name, rules).as(ClusterCommand.AddAclRule::new);
        Arbitrary<ClusterCommand> removeRule = Combinators.combine(name, rules).as(ClusterCommand.RemoveAclRule::new);
        Arbitrary<List<String>> features = g.list(
                Gen.anyChars(30), r -> "feature-" + r.nextInt(100) + "=" + r.nextInt(10), ClusterCommand.MAX_FEATURES);
        Arbitrary<ClusterCommand> hello = Combinators.combine(
                        Arbitraries.integers(), Arbitraries.integers(), features, features, Gen.anyChars(60))
                .as(ClusterCommand.Hello::new);
        Arbitrary<ClusterCommand> huge = Combinators.combine(
                        Arbitraries.integers().between(ClusterCommand.MAX_BYTES - 16, 0xffff), Arbitraries.longs())
                .as((n, seed) -> new ClusterCommand.CreateVolume(
                        "v".repeat(n - 1) + (char) ('a' + new Random(seed).nextInt(26)), List.of()));
        Arbitrary<ClusterCommand> getMap = Arbitraries.create(ClusterCommand.GetMap::new);
        Arbitrary<ClusterCommand> addNode = name.map(ClusterCommand.AddNode::new);
        Arbitrary<ClusterCommand> removeNode = name.map(ClusterCommand.RemoveNode::new);
        Arbitrary<ClusterCommand> replace = Combinators.combine(name, name, name, Arbitraries.of(true, false))
                .as(ClusterCommand.ReplaceReplica::new);
        Arbitrary<ClusterCommand> advertise = Combinators.combine(
                        name,
                        Arbitraries.integers().between(1, 255),
                        Arbitraries.integers().between(0, 254),
                        Gen.anyChars(ClusterCommand.MAX_VERSION_CHARS))
                .as((a, min, extra, v) -> new ClusterCommand.AdvertiseNode(a, min, Math.min(255, min + extra), v));
        Arbitrary<String> sessionName = Arbitraries.strings()
                .withChars("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
                .ofMinLength(1)
                .ofMaxLength(64)
                .filter(n -> !n.equals(".") && !n.equals(".."));
        Arbitrary<ClusterCommand> putSession = Combinators.combine(
                        sessionName,
                        sessionName,
                        Arbitraries.strings()
                                .ofMinLength(1)
                                .ofMaxLength(300)
                                .filter(t -> t.getBytes(StandardCharsets.UTF_8).length <= ClusterMap.MAX_STRING_BYTES),
                        Arbitraries.longs().greaterOrEqual(0))
                .as(ClusterCommand.PutGeorepSession::new);
        Arbitrary<ClusterCommand> removeSession = sessionName.map(ClusterCommand.RemoveGeorepSession::new);
        Arbitrary<ClusterCommand> progress = Combinators.combine(
                        sessionName, Arbitraries.longs().greaterOrEqual(0), Arbitraries.longs())
                .as(ClusterCommand.GeorepProgress::new);
        return g == Gen.STRETCHED
                ? weighted(
                        w(1, getMap),
                        w(4, create),
                        w(2, addRule),
                        w(2, removeRule),
                        w(4, hello),
                        w(1, addNode),
                        w(1, removeNode),
                        w(2, replace),
                        w(2, advertise),
                        w(1, putSession),
                        w(1, removeSession),
                        w(1, progress),
                        w(2, huge))
                : weighted(
                        w(1, getMap),
                        w(4, create),
                        w(2, addRule),
                        w(2, removeRule),
                        w(4, hello),
                        w(1, addNode),
                        w(1, removeNode),
                        w(2, replace),
                        w(2, advertise),
                        w(1, putSession),
                        w(1, removeSession),
                        w(1, progress));
    }

    /** A CreateVolume command whose name is {@code modifiedUtf8}, unchecked, without replicas. */
    private static byte[] createVolumeNamed(byte[] modifiedUtf8) {
        return new WireWriter()
                .raw(ReferenceClusterWire.COMMAND_HEADER)
                .u8(2)
                .u16(modifiedUtf8.length)
                .raw(modifiedUtf8)
                .u16(0)
                .finish(false)
                .bytes();
    }

    @Example
    void onlyTheCanonicalModifiedUtf8IsAccepted() {
        Outcome<ClusterCommand> canonical =
                decodeChecked(createVolumeNamed(new byte[] {'a', (byte) 0xc0, (byte) 0x80, 'b'}));
        assertThat(canonical.accepted()).isTrue();
        Show.assertEqual(canonical.value(), new ClusterCommand.CreateVolume("a\0b", List.of()), "decoded command");
        byte[][] others = {
            {'a', 0, 'b'}, // NUL as one byte
            {(byte) 0xc1, (byte) 0x81}, // 'A' in two bytes
            {(byte) 0xe0, (byte) 0x81, (byte) 0x81}, // 'A' in three bytes
            {(byte) 0xe0, (byte) 0x82, (byte) 0x80} // U+0080 in three bytes
        };
        for (byte[] o : others) {
            assertThat(decodeChecked(createVolumeNamed(o)).accepted())
                    .as("accepted %s", describe(o))
                    .isFalse();
        }
    }

    @Example
    void theLargestCommandIsAcceptedAndOneByteMoreIsNot() {
        // header 4, name length 2, name, replica count 2
        String name = "v".repeat(ClusterCommand.MAX_BYTES - 8);
        byte[] largest = ClusterCommand.encode(new ClusterCommand.CreateVolume(name, List.of()));
        assertThat(largest).hasSize(ClusterCommand.MAX_BYTES);
        assertThat(decodeChecked(largest).accepted()).isTrue();
        byte[] over = ClusterCommand.encode(new ClusterCommand.CreateVolume(name + "v", List.of()));
        assertThat(decodeChecked(over).accepted()).isFalse();
    }
}
