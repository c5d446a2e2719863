package io.holdfast.testing;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;

/**
 * A JUnit Jupiter extension that adds the run's seed to the failure of a test that used it
 * ({@link TestSeed}). Registered for every test by JUnit's extension auto-detection (the
 * build sets {@code junit.jupiter.extensions.autodetection.enabled}).
 */
public final class SeedReporter implements TestExecutionExceptionHandler {
    @Override
    public void handleTestExecutionException(ExtensionContext context, Throwable failure) throws Throwable {
        if (TestSeed.used()) {
            failure.addSuppressed(new SeedInfo(context.getDisplayName() + " ran with " + TestSeed.replay()));
            System.out.println(context.getUniqueId() + " failed; " + TestSeed.replay());
        }
        throw failure;
    }

    /** Carries the seed in a failure report. */
    static final class SeedInfo extends Exception {
        SeedInfo(String message) {
            super(message, null, false, false);
        }
    }
}
