package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/** Ordinary tools run through {@code sh -c}, as the integration tests drive a mount. */
final class Shell {
    private static final long TIMEOUT_SECONDS = 60;

    private Shell() {}

    /** Runs {@code command}, its output and errors copied to this process's output; returns the exit status. */
    static int run(String command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("sh", "-c", command)
                .redirectErrorStream(true)
                .start();
        p.getInputStream().transferTo(System.out);
        assertThat(p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS))
                .as("%s finished", command)
                .isTrue();
        return p.exitValue();
    }

    /**
     * Runs {@code command}, asserts that it exits 0, and returns its standard output (standard
     * error goes to this process's, so that it shows in the test report).
     */
    static String sh(String command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("sh", "-c", command)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS))
                .as("%s finished", command)
                .isTrue();
        assertThat(p.exitValue())
                .as("exit status of %s, output: %s", command, out)
                .isZero();
        return out;
    }
}
