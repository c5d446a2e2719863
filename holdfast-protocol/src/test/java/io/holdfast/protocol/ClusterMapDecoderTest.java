package io.holdfast.protocol;

import static io.holdfast.protocol.Gen.w;
import static io.holdfast.protocol.Gen.weighted;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Reporter;
import net.jqwik.api.statistics.Statistics;

/** {@link ClusterMap#decode} against the reference model of encoded cluster maps. */
class ClusterMapDecoderTest extends DecoderProperties<ClusterMap> {
    private static final UUID ID = new UUID(0x1234, 0x5678);

    @Override
    ClusterMap decode(byte[] bytes) throws ProtocolException {
        return ClusterMap.decode(bytes);
    }

    @Override
    byte[] encode(ClusterMap value) {
        return value.encode();
    }

    @Override
    WireWriter.Encoding reference(ClusterMap value) {
        return ReferenceClusterWire.encode(value);
    }

    /** Version 3 as the encoder writes it, or the older version of an older input. */
    @Override
    byte[] canonicalEncoding(ClusterMap value, byte[] input) {
        return input[2] < 4 ? ReferenceClusterWire.encode(value, input[2]).bytes() : encode(value);
    }

    /** Equal, and with the volumes in the same order. */
    @Override
    void assertDecodedEquals(ClusterMap actual, ClusterMap expected) {
        Show.assertEqual(actual, expected, "decoded map");
        Show.assertEqual(
                List.copyOf(actual.volumes().keySet()),
                List.copyOf(expected.volumes().keySet()),
                "volume order");
    }

    @Override
    int maxBytes() {
        return ClusterMap.MAX_BYTES;
    }

    @Override
    byte[] header() {
        return ReferenceClusterWire.MAP_HEADER;
    }

    @Override
    boolean sealed() {
        return true;
    }

    @Override
    Set<String> variants() {
        return Set.of(
                "map without volumes",
                "map with volumes",
                "map with ACL rules",
                "map with a replacement",
                "map with georep sessions");
    }

    @Override
    String variantOf(ClusterMap value) {
        if (!value.georep().isEmpty()) {
            return "map with georep sessions";
        }
        if (value.volumes().isEmpty()) {
            return "map without volumes";
        }
        if (value.volumes().values().stream().anyMatch(v -> v.generation() > 1)) {
            return "map with a replacement";
        }
        return value.volumes().values().stream().allMatch(v -> v.acl().isEmpty())
                ? "map with volumes"
                : "map with ACL rules";
    }

    @Override
    List<ClusterMap> examples() {
        List<String> nodes = List.of("node-a:9860", "node-b:9860");
        return List.of(
                new ClusterMap(1, ID, nodes, Map.of()),
                new ClusterMap(
                        7,
                        ID,
                        nodes,
                        volumes(List.of(
                                new ClusterMap.Volume("vol-1", new UUID(1, 2), nodes, 42),
                                new ClusterMap.Volume("vol-2", new UUID(3, 4), List.of(), 43)))),
                new ClusterMap(
                        8,
                        ID,
                        nodes,
                        volumes(List.of(new ClusterMap.Volume(
                                "vol-1",
                                new UUID(1, 2),
                                nodes,
                                42,
                                List.of(
                                        new AclRule("mail-*", "10.0.0.0/8", Access.READ_WRITE),
                                        new AclRule("*", "*", Access.NONE)))))),
                new ClusterMap(
                        9,
                        ID,
                        nodes,
                        volumes(List.of(new ClusterMap.Volume(
                                "vol-1", new UUID(1, 2), nodes, 42, List.of(), 3, List.of(1L, 3L), "node-c:9860")))),
                new ClusterMap(
                        10,
                        ID,
                        nodes,
                        Map.of(),
                        Map.of(
                                "node-a:9860",
                                new ClusterMap.NodeInfo(1, 2, "0.1.0"),
                                "node-b:9860",
                                new ClusterMap.NodeInfo(1, 1, ""))),
                new ClusterMap(
                        11,
                        ID,
                        nodes,
                        volumes(List.of(new ClusterMap.Volume("mail", new UUID(1, 2), nodes, 42))),
                        Map.of(),
                        Map.of(
                                "mail-dr",
                                new ClusterMap.GeorepSession(
                                        "mail-dr", "mail", "/srv/dr/mail", 30_000, 50, 1234, 60, 70),
                                "b",
                                new ClusterMap.GeorepSession("b", "mail", "copy@dr.example:7001", 0, 1, 0, 0, 0))));
    }

    @Override
    Arbitrary<ClusterMap> values() {
        return maps(Gen.VALID);
    }

    @Override
    Arbitrary<ClusterMap> stretchedValues() {
        return maps(Gen.STRETCHED);
    }

    private static Map<String, ClusterMap.Volume> volumes(List<ClusterMap.Volume> list) {
        Map<String, ClusterMap.Volume> m = new LinkedHashMap<>();
        list.forEach(v -> m.put(v.name(), v));
        return m;
    }

    /**
     * Cluster maps. The decoder does not check names or addresses, so strings are any valid
     * UTF-16 within the 1024-byte limit (around it when stretched); ACL rules are ones {@link
     * AclRule} accepts; lists are short, or sometimes at (around) their limits.
     */
    private static Arbitrary<ClusterMap> maps(Gen g) {
        Arbitrary<UUID> ids =
                Combinators.combine(Arbitraries.longs(), Arbitraries.longs()).as(UUID::new);
        Arbitrary<String> str = g.text(ReferenceClusterWire.MAX_MAP_STRING_BYTES);
        Function<Random, String> smallStr = r -> Gen.randomText(r, r.nextInt(16));
        Arbitrary<List<String>> nodes = g.list(str, smallStr, ClusterMap.MAX_ENTRIES);
        // lists inside volumes are shorter, and long more rarely, since a map has several volumes
        int fewWeight = g == Gen.STRETCHED ? 12 : 40;
        Arbitrary<List<AclRule>> acl = g.list(
                ClusterValues.aclRules(false), ClusterValues::randomRule, ClusterMap.MAX_ACL_RULES, fewWeight, 4);
        Arbitrary<List<String>> replicaLists = g.list(str, smallStr, ClusterMap.MAX_ENTRIES, fewWeight, 4);
        Arbitrary<ClusterMap.Volume> plain = Combinators.combine(str, ids, replicaLists, Arbitraries.longs(), acl)
                .as(ClusterMap.Volume::new);
        // membership generations: 1..generation for every replica, any joining node
        Arbitrary<ClusterMap.Volume> replaced = Combinators.combine(
                        plain, Arbitraries.longs().between(1, Long.MAX_VALUE), Arbitraries.longs(), str)
                .as((v, gen, seed, joining) -> {
                    Random r = new Random(seed);
                    List<Long> since = new ArrayList<>();
                    v.replicas().forEach(x -> since.add(1 + Math.floorMod(r.nextLong(), gen)));
                    return new ClusterMap.Volume(
                            v.name(), v.groupId(), v.replicas(), v.createdNanos(), v.acl(), gen, since, joining);
                });
        Arbitrary<ClusterMap.Volume> volume = weighted(w(3, plain), w(1, replaced));
        Arbitrary<List<ClusterMap.Volume>> few = volume.list().ofMaxSize(4).uniqueElements(ClusterMap.Volume::name);
        int lo = g == Gen.STRETCHED ? ClusterMap.MAX_ENTRIES - 1 : ClusterMap.MAX_ENTRIES;
        Arbitrary<List<ClusterMap.Volume>> many = Combinators.combine(
                        Arbitraries.integers().between(lo, lo + (g == Gen.STRETCHED ? 2 : 0)), Arbitraries.longs())
                .as((n, seed) -> {
                    Random r = new Random(seed);
                    List<ClusterMap.Volume> vs = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        List<String> replicas = new ArrayList<>();
                        for (int j = r.nextInt(3); j > 0; j--) {
                            replicas.add(smallStr.apply(r));
                        }
                        vs.add(new ClusterMap.Volume(
                                i + smallStr.apply(r), new UUID(r.nextLong(), r.nextLong()), replicas, r.nextLong()));
                    }
                    return vs;
                });
        Arbitrary<List<ClusterMap.Volume>> vols = weighted(w(12, few), w(1, many));
        return Combinators.combine(Arbitraries.longs(), ids, nodes, vols, Arbitraries.longs())
                .as((epoch, id, n, vs, seed) -> {
                    Random r = new Random(seed);
                    return new ClusterMap(epoch, id, n, volumes(vs), advertisements(n, r), sessions(r));
                });
    }

    /** Valid geo-replication sessions, for about a quarter of the maps. */
    private static Map<String, ClusterMap.GeorepSession> sessions(Random r) {
        Map<String, ClusterMap.GeorepSession> m = new LinkedHashMap<>();
        if (r.nextInt(4) != 0) {
            return m;
        }
        String alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
        for (int i = 1 + r.nextInt(4); i > 0; i--) {
            StringBuilder name = new StringBuilder("s");
            for (int j = r.nextInt(64); j > 0; j--) {
                name.append(alphabet.charAt(r.nextInt(alphabet.length())));
            }
            String n = name.toString();
            m.put(
                    n,
                    new ClusterMap.GeorepSession(
                            n,
                            "vol-" + r.nextInt(10),
                            "/" + Gen.randomText(r, r.nextInt(40)),
                            Math.max(0, r.nextLong()),
                            r.nextLong(),
                            Math.max(0, r.nextLong()),
                            r.nextLong(),
                            r.nextLong()));
        }
        return m;
    }

    /** Advertisements of some of {@code nodes} (none for about a third of the maps), valid ranges within 1..255. */
    private static Map<String, ClusterMap.NodeInfo> advertisements(List<String> nodes, Random r) {
        Map<String, ClusterMap.NodeInfo> m = new LinkedHashMap<>();
        if (r.nextInt(3) == 0) {
            return m;
        }
        for (String n : nodes) {
            if (m.size() < 64 && r.nextBoolean()) {
                int min = 1 + r.nextInt(255);
                m.put(n, new ClusterMap.NodeInfo(min, min + r.nextInt(256 - min), Gen.randomText(r, r.nextInt(12))));
            }
        }
        return m;
    }

    /** What versions 1 and 2 can carry: every volume of generation 1, nobody joining. */
    private static ClusterMap firstGeneration(ClusterMap map) {
        Map<String, ClusterMap.Volume> vs = new LinkedHashMap<>();
        map.volumes()
                .forEach((n, v) ->
                        vs.put(n, new ClusterMap.Volume(n, v.groupId(), v.replicas(), v.createdNanos(), v.acl())));
        return new ClusterMap(map.epoch(), map.clusterId(), map.nodes(), vs);
    }

    @Property(tries = 300)
    void version3MapsAreReadWithoutAdvertisements(@ForAll("validValues") ClusterMap map) {
        ClusterMap v3 = new ClusterMap(map.epoch(), map.clusterId(), map.nodes(), map.volumes());
        Outcome<ClusterMap> o = decodeChecked(ReferenceClusterWire.encode(v3, 3).bytes());
        if (!o.accepted()) {
            fail("version 3 map refused: " + Show.show(o.error().getMessage()));
        }
        assertDecodedEquals(o.value(), v3);
        assertThat(o.value().featureLevel()).isEqualTo(1);
    }

    @Property(tries = 300)
    void version2MapsAreReadAsFirstGeneration(@ForAll("validValues") ClusterMap map) {
        ClusterMap v2 = firstGeneration(map);
        Outcome<ClusterMap> o = decodeChecked(ReferenceClusterWire.encode(v2, 2).bytes());
        if (!o.accepted()) {
            fail("version 2 map refused: " + Show.show(o.error().getMessage()));
        }
        assertDecodedEquals(o.value(), v2);
    }

    @Property(tries = 300)
    void version1MapsAreReadAsMapsWithoutAcls(@ForAll("validValues") ClusterMap map) {
        ClusterMap stripped = firstGeneration(map).withoutAcls();
        Outcome<ClusterMap> o =
                decodeChecked(ReferenceClusterWire.encode(stripped, 1).bytes());
        Statistics.label("variant").collect(variantOf(map));
        if (!o.accepted()) {
            fail("version 1 map refused: " + Show.show(o.error().getMessage()));
        }
        assertDecodedEquals(o.value(), stripped);
    }

    @Property(tries = 600)
    void mutatedVersion1BodiesAreRefusedOrCanonical(
            @ForAll("validValues") ClusterMap map, @ForAll("mutations") List<Mutation> mutations) {
        byte[] v1 = ReferenceClusterWire.encode(firstGeneration(map).withoutAcls(), 1)
                .bytes();
        byte[] body = Arrays.copyOfRange(v1, 3, v1.length - 4);
        byte[] input = WireWriter.seal(concat(new byte[] {'H', 'M', 1}, Mutation.applyAll(body, mutations)));
        Statistics.label("outcome").collect(decodeChecked(input).label());
    }

    /**
     * Refusing a map allocates in proportion to the content actually read, not to any claim: a
     * map of about {@link ClusterMap#MAX_BYTES} made of the cheapest possible strings (empty
     * ones, two bytes each), refused only at its last byte. Every such string still becomes an
     * object, so the multiple is large; it is reported, and bounded here.
     */
    // Maps take about a millisecond each to generate, so the generic properties that need the
    // most of them run with fewer tries here. Raw mutations nearly always just break the
    // checksum, so they get the fewest.

    @Override
    @Property(tries = 600)
    void mutatedFramesAreRefusedOrCanonical(
            @ForAll("validValues") ClusterMap value, @ForAll("mutations") List<Mutation> mutations) {
        super.mutatedFramesAreRefusedOrCanonical(value, mutations);
    }

    @Override
    @Property(tries = 1500)
    void mutatedBodiesBehindAValidHeaderAndChecksumAreRefusedOrCanonical(
            @ForAll("validValues") ClusterMap value, @ForAll("mutations") List<Mutation> mutations) {
        super.mutatedBodiesBehindAValidHeaderAndChecksumAreRefusedOrCanonical(value, mutations);
    }

    @Override
    @Property(tries = 600)
    void hugeLengthClaimsAreRefusedWithinTheAllocationBound(@ForAll("hugeClaims") Claim claim) {
        super.hugeLengthClaimsAreRefusedWithinTheAllocationBound(claim);
    }

    @Example
    void refusingAContentHeavyMapAllocatesInProportionToItsContent(Reporter reporter) {
        List<String> empties = Collections.nCopies(ClusterMap.MAX_ENTRIES, "");
        List<ClusterMap.Volume> vs = new ArrayList<>();
        // each replica costs 10 bytes (an empty name and its join generation): fill to just under the limit
        int perVolume = new ClusterMap(1, ID, List.of(), volumes(List.of(new ClusterMap.Volume("v0", ID, empties, 0))))
                .encode()
                .length;
        int size = new ClusterMap(1, ID, empties, Map.of()).encode().length;
        for (int i = 0; size + perVolume < ClusterMap.MAX_BYTES; i++) {
            vs.add(new ClusterMap.Volume("v" + i, new UUID(i, i), empties, i));
            size += perVolume;
        }
        int rest = (ClusterMap.MAX_BYTES - 8 * 1024 - size) / 10;
        vs.add(new ClusterMap.Volume("last", ID, empties.subList(0, rest), 0));
        byte[] frame = new ClusterMap(1, ID, empties, volumes(vs)).encode();
        assertThat(frame.length).isBetween(ClusterMap.MAX_BYTES - 16 * 1024, ClusterMap.MAX_BYTES - 1);
        byte[] input = WireWriter.seal(Arrays.copyOf(frame, frame.length - 3));
        Outcome<ClusterMap> o = decodeChecked(input);
        assertThat(o.accepted()).isFalse();
        reporter.publishValue(
                "content-heavy refusal", input.length + " bytes refused after allocating " + o.allocated());
        assertThat(o.allocated()).isLessThan(32L * input.length + SLACK);
    }

    /** A map with one node whose name is {@code utf8}, unchecked. */
    private static byte[] mapWithNode(byte[] utf8) {
        return new WireWriter()
                .raw(ReferenceClusterWire.MAP_HEADER)
                .i64(1)
                .i64(2)
                .i64(3)
                .i32(1)
                .u16(utf8.length)
                .raw(utf8)
                .i32(0)
                .i32(0)
                .finish(true)
                .bytes();
    }

    @Example
    void stringsMustBeValidUtf8AndAGenuineReplacementCharacterIsKept() {
        Outcome<ClusterMap> genuine = decodeChecked(mapWithNode(new byte[] {(byte) 0xef, (byte) 0xbf, (byte) 0xbd}));
        assertThat(genuine.accepted()).isTrue();
        assertThat(genuine.value().nodes()).containsExactly("\ufffd");
        byte[][] malformed = {
            {(byte) 0xc3, 0x28}, // truncated 2-byte sequence
            {(byte) 0xc0, (byte) 0x80}, // overlong NUL
            {(byte) 0xed, (byte) 0xa0, (byte) 0x80}, // a surrogate
            {(byte) 0xf4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, // beyond U+10FFFF
            {(byte) 0xff}
        };
        for (byte[] m : malformed) {
            assertThat(decodeChecked(mapWithNode(m)).accepted())
                    .as("accepted %s", describe(m))
                    .isFalse();
        }
    }

    @Example
    void theLargestMapIsAcceptedAndOneByteMoreIsNot() {
        // header 3, epoch 8, id 16, node count 4, nodes, volume count 4, advertisement count 4, checksum 4
        int left = ClusterMap.MAX_BYTES - 43;
        List<String> nodes = new ArrayList<>();
        while (left > 0) {
            int n = Math.min(left - 2, ReferenceClusterWire.MAX_MAP_STRING_BYTES);
            if (left - (n + 2) == 1) {
                n--; // leave room for one more string of at least its 2-byte length
            }
            nodes.add("n".repeat(n));
            left -= n + 2;
        }
        ClusterMap largest = new ClusterMap(1, ID, nodes, Map.of());
        assertThat(largest.encode()).hasSize(ClusterMap.MAX_BYTES);
        assertThat(decodeChecked(largest.encode()).accepted()).isTrue();
        List<String> more = new ArrayList<>(nodes);
        int last = nodes.size() - 1;
        assertThat(nodes.get(last).length()).isLessThan(ReferenceClusterWire.MAX_MAP_STRING_BYTES);
        more.set(last, nodes.get(last) + "n");
        assertThat(new ClusterMap(1, ID, more, Map.of()).encode()).hasSize(ClusterMap.MAX_BYTES + 1);
        assertThat(decodeChecked(new ClusterMap(1, ID, more, Map.of()).encode()).accepted())
                .isFalse();
    }
}
