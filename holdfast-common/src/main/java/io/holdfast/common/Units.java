package io.holdfast.common;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;

/**
 * The one way Holdfast shows byte counts and rates to people (the CLI, the benchmarks' reports):
 * binary units (B, KiB, MiB, GiB, TiB, PiB, EiB; as the CLI's {@code MiB/s} options take them),
 * three significant digits without trailing zeros, in the largest unit that keeps the number at
 * least 1. So a small rate still shows
 * its value ({@code 735 KiB/s}, {@code 12 B/s}, never {@code 0.0 MB/s}) and sizes read as
 * {@code 1.5 KiB}, {@code 64 MiB}, {@code 203 MiB}, {@code 1 GiB}. Whole bytes below 1000 are
 * exact ({@code 999 B}). Stateless and thread-safe.
 */
public final class Units {
    private Units() {}

    private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    private static final MathContext THREE_DIGITS = new MathContext(3, RoundingMode.HALF_UP);

    /**
     * A byte count: {@code 0 B}, {@code 999 B}, {@code 1.5 KiB}, {@code 203 MiB}.
     *
     * @param bytes a count; negative counts are shown as {@code -}
     */
    public static String size(long bytes) {
        return bytes < 0 ? "-" : scaled(bytes);
    }

    /**
     * A rate: {@code 12 B/s}, {@code 735 KiB/s}, {@code 8 MiB/s}; {@code -} for a rate that is
     * negative, infinite or not a number (e.g. bytes over no time).
     */
    public static String rate(double bytesPerSecond) {
        return Double.isFinite(bytesPerSecond) && bytesPerSecond >= 0 ? scaled(bytesPerSecond) + "/s" : "-";
    }

    private static String scaled(double value) {
        int unit = 0;
        double v = value;
        // 1000 or more of a unit is shown in the next one (0.98 KiB rather than 1000 B or 1.0e3 B)
        while (v >= 1000 && unit < UNITS.length - 1) {
            v /= 1024;
            unit++;
        }
        BigDecimal d = new BigDecimal(v).round(THREE_DIGITS);
        if (d.compareTo(BigDecimal.valueOf(1000)) >= 0 && unit < UNITS.length - 1) {
            d = new BigDecimal(v / 1024).round(THREE_DIGITS); // 999.7 KiB rounds to 1000: 0.976 MiB
            unit++;
        }
        if (unit == 0 && value == Math.rint(value)) {
            d = BigDecimal.valueOf((long) value); // whole bytes are exact
        }
        return d.stripTrailingZeros().toPlainString() + " " + UNITS[unit];
    }
}
