package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.fuse.FuseMount;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code holdfast demo --overlay} run as a user runs it (its own JVM, which starts the mount and
 * merge processes): it must pass, and its output must show each step's evidence.
 */
class DemoOverlayIT {
    @TempDir
    Path tmp;

    @Test
    void theOverlayDemoPassesAndShowsEachStep() throws Exception {
        assumeTrue(FuseMount.isAvailable(), "FUSE is not available here");
        Path log = tmp.resolve("demo.log");
        Process demo = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "--enable-native-access=ALL-UNNAMED",
                        "--sun-misc-unsafe-memory-access=allow",
                        "-cp",
                        System.getProperty("java.class.path"),
                        Main.class.getName(),
                        "demo",
                        "--overlay",
                        "--data",
                        tmp.resolve("data").toString())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        boolean ended = demo.waitFor(240, TimeUnit.SECONDS);
        if (!ended) {
            demo.destroyForcibly().waitFor();
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        System.out.println(out);
        assertThat(ended).as("the demo ended within 240 s").isTrue();
        assertThat(demo.exitValue()).as("exit; output:%n%s", out).isZero();
        assertThat(out)
                .contains("step 1/8: build the base tree")
                .contains("INJECTING read errors on LOWER paths matching")
                .contains("cat: mail/cur/0042.eml: Input/output error")
                .contains("sha256sum: photos/2019/img-013.jpg: Input/output error")
                .containsPattern("lower errors +\\d+ on 2 paths")
                .contains("/mail/cur/0042.eml  read x", "/photos/2019/img-013.jpg  read x")
                .contains("killed the merge with SIGKILL (exit status 137)")
                .containsPattern("unchanged +[1-9]\\d* \\(merged before\\)")
                .containsPattern("UPPER emptied +\\d+ removed, 0 kept")
                .containsPattern("\\d+ entries compared .*: identical")
                .contains("entries left in UPPER: 0")
                .contains("holdfast demo --overlay: PASS");
        // the merged base on disk: what the workload wrote, and an unreadable file overwritten
        Path base = tmp.resolve("data/overlay/base");
        assertThat(base.resolve("mail/cur/0007.eml")).hasContent("rewritten after the disk failed");
        assertThat(base.resolve("photos/old")).doesNotExist();
        assertThat(base.resolve("src/b-renamed/file01.c")).exists();
        assertThat(base.resolve("src/b")).doesNotExist();
    }
}
