package io.holdfast.common;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class UnitsTest {
    @Test
    void sizesInBinaryUnitsWithThreeSignificantDigits() {
        assertThat(Units.size(0)).isEqualTo("0 B");
        assertThat(Units.size(999)).isEqualTo("999 B");
        assertThat(Units.size(1000)).isEqualTo("0.977 KiB");
        assertThat(Units.size(1536)).isEqualTo("1.5 KiB");
        assertThat(Units.size(64L << 20)).isEqualTo("64 MiB");
        assertThat(Units.size(213_300_000L)).isEqualTo("203 MiB");
        assertThat(Units.size(3L << 30)).isEqualTo("3 GiB");
        assertThat(Units.size((1L << 30) + (1L << 29))).isEqualTo("1.5 GiB");
        assertThat(Units.size(1_023_693))
                .as("999.7 KiB would round to 1000 KiB")
                .isEqualTo("0.976 MiB");
        assertThat(Units.size(Long.MAX_VALUE)).isEqualTo("8 EiB");
        assertThat(Units.size(-1)).isEqualTo("-");
    }

    @Test
    void smallRatesKeepTheirValue() {
        assertThat(Units.rate(0)).isEqualTo("0 B/s");
        assertThat(Units.rate(12)).isEqualTo("12 B/s");
        assertThat(Units.rate(0.5)).isEqualTo("0.5 B/s");
        assertThat(Units.rate(752_646)).as("213.3 MB in 283.4 s: 0.8 MB/s").isEqualTo("735 KiB/s");
        assertThat(Units.rate(40_000)).as("0.0 MB/s with one decimal in MB").isEqualTo("39.1 KiB/s");
        assertThat(Units.rate(8 << 20)).isEqualTo("8 MiB/s");
        assertThat(Units.rate(7.8 * (1 << 20))).isEqualTo("7.8 MiB/s");
        assertThat(Units.rate(Double.NaN)).isEqualTo("-");
        assertThat(Units.rate(Double.POSITIVE_INFINITY)).isEqualTo("-");
    }
}
