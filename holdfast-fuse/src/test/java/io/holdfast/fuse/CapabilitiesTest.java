package io.holdfast.fuse;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The file system's capabilities are what the caller declares in {@link FuseOptions}. */
class CapabilitiesTest {
    @TempDir
    Path dir;

    @Test
    void defaultsAreTheLocalDiskAndCopiesKeepTheDeclaration() {
        assertThat(FuseOptions.defaults().capabilities()).isEqualTo(Capabilities.LOCAL);
        assertThat(new FuseOptions(false, false, false, Duration.ZERO, "holdfast-x").capabilities())
                .isEqualTo(Capabilities.LOCAL);
        FuseOptions declared = FuseOptions.defaults().withCapabilities(Capabilities.HOLDFAST);
        assertThat(declared.withFsName("holdfast-y")
                        .withReadOnly(true)
                        .withCacheTimeout(Duration.ofSeconds(1))
                        .withCallerScope(CallerScope.NONE)
                        .capabilities())
                .isEqualTo(Capabilities.HOLDFAST);
        assertThat(Capabilities.LOCAL).isEqualTo(new Capabilities(false, Capabilities.Ownership.PROCESS, false));
        assertThat(Capabilities.HOLDFAST).isEqualTo(new Capabilities(true, Capabilities.Ownership.CALLER, true));
        assertThatNullPointerException().isThrownBy(() -> new Capabilities(true, null, true));
        assertThatNullPointerException().isThrownBy(() -> FuseOptions.defaults().withCapabilities(null));
    }

    /**
     * The same local directory served twice, once declared with exact modes (which the local disk
     * does not have: its provider applies the umask) and once without: the declaration decides
     * whether mkdir sets the mode in one step, not the file system the path belongs to.
     */
    @Test
    void exactModesAreTakenAsDeclaredNotInferredFromTheFileSystem() throws IOException {
        int umask = umask();
        assumeTrue((umask & 0777) != 0, "the umask is 0: one step and two steps give the same mode");
        Capabilities twoSteps = new Capabilities(false, Capabilities.Ownership.CALLER, false);
        Capabilities oneStep = new Capabilities(true, Capabilities.Ownership.CALLER, false);

        assertThat(ops(twoSteps).mkdir("/declared-two-steps", 0777)).isZero();
        assertThat(ops(oneStep).mkdir("/declared-one-step", 0777)).isZero();

        assertThat(mode(dir.resolve("declared-two-steps"))).isEqualTo(0777);
        assertThat(mode(dir.resolve("declared-one-step")))
                .as("created in one step: the umask applies")
                .isEqualTo(0777 & ~umask);
    }

    private PathFuseOperations ops(Capabilities declared) {
        return new PathFuseOperations(dir, FuseOptions.defaults().withCapabilities(declared), null, Clock.systemUTC());
    }

    private static int mode(Path p) throws IOException {
        return ((Number) Files.getAttribute(p, "unix:mode")).intValue() & 07777;
    }

    /** This process's umask from {@code /proc/self/status}. */
    private static int umask() throws IOException {
        Path status = Path.of("/proc/self/status");
        assumeTrue(Files.isReadable(status), "needs Linux /proc");
        return Files.readAllLines(status).stream()
                .filter(l -> l.startsWith("Umask:"))
                .map(l -> Integer.parseInt(l.substring(6).trim(), 8))
                .findFirst()
                .orElseThrow();
    }
}
