package io.holdfast.protocol;

import io.holdfast.common.Caller;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.Tuple;
import net.jqwik.api.Tuple.Tuple2;

/**
 * Building blocks for the decoder properties: strings, byte arrays, lists and callers.
 *
 * <p>{@link #VALID} stays within every protocol limit (often exactly at a limit); {@link
 * #STRETCHED} produces sizes around each limit, on both sides, for the limit models. Large
 * values are filled from a generated seed instead of element by element, so that they are
 * cheap to generate and still shrink by size.
 */
final class Gen {
    /** Values within every limit. */
    static final Gen VALID = new Gen(false);
    /** Values around every limit, some just over it. */
    static final Gen STRETCHED = new Gen(true);

    private final boolean stretched;

    private Gen(boolean stretched) {
        this.stretched = stretched;
    }

    // ------------------------------------------------------------------ weights

    /** One weighted choice for {@link #weighted}. */
    static <T> Tuple2<Integer, Arbitrary<T>> w(int weight, Arbitrary<? extends T> arbitrary) {
        Arbitrary<T> widened = arbitrary.map(x -> x);
        return Tuple.of(weight, widened);
    }

    /** Chooses among arbitraries by weight. */
    @SafeVarargs
    static <T> Arbitrary<T> weighted(Tuple2<Integer, Arbitrary<T>>... choices) {
        List<Tuple2<Integer, Arbitrary<T>>> list = new ArrayList<>();
        for (Tuple2<Integer, Arbitrary<T>> c : choices) {
            list.add(c);
        }
        return Arbitraries.frequencyOf(list);
    }

    // ------------------------------------------------------------------ text

    /**
     * Unicode scalar values (never a surrogate), covering every UTF-8 length: half printable
     * ASCII, the rest control characters, 2-, 3- and 4-byte characters. Shrinks toward a space.
     */
    static Arbitrary<Integer> codePoints() {
        return Arbitraries.integers().between(0, Integer.MAX_VALUE).map(Gen::codePoint);
    }

    /** A random scalar value with the distribution of {@link #codePoints()}. */
    static int randomCodePoint(Random r) {
        return codePoint(r.nextInt(Integer.MAX_VALUE));
    }

    /** The scalar value an index stands for: the index modulo 20 picks the kind. */
    private static int codePoint(int i) {
        int k = i % 20;
        int v = i / 20;
        if (k < 10) {
            return 0x20 + v % 0x5f;
        } else if (k < 11) {
            return v % 0x20;
        } else if (k < 14) {
            return 0x80 + v % 0x780;
        } else if (k < 17) {
            return 0x800 + v % (0xd800 - 0x800);
        } else if (k < 18) {
            return 0xe000 + v % 0x2000;
        }
        return 0x10000 + v % 0x100000;
    }

    /** UTF-8 length of one scalar value, from the Unicode definition. */
    static int utf8Length(int codePoint) {
        if (codePoint < 0x80) {
            return 1;
        } else if (codePoint < 0x800) {
            return 2;
        } else if (codePoint < 0x10000) {
            return 3;
        }
        return 4;
    }

    /**
     * UTF-8 length of a string, counting code points; a lone surrogate counts as the one byte
     * {@code '?'} that {@link String#getBytes} writes for it.
     */
    static int utf8Length(String s) {
        int n = 0;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            n += Character.isSurrogate((char) cp) && cp < 0x10000 ? 1 : utf8Length(cp);
            i += Character.charCount(cp);
        }
        return n;
    }

    /** A string of valid UTF-16 whose UTF-8 encoding is exactly {@code bytes} long. */
    static String randomText(Random r, int bytes) {
        StringBuilder sb = new StringBuilder();
        int left = bytes;
        while (left > 0) {
            int cp = randomCodePoint(r);
            if (utf8Length(cp) > left) {
                cp = 'a' + r.nextInt(26);
            }
            sb.appendCodePoint(cp);
            left -= utf8Length(cp);
        }
        return sb.toString();
    }

    /** A string of valid UTF-16 of {@code chars} UTF-16 units or one more. */
    static String randomChars(Random r, int chars) {
        StringBuilder sb = new StringBuilder();
        while (sb.length() < chars) {
            sb.appendCodePoint(randomCodePoint(r));
        }
        return sb.toString();
    }

    private static String string(List<Integer> codePoints) {
        StringBuilder sb = new StringBuilder();
        codePoints.forEach(sb::appendCodePoint);
        return sb.toString();
    }

    /** Strings of exactly the generated number of UTF-8 bytes, from {@code min} to {@code max}. */
    static Arbitrary<String> textOfBytes(int min, int max) {
        return Combinators.combine(
                        Arbitraries.integers()
                                .between(Math.max(0, min), max)
                                .withDistribution(RandomDistribution.biased()),
                        Arbitraries.longs())
                .as((n, seed) -> randomText(new Random(seed), n));
    }

    /**
     * Valid UTF-16 strings whose UTF-8 encoding fits in {@code maxBytes}, sometimes exactly; when
     * stretched, also strings of {@code maxBytes - 3} to {@code maxBytes + 3} bytes.
     */
    Arbitrary<String> text(int maxBytes) {
        Arbitrary<String> small =
                codePoints().list().ofMaxSize(Math.min(24, maxBytes / 4)).map(Gen::string);
        Arbitrary<String> full = Arbitraries.longs().map(seed -> randomText(new Random(seed), maxBytes));
        if (stretched) {
            return weighted(w(3, small), w(3, textOfBytes(maxBytes - 3, maxBytes + 3)));
        }
        return weighted(w(6, small), w(3, textOfBytes(0, maxBytes)), w(1, full));
    }

    /**
     * Strings of any UTF-16 units, lone surrogates and NUL included (what modified UTF-8 carries),
     * at most {@code maxChars} long.
     */
    static Arbitrary<String> anyChars(int maxChars) {
        Arbitrary<Character> units = weighted(
                w(8, Arbitraries.chars().range(' ', '~')),
                w(1, Arbitraries.just('\0')),
                w(2, Arbitraries.chars().range('\u0001', '\u07ff')),
                w(2, Arbitraries.chars().range('\u0800', '\uffff')),
                w(1, Arbitraries.chars().range('\ud800', '\udfff')));
        return units.list().ofMaxSize(maxChars).map(cs -> {
            StringBuilder sb = new StringBuilder();
            cs.forEach(sb::append);
            return sb.toString();
        });
    }

    // ------------------------------------------------------------------ bytes and lists

    static byte[] randomBytes(long seed, int length) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** Byte arrays of at most {@code maxLength} bytes (around it when stretched). */
    Arbitrary<byte[]> bytes(int maxLength) {
        Arbitrary<byte[]> small = Arbitraries.bytes().array(byte[].class).ofMaxSize(Math.min(64, maxLength));
        if (stretched) {
            Arbitrary<byte[]> near = Combinators.combine(
                            Arbitraries.integers().between(Math.max(0, maxLength - 2), maxLength + 2),
                            Arbitraries.longs())
                    .as((n, seed) -> randomBytes(seed, n));
            return weighted(w(3, small), w(2, near));
        }
        Arbitrary<byte[]> any = Combinators.combine(
                        Arbitraries.integers().between(0, maxLength).withDistribution(RandomDistribution.biased()),
                        Arbitraries.longs())
                .as((n, seed) -> randomBytes(seed, n));
        Arbitrary<byte[]> full = Arbitraries.longs().map(seed -> randomBytes(seed, maxLength));
        return weighted(w(8, small), w(3, any), w(1, full));
    }

    /**
     * Lists of at most {@code maxSize} elements: usually a few generated ones, sometimes exactly
     * {@code maxSize} (around it when stretched) made by {@code big} from a seeded random.
     */
    <E> Arbitrary<List<E>> list(Arbitrary<E> element, Function<Random, E> big, int maxSize) {
        return list(element, big, maxSize, stretched ? 4 : 12, 8);
    }

    /**
     * As {@link #list(Arbitrary, Function, int)}, with short lists of at most {@code maxFew}
     * elements weighing {@code fewWeight} against one long list.
     */
    <E> Arbitrary<List<E>> list(Arbitrary<E> element, Function<Random, E> big, int maxSize, int fewWeight, int maxFew) {
        Arbitrary<List<E>> few = element.list().ofMaxSize(Math.min(maxFew, maxSize));
        int lo = stretched ? maxSize - 1 : maxSize;
        int hi = stretched ? maxSize + 1 : maxSize;
        Arbitrary<List<E>> many = Combinators.combine(Arbitraries.integers().between(lo, hi), Arbitraries.longs())
                .as((n, seed) -> {
                    Random r = new Random(seed);
                    List<E> out = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        out.add(big.apply(r));
                    }
                    return out;
                });
        return weighted(w(fewWeight, few), w(1, many));
    }

    /** Callers with up to {@link Limits#MAX_GROUPS} groups (around it when stretched). */
    Arbitrary<Caller> callers() {
        Arbitrary<int[]> few = Arbitraries.integers().array(int[].class).ofMaxSize(6);
        Arbitrary<int[]> many = stretched
                ? Arbitraries.integers()
                        .array(int[].class)
                        .ofMinSize(Limits.MAX_GROUPS - 1)
                        .ofMaxSize(Limits.MAX_GROUPS + 2)
                : Arbitraries.integers().array(int[].class).ofMaxSize(Limits.MAX_GROUPS);
        Arbitrary<int[]> groups = weighted(w(6, few), w(1, many));
        return Combinators.combine(Arbitraries.integers(), Arbitraries.integers(), groups)
                .as(Caller::new);
    }
}
