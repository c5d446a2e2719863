package io.holdfast.protocol;

import static io.holdfast.protocol.Gen.w;
import static io.holdfast.protocol.Gen.weighted;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

/**
 * {@link PathNames#split}, {@link PathNames#checkName} and {@link PathNames#checkLengths}
 * against a model written from their Javadoc: which inputs are valid, and which errno each
 * invalid one gets.
 */
class PathNamesPropertiesTest {

    /** The errno the Javadoc of {@link PathNames#split} gives {@code path}, or null if valid. */
    static Errno modelSplit(String path) {
        if (path == null || path.isEmpty() || path.charAt(0) != '/') {
            return Errno.EINVAL;
        }
        if (Gen.utf8Length(path) > Limits.VOLUME_PATH_MAX) {
            return Errno.ENAMETOOLONG;
        }
        if (path.contains("\0")) {
            return Errno.EINVAL;
        }
        if (path.equals("/")) {
            return null;
        }
        for (String c : path.substring(1).split("/", -1)) {
            Errno e = modelName(c);
            if (e != null) {
                return e;
            }
        }
        return null;
    }

    /** The errno the Javadoc of {@link PathNames#checkName} gives {@code name}, or null if valid. */
    static Errno modelName(String name) {
        if (name.isEmpty()
                || name.equals(".")
                || name.equals("..")
                || name.contains("/")
                || name.contains("\0")
                || name.codePoints().anyMatch(cp -> cp >= Character.MIN_SURROGATE && cp <= Character.MAX_SURROGATE)) {
            return Errno.EINVAL;
        }
        return Gen.utf8Length(name) > Limits.NAME_MAX ? Errno.ENAMETOOLONG : null;
    }

    /** The errno the Javadoc of {@link PathNames#checkLengths} gives {@code path}, or null if none. */
    static Errno modelLengths(String path) {
        if (Gen.utf8Length(path) > Limits.PATH_MAX) {
            return Errno.ENAMETOOLONG;
        }
        for (String c : path.split("/", -1)) {
            if (Gen.utf8Length(c) > Limits.NAME_MAX) {
                return Errno.ENAMETOOLONG;
            }
        }
        return null;
    }

    private static String clean(String s) {
        return s.replace('/', '_').replace('\0', '_');
    }

    @Provide
    Arbitrary<String> names() {
        Arbitrary<String> valid = Gen.VALID.text(40).filter(s -> !s.isEmpty()).map(PathNamesPropertiesTest::clean);
        Arbitrary<String> aroundLimit =
                Gen.textOfBytes(Limits.NAME_MAX - 3, Limits.NAME_MAX + 3).map(PathNamesPropertiesTest::clean);
        Arbitrary<String> dots = Arbitraries.of("", ".", "..", "...", ".a", "a.", "..a");
        Arbitrary<String> withBad = Combinators.combine(
                        valid, Arbitraries.of("/", "\0"), Arbitraries.integers().between(0, 40))
                .as((s, bad, at) ->
                        s.substring(0, Math.min(at, s.length())) + bad + s.substring(Math.min(at, s.length())));
        Arbitrary<String> loneSurrogates = Gen.anyChars(8).filter(s -> !s.isEmpty());
        return weighted(w(8, valid), w(3, aroundLimit), w(2, dots), w(2, withBad), w(2, loneSurrogates));
    }

    @Provide
    Arbitrary<String> paths() {
        Arbitrary<List<String>> components = names().list().ofMaxSize(8);
        Arbitrary<String> structured = Combinators.combine(
                        components, Arbitraries.of("/", "/", "/", "", "//", "./", "../"), Arbitraries.of("", "", "/"))
                .as((cs, lead, trail) -> lead + String.join("/", cs) + trail);
        Arbitrary<String> nearPathMax = Combinators.combine(
                        Arbitraries.integers().between(14, 17),
                        Arbitraries.integers().between(0, 260),
                        Arbitraries.longs())
                .as((n, last, seed) -> {
                    Random r = new Random(seed);
                    StringBuilder sb = new StringBuilder();
                    for (int i = 0; i < n; i++) {
                        sb.append('/').append(clean(Gen.randomText(r, Limits.NAME_MAX)));
                    }
                    return sb.append('/').append("x".repeat(Math.max(1, last))).toString();
                });
        Arbitrary<String> nearVolumePathMax = Combinators.combine(
                        Arbitraries.integers().between(126, 129),
                        Arbitraries.integers().between(1, 260))
                .as((n, last) -> ("/" + "d".repeat(Limits.NAME_MAX)).repeat(n) + "/" + "x".repeat(last));
        Arbitrary<String> chaos = Arbitraries.of("/", "/", ".", "a", "\0", "é", "\ud83d\ude00", "\ud800", "//", "..")
                .list()
                .ofMaxSize(12)
                .map(l -> String.join("", l));
        return weighted(
                w(8, structured),
                w(2, nearPathMax),
                w(1, nearVolumePathMax),
                w(3, chaos),
                w(1, Arbitraries.strings().ofMaxLength(20)),
                w(1, Arbitraries.just((String) null)));
    }

    @Property(tries = 3000)
    void splitAgreesWithTheModel(@ForAll("paths") String path) {
        Errno expected = modelSplit(path);
        Statistics.label("outcome").collect(expected == null ? "valid" : expected.name());
        List<String> parts;
        try {
            parts = PathNames.split(path);
        } catch (HoldfastException e) {
            Show.assertEqual(e.errno(), expected, "errno for " + Show.show(path));
            return;
        } catch (RuntimeException e) {
            throw new AssertionError("split threw " + e + " for " + Show.show(path), e);
        }
        if (expected != null) {
            fail("split accepted " + Show.show(path) + "; the model says " + expected);
        }
        Show.assertEqual(PathNames.join(parts), path, "joined components");
        for (String p : parts) {
            Show.assertEqual(modelName(p), null, "the model's verdict on component " + Show.show(p));
        }
        if (parts.isEmpty()) {
            Show.assertEqual(path, "/", "path without components");
            Show.assertEqual(PathNames.fileName(path), "", "file name of /");
        } else {
            Show.assertEqual(PathNames.fileName(path), parts.getLast(), "file name of " + Show.show(path));
            Show.assertEqual(
                    PathNames.parent(path),
                    PathNames.join(parts.subList(0, parts.size() - 1)),
                    "parent of " + Show.show(path));
        }
    }

    @Property(tries = 2000)
    void checkNameAgreesWithTheModel(@ForAll("names") String name) {
        Errno expected = modelName(name);
        Statistics.label("outcome").collect(expected == null ? "valid" : expected.name());
        try {
            PathNames.checkName(name);
        } catch (HoldfastException e) {
            Show.assertEqual(e.errno(), expected, "errno for " + Show.show(name));
            return;
        } catch (RuntimeException e) {
            throw new AssertionError("checkName threw " + e + " for " + Show.show(name), e);
        }
        Show.assertEqual(expected, null, "the model's verdict on accepted " + Show.show(name));
    }

    @Property(tries = 2000)
    void checkLengthsAgreesWithTheModel(@ForAll("paths") String path) {
        Assume.that(path != null);
        Errno expected = modelLengths(path);
        Statistics.label("outcome").collect(expected == null ? "within limits" : expected.name());
        try {
            PathNames.checkLengths(path);
        } catch (HoldfastException e) {
            Show.assertEqual(e.errno(), expected, "errno for " + Show.show(path));
            return;
        } catch (RuntimeException e) {
            throw new AssertionError("checkLengths threw " + e + " for " + Show.show(path), e);
        }
        Show.assertEqual(expected, null, "the model's verdict on accepted " + Show.show(path));
    }

    @Example
    void limitsCountUtf8BytesNotCharacters() throws HoldfastException {
        assertThat(PathNames.split("/" + "é".repeat(127) + "a")).hasSize(1);
        assertThat(modelSplit("/" + "é".repeat(128))).isEqualTo(Errno.ENAMETOOLONG);
        String path = ("/" + "a".repeat(255)).repeat(16);
        assertThat(path.length()).isEqualTo(Limits.PATH_MAX);
        assertThat(PathNames.split(path)).hasSize(16);
        assertThat(modelLengths(path + "/b")).isEqualTo(Errno.ENAMETOOLONG);
        assertThat(modelLengths(path.substring(0, Limits.PATH_MAX - 2) + "é")).isNull();
    }

    @Example
    void aVolumePathMayBeDeeperThanOneSystemCallsPath() throws HoldfastException {
        String deep = ("/" + "a".repeat(255)).repeat(128);
        assertThat(deep.length()).isEqualTo(Limits.VOLUME_PATH_MAX);
        assertThat(PathNames.split(deep)).hasSize(128);
        assertThat(modelSplit(deep + "/b")).isEqualTo(Errno.ENAMETOOLONG);
        assertThatThrownBy(() -> PathNames.split(deep.substring(0, Limits.VOLUME_PATH_MAX - 1) + "é"))
                .isInstanceOfSatisfying(
                        HoldfastException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENAMETOOLONG));
        assertThatThrownBy(() -> PathNames.checkLengths(deep))
                .as("as one system call's argument it is too long")
                .isInstanceOfSatisfying(
                        HoldfastException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENAMETOOLONG));
        PathNames.checkLengths(deep, Limits.VOLUME_PATH_MAX);
    }
}
