package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@code holdfast demo --keep} tells the user once it is verified; what {@code --overlay} refuses. */
class DemoCommandTest {
    private static final List<String> NODES = List.of("127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003");

    @Test
    void keepSaysItStaysInTheForegroundWhatCtrlCStopsAndHowToRestartANode() {
        Path data = Path.of("/srv/demo/holdfast-data");
        String s = DemoCommand.keepMessage(data, 7001, NODES, data.resolve("mnt"), List.of(101L, 102L, 103L));
        assertThat(s)
                .contains(
                        "stays in the foreground",
                        "stays mounted at /srv/demo/holdfast-data/mnt",
                        "export HOLDFAST_TLS=/srv/demo/holdfast-data/client-tls",
                        "http://127.0.0.1:8001/");
        assertThat(s)
                .contains("Ctrl-C (or SIGTERM) here stops the 3 nodes this demo started and unmounts "
                        + "/srv/demo/holdfast-data/mnt");
        for (int i = 0; i < 3; i++) {
            assertThat(s)
                    .containsPattern(
                            "(?m)^  " + Pattern.quote(NODES.get(i)) + " +pid " + (101 + i) + " +restart by hand: kill "
                                    + (101 + i) + "; holdfast server --data /srv/demo/holdfast-data/n" + (i + 1) + "$");
        }
        assertThat(s).contains("A node restarted by hand runs in your terminal");

        String noMount = DemoCommand.keepMessage(data, 7001, NODES, null, List.of(101L, 102L, 103L));
        assertThat(noMount).doesNotContain("mount").contains("stops the 3 nodes this demo started, then exits.");

        String nbd = DemoCommand.keepMessage(
                data, 7001, NODES, null, List.of(101L, 102L, 103L), "The NBD gateway keeps serving ...\n");
        assertThat(nbd)
                .containsPattern("(?s)The NBD gateway keeps serving .*\nCtrl-C \\(or SIGTERM\\) here stops the NBD"
                        + " gateway and the 3 nodes this demo started, then exits.");
    }

    @Test
    void nbdRefusesOptionsItDoesNotUseAndSizesOutOfRange(@TempDir Path tmp) {
        Cli r = Cli.run("demo", "--nbd", "--no-fuse", "--data", tmp.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--nbd uses no FUSE mount");
        r = Cli.run("demo", "--nbd", "--overlay", "--data", tmp.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--overlay runs on its own");
        r = Cli.run("demo", "--nbd", "--nbd-size", "1MiB", "--data", tmp.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--nbd-size must be from 32MiB to 1TiB: 1 MiB");
        r = Cli.run("demo", "--nbd", "--nbd-size", "lots", "--data", tmp.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("'lots' is not a size");
        assertThat(tmp.resolve("n1")).doesNotExist();
        assertThat(tmp.resolve("nbd")).doesNotExist();
    }

    @Test
    void overlayRunsOnItsOwn(@TempDir Path tmp) {
        Cli r = Cli.run("demo", "--overlay", "--keep", "--data", tmp.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--overlay runs on its own");
        assertThat(tmp.resolve("overlay")).doesNotExist();
    }
}
