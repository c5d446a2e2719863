package io.holdfast.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.sun.management.ThreadMXBean;
import io.holdfast.common.Errno;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Reporter;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.BeforeProperty;
import net.jqwik.api.statistics.Statistics;

/**
 * Properties every decoder of the protocol must have, checked against a reference model of
 * its wire format. A subclass names the decoder, the production encoder, the reference model,
 * the size limit, the header, and generators of valid values covering every variant; the
 * properties here do the rest.
 *
 * <p>Every decode in every property goes through {@link #decodeChecked}, which asserts what
 * must hold for any input whatsoever: nothing but {@link ProtocolException} escapes, its errno
 * is {@link Errno#EPROTO} or {@link Errno#EBADMSG}, the input array is unchanged afterwards, and
 * an accepted input re-encodes to exactly the same bytes (so a mutation that is accepted did
 * produce another valid message).
 */
abstract class DecoderProperties<T> {
    /** Allocation allowed beyond a decoder's size limit: the exception, its message, noise. */
    static final long SLACK = 1 << 20;

    private static final ThreadMXBean THREADS = (ThreadMXBean) ManagementFactory.getThreadMXBean();

    // ------------------------------------------------------------------ the decoder under test

    /** The decoder under test. */
    abstract T decode(byte[] bytes) throws ProtocolException;

    /** The production encoder. */
    abstract byte[] encode(T value);

    /** The reference model's encoding, with its length and count fields. */
    abstract WireWriter.Encoding reference(T value);

    /** What decoding the encoding of {@code value} must give; the value itself unless overridden. */
    T expected(T value) {
        return value;
    }

    /** Asserts a decoded value equals the expected one. */
    void assertDecodedEquals(T actual, T expected) {
        Show.assertEqual(actual, expected, "decoded value");
    }

    /**
     * The one encoding {@code value} may have been decoded from, given the input it was decoded
     * from: by default what the production encoder writes.
     */
    byte[] canonicalEncoding(T value, byte[] input) {
        return encode(value);
    }

    /** The errnos a refusal may carry: those {@link ProtocolException} documents. */
    Set<Errno> refusalErrnos() {
        return Set.of(Errno.EPROTO, Errno.EBADMSG);
    }

    /** The decoder's documented largest input, in bytes. */
    abstract int maxBytes();

    /** Magic and version every input starts with. */
    abstract byte[] header();

    /** Whether inputs end with a CRC32C of everything before it. */
    abstract boolean sealed();

    /** The kind bytes that follow the header, or none if the format has no kind. */
    List<Integer> kinds() {
        return List.of();
    }

    /** The names of all variants that {@link #values()} must cover. */
    abstract Set<String> variants();

    /** The variant a value belongs to. */
    String variantOf(T value) {
        return value.getClass().getSimpleName();
    }

    /** One value of every variant, with every length and count field present where it can be. */
    abstract List<T> examples();

    /** Valid values of every variant. */
    abstract Arbitrary<T> values();

    /** Values around every limit, some just over one. */
    abstract Arbitrary<T> stretchedValues();

    // ------------------------------------------------------------------ generators

    @Provide
    Arbitrary<T> validValues() {
        return values();
    }

    @Provide
    Arbitrary<T> limitValues() {
        return stretchedValues();
    }

    @Provide
    Arbitrary<List<Mutation>> mutations() {
        return Mutation.lists();
    }

    @Provide
    Arbitrary<byte[]> randomBytes() {
        return Gen.weighted(
                Gen.w(6, Arbitraries.bytes().array(byte[].class).ofMaxSize(64)),
                Gen.w(3, Arbitraries.bytes().array(byte[].class).ofMaxSize(1024)),
                Gen.w(
                        1,
                        Combinators.combine(Arbitraries.integers().between(0, 64 * 1024), Arbitraries.longs())
                                .as((n, seed) -> Gen.randomBytes(seed, n))));
    }

    @Provide
    Arbitrary<Integer> kindBytes() {
        Arbitrary<Integer> any = Arbitraries.integers().between(0, 255);
        return kinds().isEmpty() ? any : Gen.weighted(Gen.w(4, Arbitraries.of(kinds())), Gen.w(1, any));
    }

    /** A frame with one length or count field overwritten by a claim the frame cannot satisfy. */
    record Claim(byte[] frame, WireWriter.LengthField field, long claim) {
        @Override
        public String toString() {
            return field.what() + " at offset " + field.offset() + " claims " + claim + " (limit " + field.limit()
                    + ") in a frame of " + frame.length + " bytes";
        }
    }

    @Provide
    Arbitrary<Claim> hugeClaims() {
        return values().map(this::reference)
                .filter(e -> !e.fields().isEmpty())
                .flatMap(e -> Arbitraries.of(e.fields())
                        .flatMap(f -> claimsFor(e, f)
                                .map(c -> new Claim(WireWriter.withClaim(e.bytes(), f, c, sealed()), f, c))));
    }

    private Arbitrary<Long> claimsFor(WireWriter.Encoding e, WireWriter.LengthField f) {
        long remaining = remainingAfter(e, f);
        Arbitrary<Long> random = f.width() == 4
                ? Arbitraries.integers().map(i -> (long) i)
                : Arbitraries.longs().between(0, (1L << (8 * f.width())) - 1);
        return Gen.weighted(
                Gen.w(1, Arbitraries.of(fixedClaims(e, f))),
                Gen.w(1, random.filter(c -> unsatisfiable(c, f, remaining))));
    }

    /** Claims no frame can satisfy: huge, negative, over the limit, or more than is left. */
    private List<Long> fixedClaims(WireWriter.Encoding e, WireWriter.LengthField f) {
        long remaining = remainingAfter(e, f);
        List<Long> claims = switch (f.width()) {
            case 1 -> List.of(0xffL, 0x80L, f.limit() + 1, remaining + 1);
            case 2 -> List.of(0xffffL, 0x8000L, f.limit() + 1, remaining + 1);
            default ->
                List.of(
                        (long) Integer.MAX_VALUE,
                        (long) Integer.MIN_VALUE,
                        -1L,
                        1L << 30,
                        0x7fff_fff0L,
                        f.limit() + 1,
                        remaining + 1);
        };
        long max = f.width() == 4 ? Long.MAX_VALUE : (1L << (8 * f.width())) - 1;
        return claims.stream()
                .filter(c -> c <= max)
                .filter(c -> unsatisfiable(c, f, remaining))
                .distinct()
                .toList();
    }

    private long remainingAfter(WireWriter.Encoding e, WireWriter.LengthField f) {
        return e.bytes().length - trailer() - f.offset() - f.width();
    }

    /** Every element and every byte takes at least one byte, so this claim cannot be met. */
    private static boolean unsatisfiable(long claim, WireWriter.LengthField f, long remaining) {
        return claim < 0 || claim > f.limit() || claim > remaining;
    }

    // ------------------------------------------------------------------ properties

    @BeforeProperty
    void warmUp() {
        // Load the classes the decoder uses on refusal paths, so that class loading does not
        // count as allocation in the measured decodes.
        for (T e : examples()) {
            byte[] b = encode(e);
            tryDecode(b);
            tryDecode(Arrays.copyOf(b, b.length - 1));
            tryDecode(Arrays.copyOf(b, b.length + 1));
        }
        tryDecode(new byte[16]);
        tryDecode(Arrays.copyOf(header(), 16));
    }

    private void tryDecode(byte[] b) {
        try {
            decode(b);
        } catch (ProtocolException | RuntimeException e) {
            // only warming up; the properties check the outcome
        }
    }

    @Property(tries = 1000)
    void roundTripMatchesTheReferenceModel(@ForAll("validValues") T value) {
        String variant = variantOf(value);
        Statistics.label("variant").collect(variant);
        Statistics.label("variant")
                .coverage(c -> variants().forEach(v -> c.check(v).count(n -> n > 0)));
        byte[] bytes = encode(value);
        assertBytes(bytes, reference(value).bytes(), "production encoding of " + variant + " vs reference model");
        assertThat(bytes.length).isLessThanOrEqualTo(maxBytes());
        Outcome<T> o = decodeChecked(bytes);
        if (!o.accepted()) {
            fail("valid " + variant + " refused: " + Show.show(o.error().getMessage()));
        }
        assertDecodedEquals(o.value(), expected(value));
    }

    @Property(tries = 500)
    void limitsMatchTheReferenceModel(@ForAll("limitValues") T value) {
        WireWriter.Encoding ref = reference(value);
        boolean within = ref.withinLimits(maxBytes());
        byte[] bytes = encode(value);
        assertBytes(bytes, ref.bytes(), "production encoding vs reference model");
        Outcome<T> o = decodeChecked(bytes);
        Statistics.label("model").collect(within ? "within limits" : "over a limit");
        Statistics.label("outcome").collect(o.label());
        if (within) {
            if (!o.accepted()) {
                fail("within limits but refused: " + Show.show(o.error().getMessage()));
            }
            assertDecodedEquals(o.value(), expected(value));
        } else {
            assertThat(o.accepted())
                    .as("accepted although over a limit: %s", ref.fields())
                    .isFalse();
        }
    }

    @Property(tries = 2000)
    void mutatedFramesAreRefusedOrCanonical(
            @ForAll("validValues") T value, @ForAll("mutations") List<Mutation> mutations) {
        byte[] input = Mutation.applyAll(encode(value), mutations);
        Statistics.label("outcome").collect(decodeChecked(input).label());
    }

    @Property(tries = 3000)
    void mutatedBodiesBehindAValidHeaderAndChecksumAreRefusedOrCanonical(
            @ForAll("validValues") T value, @ForAll("mutations") List<Mutation> mutations) {
        byte[] frame = encode(value);
        byte[] body = Arrays.copyOfRange(frame, header().length, frame.length - trailer());
        byte[] input = frame(Mutation.applyAll(body, mutations));
        Statistics.label("outcome").collect(decodeChecked(input).label());
    }

    @Property(tries = 2000)
    void randomBytesAreRefusedOrCanonical(@ForAll("randomBytes") byte[] input) {
        Statistics.label("outcome").collect(decodeChecked(input).label());
    }

    @Property(tries = 2000)
    void randomBodiesBehindAValidHeaderAreRefusedOrCanonical(
            @ForAll("kindBytes") int kind, @ForAll("randomBytes") byte[] rest) {
        byte[] body = kinds().isEmpty() ? rest : concat(new byte[] {(byte) kind}, rest);
        Statistics.label("outcome").collect(decodeChecked(frame(body)).label());
    }

    /**
     * A claim the frame cannot satisfy is refused, and costs no allocation: decoding allocates no
     * more than decoding the same frame cut just before the claim (which reads the same content
     * and then runs out of bytes), plus the slack. Where that content allocates little, this is
     * the bound of the size limit plus the slack.
     */
    @Property(tries = 1000)
    void hugeLengthClaimsAreRefusedWithinTheAllocationBound(@ForAll("hugeClaims") Claim claim) {
        Outcome<T> o = decodeChecked(claim.frame());
        byte[] cut = Arrays.copyOf(claim.frame(), claim.field().offset());
        long baseline = decodeChecked(sealed() ? WireWriter.seal(cut) : cut).allocated();
        Statistics.label("field").collect(claim.field().what());
        Statistics.label("outcome").collect(o.label());
        Statistics.label("allocated").collect(bucket(o.allocated()));
        assertThat(o.accepted()).as("accepted %s", claim).isFalse();
        assertThat(o.allocated())
                .as("bytes allocated refusing %s, against %d reading up to it", claim, baseline)
                .isLessThan(baseline + SLACK);
        if (baseline < maxBytes()) {
            assertThat(o.allocated()).as("bytes allocated refusing %s", claim).isLessThan(maxBytes() + SLACK);
        }
        Statistics.label("bound of the size limit + 1 MiB")
                .collect(
                        baseline < maxBytes()
                                ? "checked"
                                : "not applicable: reading the content before the claim allocates more");
    }

    @Example
    void everyLengthFieldOfEveryVariantRefusesHugeClaims(Reporter reporter) {
        assertThat(examples().stream().map(this::variantOf).collect(Collectors.toSet()))
                .isEqualTo(variants());
        int claims = 0;
        long maxAllocated = 0;
        for (T e : examples()) {
            WireWriter.Encoding enc = reference(e);
            assertBytes(encode(e), enc.bytes(), "production encoding of " + variantOf(e) + " vs reference model");
            for (WireWriter.LengthField f : enc.fields()) {
                for (long c : fixedClaims(enc, f)) {
                    Claim claim = new Claim(WireWriter.withClaim(enc.bytes(), f, c, sealed()), f, c);
                    Outcome<T> o = decodeChecked(claim.frame());
                    assertThat(o.accepted())
                            .as("accepted %s of %s", claim, variantOf(e))
                            .isFalse();
                    assertThat(o.allocated())
                            .as("bytes allocated refusing %s", claim)
                            .isLessThan(maxBytes() + SLACK);
                    maxAllocated = Math.max(maxAllocated, o.allocated());
                    claims++;
                }
            }
        }
        assertThat(claims).isPositive();
        reporter.publishValue("huge claims refused", claims + ", at most " + maxAllocated + " bytes allocated");
    }

    @Property(tries = 10)
    void inputsOverTheSizeLimitAreRefusedBeforeReading(
            @ForAll("validValues") T value, @ForAll @IntRange(min = 1, max = 65536) int excess) {
        byte[] frame = encode(value);
        byte[] body = Arrays.copyOf(Arrays.copyOf(frame, frame.length - trailer()), maxBytes() + excess - trailer());
        byte[] input = sealed() ? WireWriter.seal(body) : body;
        assertThat(input).hasSize(maxBytes() + excess);
        Outcome<T> o = decodeChecked(input);
        Statistics.label("outcome").collect(o.label());
        assertThat(o.accepted()).as("accepted %d bytes", input.length).isFalse();
        assertThat(o.allocated())
                .as("bytes allocated refusing %d bytes", input.length)
                .isLessThan(SLACK);
    }

    // ------------------------------------------------------------------ checked decoding

    /**
     * The outcome of one checked decode.
     *
     * @param value the decoded value, or null if refused
     * @param error the refusal, or null if accepted
     * @param allocated bytes allocated by this thread while decoding
     */
    record Outcome<T>(T value, ProtocolException error, long allocated) {
        boolean accepted() {
            return error == null;
        }

        String label() {
            return accepted() ? "accepted (re-encodes identically)" : "refused " + error.errno();
        }
    }

    /** Decodes {@code input}, asserting the properties every decode has; see the class comment. */
    final Outcome<T> decodeChecked(byte[] input) {
        byte[] copy = input.clone();
        T value = null;
        ProtocolException error = null;
        long before = allocatedBytes();
        try {
            value = decode(input);
        } catch (ProtocolException e) {
            error = e;
        } catch (Throwable t) {
            violated();
            throw new AssertionError("decoder threw " + t + " instead of ProtocolException for " + describe(copy), t);
        }
        long allocated = allocatedBytes() - before;
        if (!Arrays.equals(copy, input)) {
            violated();
            fail("decoding modified its input " + describe(copy));
        }
        if (error != null) {
            if (!refusalErrnos().contains(error.errno())) {
                violated();
                fail("refused with " + error.errno() + ", not one of " + refusalErrnos() + ": "
                        + Show.show(error.getMessage()));
            }
        } else {
            byte[] again;
            try {
                again = canonicalEncoding(value, input);
            } catch (RuntimeException e) {
                violated();
                throw new AssertionError(
                        "accepted " + describe(input) + " as " + Show.show(value) + ", which cannot be encoded", e);
            }
            if (!Arrays.equals(again, input)) {
                violated();
                fail("accepted a non-canonical encoding " + describe(input) + " as " + Show.show(value)
                        + ", which encodes as " + describe(again));
            }
        }
        return new Outcome<>(value, error, allocated);
    }

    /** Records the violation, so that jqwik has statistics to show even if the first try fails. */
    private static void violated() {
        Statistics.label("outcome").collect("PROPERTY VIOLATED");
    }

    static long allocatedBytes() {
        return THREADS.getThreadAllocatedBytes(Thread.currentThread().threadId());
    }

    // ------------------------------------------------------------------ helpers

    int trailer() {
        return sealed() ? 4 : 0;
    }

    /** The header, {@code body}, and the checksum if the format has one. */
    byte[] frame(byte[] body) {
        byte[] b = concat(header(), body);
        return sealed() ? WireWriter.seal(b) : b;
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    static String describe(byte[] b) {
        String hex = HexFormat.of().formatHex(b, 0, Math.min(b.length, 96));
        return b.length + " bytes [" + hex + (b.length > 96 ? "…" : "") + "]";
    }

    static String bucket(long bytes) {
        if (bytes < 16 * 1024) {
            return "allocated < 16 KiB";
        } else if (bytes < 256 * 1024) {
            return "allocated < 256 KiB";
        } else if (bytes < SLACK) {
            return "allocated < 1 MiB";
        }
        return "allocated >= 1 MiB";
    }

    static void assertBytes(byte[] actual, byte[] expected, String what) {
        if (Arrays.equals(actual, expected)) {
            return;
        }
        int i = Arrays.mismatch(actual, expected);
        fail(what + ": differ at offset " + i + "; actual "
                + describe(Arrays.copyOfRange(actual, Math.min(i, actual.length), actual.length))
                + ", expected " + describe(Arrays.copyOfRange(expected, Math.min(i, expected.length), expected.length))
                + " (lengths " + actual.length + " and " + expected.length + ")");
    }

    /** Simple names of the records implementing a sealed interface, through sub-interfaces. */
    static Set<String> permittedRecords(Class<?> sealed) {
        Set<String> names = new LinkedHashSet<>();
        for (Class<?> c : sealed.getPermittedSubclasses()) {
            if (c.isSealed()) {
                names.addAll(permittedRecords(c));
            } else {
                names.add(c.getSimpleName());
            }
        }
        return names;
    }

    @SafeVarargs
    static <E> List<E> listOf(List<? extends E>... lists) {
        List<E> all = new ArrayList<>();
        for (List<? extends E> l : lists) {
            all.addAll(l);
        }
        return all;
    }
}
