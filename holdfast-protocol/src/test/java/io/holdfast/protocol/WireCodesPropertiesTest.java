package io.holdfast.protocol;

import static io.holdfast.protocol.Gen.w;
import static io.holdfast.protocol.Gen.weighted;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import io.holdfast.common.Errno;
import java.util.Arrays;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

/**
 * The small parsers: {@link Errno#fromCode}, {@link FileType#fromCode}, the scrub states and
 * actions, {@link
 * ClusterMap#checkVolumeName} and {@link ClusterMap#checkAddress}, which throw only the {@link
 * IllegalArgumentException} they document.
 */
class WireCodesPropertiesTest {
    private static final Map<Integer, Errno> ERRNOS =
            Arrays.stream(Errno.values()).collect(Collectors.toMap(Errno::code, Function.identity()));

    @Provide
    Arbitrary<Integer> codes() {
        return weighted(w(4, Arbitraries.integers().between(-2, 130)), w(1, Arbitraries.integers()));
    }

    @Example
    void codesAreDistinctAndRoundTrip() {
        assertThat(ERRNOS).hasSize(Errno.values().length);
        for (Errno e : Errno.values()) {
            assertThat(Errno.fromCode(e.code())).isSameAs(e);
        }
        for (FileType t : FileType.values()) {
            assertThat(FileType.fromCode(t.code())).isSameAs(t);
        }
    }

    @Property(tries = 500)
    void scrubCodesKnowExactlyZeroOneTwo(@ForAll("codes") int code) {
        Statistics.label("outcome").collect(code >= 0 && code <= 2 ? "known" : "unknown");
        if (code >= 0 && code <= 2) {
            assertThat(ScrubStats.State.fromCode(code).code()).isEqualTo(code);
            assertThat(Request.ScrubControl.Action.fromCode(code).code()).isEqualTo(code);
        } else {
            assertThatThrownBy(() -> ScrubStats.State.fromCode(code))
                    .isExactlyInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> Request.ScrubControl.Action.fromCode(code))
                    .isExactlyInstanceOf(IllegalArgumentException.class);
        }
    }

    @Property(tries = 1000)
    void errnoFromCodeKnowsExactlyTheDefinedCodes(@ForAll("codes") int code) {
        Statistics.label("outcome").collect(ERRNOS.containsKey(code) ? "known" : "unknown");
        if (ERRNOS.containsKey(code)) {
            assertThat(Errno.fromCode(code)).isSameAs(ERRNOS.get(code));
        } else {
            assertThatThrownBy(() -> Errno.fromCode(code)).isExactlyInstanceOf(IllegalArgumentException.class);
        }
    }

    @Property(tries = 500)
    void fileTypeFromCodeKnowsExactlyOneToSeven(@ForAll("codes") int code) {
        Statistics.label("outcome").collect(code >= 1 && code <= 7 ? "known" : "unknown");
        if (code >= 1 && code <= 7) {
            assertThat(FileType.fromCode(code).code()).isEqualTo(code);
        } else {
            assertThatThrownBy(() -> FileType.fromCode(code)).isExactlyInstanceOf(IllegalArgumentException.class);
        }
    }

    @Property(tries = 1000)
    void fallocateSupportsExactlyTheDocumentedModes(@ForAll("codes") int mode) {
        // fallocate(2): 0, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE, ZERO_RANGE, ZERO_RANGE|KEEP_SIZE (0x01, 0x02, 0x10)
        boolean documented = mode == 0 || mode == 0x01 || mode == 0x03 || mode == 0x10 || mode == 0x11;
        Statistics.label("outcome").collect(documented ? "supported" : "unsupported");
        assertThat(Request.Fallocate.supported(mode)).as("mode 0x%x", mode).isEqualTo(documented);
    }

    /** The Linux {@code S_IF*} values (sys/stat.h) of the seven types, in code order. */
    private static final int[] FORMAT_BITS = {0100000, 0040000, 0120000, 0010000, 0020000, 0060000, 0140000};

    @Example
    void formatBitsAreTheLinuxValues() {
        for (FileType t : FileType.values()) {
            assertThat(t.formatBits()).as("%s", t).isEqualTo(FORMAT_BITS[t.code() - 1]);
            assertThat(t.isSpecial()).as("%s", t).isEqualTo(t.code() >= 4);
            assertThat(t.isDevice())
                    .as("%s", t)
                    .isEqualTo(t == FileType.CHARACTER_DEVICE || t == FileType.BLOCK_DEVICE);
        }
    }

    /** {@link FileType#fromFormatBits} knows exactly the seven type values and ignores the permission bits. */
    @Property(tries = 1000)
    void fileTypeFromFormatBitsKnowsExactlyTheSevenTypes(@ForAll int mode) {
        int bits = mode & 0170000;
        int index = Arrays.stream(FORMAT_BITS).boxed().toList().indexOf(bits);
        Statistics.label("outcome").collect(index >= 0 ? "known" : "unknown");
        if (index >= 0) {
            assertThat(FileType.fromFormatBits(mode).code()).isEqualTo(index + 1);
        } else {
            assertThatThrownBy(() -> FileType.fromFormatBits(mode)).isExactlyInstanceOf(IllegalArgumentException.class);
        }
    }

    /** The documented rule: 1-64 of letters, digits, '.', '_', '-', and not "." or "..". */
    static boolean validVolumeName(String s) {
        if (s == null || s.isEmpty() || s.length() > 64 || s.equals(".") || s.equals("..")) {
            return false;
        }
        return s.chars()
                .allMatch(c -> (c >= 'a' && c <= 'z')
                        || (c >= 'A' && c <= 'Z')
                        || (c >= '0' && c <= '9')
                        || c == '.'
                        || c == '_'
                        || c == '-');
    }

    @Provide
    Arbitrary<String> volumeNames() {
        Arbitrary<String> alphabet =
                Arbitraries.strings().withChars("abzAZ09._-").ofMinLength(0).ofMaxLength(66);
        Arbitrary<String> mixed =
                Arbitraries.strings().withChars("aZ9._-/ :é\0\n").ofMaxLength(70);
        return weighted(
                w(4, alphabet),
                w(2, mixed),
                w(1, Arbitraries.of(".", "..", "...", "a")),
                w(1, Arbitraries.strings().ofMaxLength(10)),
                w(1, Arbitraries.just((String) null)));
    }

    @Property(tries = 2000)
    void checkVolumeNameAgreesWithItsJavadoc(@ForAll("volumeNames") String name) {
        boolean valid = validVolumeName(name);
        Statistics.label("outcome").collect(valid ? "valid" : "invalid");
        try {
            ClusterMap.checkVolumeName(name);
        } catch (IllegalArgumentException e) {
            assertThat(valid).as("refused %s", Show.show(name)).isFalse();
            return;
        }
        assertThat(valid).as("accepted %s", Show.show(name)).isTrue();
    }

    @Provide
    Arbitrary<String> addresses() {
        Arbitrary<String> hosts = Arbitraries.strings()
                .withChars("abc.-0123456789")
                .ofMinLength(1)
                .ofMaxLength(20);
        Arbitrary<String> ports = weighted(
                w(6, Arbitraries.integers().between(1, 65535).map(String::valueOf)),
                w(2, Arbitraries.integers().map(String::valueOf)),
                w(1, Arbitraries.of("", "0", "65536", "x", "80a", " 80", "99999999999")));
        Arbitrary<String> wellFormed = Combinators.combine(hosts, ports).as((h, p) -> h + ":" + p);
        Arbitrary<String> anything =
                Arbitraries.strings().withChars("a1:.[]-+ ").ofMaxLength(16);
        return weighted(w(6, wellFormed), w(3, anything), w(1, Arbitraries.just((String) null)));
    }

    @Property(tries = 2000)
    void checkAddressAcceptsHostColonPortAndThrowsNothingElse(@ForAll("addresses") String address) {
        boolean accepted;
        try {
            ClusterMap.checkAddress(address);
            accepted = true;
        } catch (IllegalArgumentException e) {
            accepted = false;
        }
        Statistics.label("outcome").collect(accepted ? "accepted" : "refused");
        if (address == null) {
            assertThat(accepted).isFalse();
            return;
        }
        int i = address.lastIndexOf(':');
        String port = i < 0 ? "" : address.substring(i + 1);
        boolean canonical = i > 0 && port.matches("[1-9][0-9]{0,4}") && Integer.parseInt(port) <= 65535;
        if (canonical) {
            assertThat(accepted).as("refused %s", Show.show(address)).isTrue();
        }
        if (accepted) {
            assertThat(i).as("host of accepted %s", Show.show(address)).isPositive();
            long p;
            try {
                p = Long.parseLong(port);
            } catch (NumberFormatException e) {
                fail("accepted " + Show.show(address) + " with port " + Show.show(port));
                return;
            }
            assertThat(p).as("port of accepted %s", Show.show(address)).isBetween(1L, 65535L);
        }
    }
}
