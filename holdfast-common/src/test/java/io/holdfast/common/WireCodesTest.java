package io.holdfast.common;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The code table: every constant round-trips, unknown codes and broken enums are refused. */
class WireCodesTest {
    enum Sparse implements WireCode {
        A(0),
        B(7),
        C(300);

        private final int code;

        Sparse(int code) {
            this.code = code;
        }

        @Override
        public int code() {
            return code;
        }
    }

    enum Twice implements WireCode {
        A,
        B;

        @Override
        public int code() {
            return 1;
        }
    }

    enum Negative implements WireCode {
        A;

        @Override
        public int code() {
            return -1;
        }
    }

    @Test
    void everyConstantRoundTripsAndNothingElseIsKnown() {
        WireCodes<Sparse> codes = WireCodes.of(Sparse.class, "sparse thing");
        for (Sparse s : Sparse.values()) {
            assertThat(codes.fromCode(s.code())).isSameAs(s);
        }
        for (int code : new int[] {-1, 1, 6, 8, 299, 301, Integer.MIN_VALUE, Integer.MAX_VALUE}) {
            assertThatThrownBy(() -> codes.fromCode(code))
                    .isExactlyInstanceOf(IllegalArgumentException.class)
                    .hasMessage("unknown sparse thing " + code);
        }
    }

    @Test
    void sharedAndOutOfRangeCodesAreRefused() {
        assertThatThrownBy(() -> WireCodes.of(Twice.class, "twice"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("share code 1");
        assertThatThrownBy(() -> WireCodes.of(Negative.class, "negative"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("outside 0..65535");
    }

    @Test
    void errnoCodesAreTheLinuxValues() {
        assertThat(Errno.fromCode(2)).isSameAs(Errno.ENOENT);
        assertThat(Errno.ENOSPC.code()).isEqualTo(28);
        assertThatThrownBy(() -> Errno.fromCode(3)).hasMessage("unknown errno 3");
    }
}
