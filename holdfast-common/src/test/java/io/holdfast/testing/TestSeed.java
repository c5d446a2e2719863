package io.holdfast.testing;

import java.security.SecureRandom;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The one seed of every randomized test in the project: {@code -Dholdfast.seed=N} replays a
 * run, otherwise each test JVM draws a fresh seed. Tests take their randomness from here
 * ({@link #random()}, or {@link #random(String)} for an independent stream per purpose), never
 * from an unseeded or fixed-seed {@link Random}; the seed is printed the first time it is used
 * and again with every failing test ({@link SeedReporter}) and property ({@link SeedHook}).
 *
 * <p>Thread-safe. The seed is fixed for the JVM's lifetime, so tests that run in one JVM
 * share it; each derives its own streams from it by name, so the order in which tests run
 * does not change what a given test draws.
 */
public final class TestSeed {
    /** The system property that fixes the seed. */
    public static final String PROPERTY = "holdfast.seed";

    private static final long SEED = initial();
    private static final AtomicBoolean USED = new AtomicBoolean();

    private TestSeed() {}

    private static long initial() {
        String fixed = System.getProperty(PROPERTY);
        if (fixed == null || fixed.isBlank()) {
            return new SecureRandom().nextLong();
        }
        try {
            return Long.parseLong(fixed.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-D" + PROPERTY + " must be a long, got '" + fixed + "'", e);
        }
    }

    /** The seed of this JVM's randomized tests (printed on first use). */
    public static long seed() {
        if (USED.compareAndSet(false, true)) {
            System.out.println("randomized tests: " + replay());
        }
        return SEED;
    }

    /** Whether any test has used the seed in this JVM. */
    static boolean used() {
        return USED.get();
    }

    /** How to replay this run, e.g. {@code holdfast.seed=42 (replay with -Dholdfast.seed=42)}. */
    public static String replay() {
        return PROPERTY + "=" + SEED + " (replay with -D" + PROPERTY + "=" + SEED + ")";
    }

    /**
     * A new generator seeded with {@link #seed()}. Not thread-safe (as {@link Random} used from several threads is
     * contended).
     */
    public static Random random() {
        return new Random(seed());
    }

    /**
     * A new generator for one purpose, seeded from {@link #seed()} and {@code stream}: tests that
     * draw several independent streams (one per writer thread, say) name them, so that a stream
     * does not change when another is drawn from more or less.
     */
    public static Random random(String stream) {
        return new Random(derive(stream));
    }

    /** A seed derived from {@link #seed()} and {@code stream} (SplitMix64 finaliser of their mix). */
    public static long derive(String stream) {
        long z = seed() ^ (stream.hashCode() * 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
