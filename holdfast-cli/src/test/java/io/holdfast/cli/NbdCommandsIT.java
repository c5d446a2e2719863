package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.bench.NbdBench;
import io.holdfast.testkit.MiniCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code holdfast nbd create|list|resize|rm} and {@code holdfast bench nbd} against a three-node
 * cluster in this JVM, and the argument checks of {@code nbd serve} (serving itself is NbdIT's, in
 * holdfast-testkit).
 */
class NbdCommandsIT {
    static MiniCluster cluster;
    static String address;

    @TempDir
    static Path clusterDir;

    @BeforeAll
    static void startCluster() throws IOException {
        cluster = MiniCluster.start(clusterDir, 3, 20000);
        cluster.createVolume("vms", 0, 1, 2);
        address = cluster.addresses().get(0);
    }

    @AfterAll
    static void stopCluster() throws IOException {
        if (cluster != null) {
            cluster.close();
        }
    }

    private static Cli holdfast(String... args) {
        String[] withCluster = Arrays.copyOf(args, args.length + 2);
        withCluster[args.length] = "--cluster=" + address;
        withCluster[args.length + 1] = "--tls=" + clusterDir.resolve("tls-admin");
        return Cli.run(withCluster);
    }

    private static Cli ok(String... args) {
        Cli r = holdfast(args);
        assertThat(r.exit())
                .as("exit of %s, stderr %s", String.join(" ", args), r.err())
                .isZero();
        return r;
    }

    @Test
    void createListResizeRemove() {
        assertThat(ok("nbd", "create", "vms:/disks/a.img", "64MiB").out())
                .contains("created vms:/disks/a.img, 64 MiB (67108864 bytes); export name vms/disks/a.img");
        assertThat(holdfast("nbd", "create", "vms:/disks/a.img", "1G").exit())
                .as("exists")
                .isEqualTo(1);
        ok("put", "/dev/null", "vms:/not-an-image");
        String list = ok("nbd", "list", "vms").out();
        assertThat(list).contains("vms/disks/a.img").contains("64 MiB").doesNotContain("not-an-image");
        assertThat(ok("ls", "-l", "vms:/disks").out()).contains("67108864");

        assertThat(ok("nbd", "resize", "vms:/disks/a.img", "128M").out()).contains("from 64 MiB to 128 MiB");
        assertThat(ok("ls", "-l", "vms:/disks").out()).contains("134217728");
        Cli shrink = holdfast("nbd", "resize", "vms:/disks/a.img", "1M");
        assertThat(shrink.exit()).as("shrinking needs --shrink").isEqualTo(2);
        assertThat(shrink.err()).contains("--shrink");
        assertThat(ok("ls", "-l", "vms:/disks").out()).contains("134217728");
        ok("nbd", "resize", "vms:/disks/a.img", "1M", "--shrink");
        assertThat(ok("ls", "-l", "vms:/disks").out()).contains("1048576");

        Cli notImage = holdfast("nbd", "rm", "vms:/not-an-image");
        assertThat(notImage.exit()).isEqualTo(1);
        assertThat(notImage.err()).contains("not an image");
        assertThat(ok("ls", "vms:/").out()).contains("not-an-image");
        ok("nbd", "rm", "vms:/disks/a.img");
        assertThat(ok("nbd", "list", "vms").out()).contains("no images");
    }

    @Test
    void benchMeasuresANewImageAgainstNbdkitAndDeletesIt(@TempDir Path work) throws IOException {
        assumeTrue(NbdBench.missingTools().isEmpty(), "needs " + NbdBench.TOOLS);
        Cli r = ok(
                "bench",
                "nbd",
                "vms:/bench.img",
                "--size",
                "4MiB",
                "--seconds",
                "1",
                "--json",
                "--work",
                work.toString());
        JsonNode report = new ObjectMapper().readTree(r.out());
        assertThat(report.path("export").asText())
                .startsWith("nbd://127.0.0.1:")
                .endsWith("/vms/bench.img");
        assertThat(report.path("rows")).hasSize(4);
        for (JsonNode row : report.path("rows")) {
            assertThat(row.path("nbdkitFile").asDouble()).as("%s", row).isPositive();
            assertThat(row.path("holdfast").asDouble()).as("%s", row).isPositive();
        }
        assertThat(r.err()).contains("nbdcopy 4194304 bytes out");
        assertThat(ok("ls", "vms:/").out()).doesNotContain("bench.img");
        try (var left = Files.list(work)) {
            assertThat(left).as("work files deleted").isEmpty();
        }

        ok("nbd", "create", "vms:/taken.img", "4MiB");
        Cli taken = holdfast("bench", "nbd", "vms:/taken.img", "--size", "4MiB", "--seconds", "1");
        assertThat(taken.exit()).as("an image that exists is not overwritten").isEqualTo(1);
        assertThat(ok("nbd", "list", "vms").out()).contains("vms/taken.img");
        ok("nbd", "rm", "vms:/taken.img");
        assertThat(holdfast("bench", "nbd", "nonsense", "--quick").exit()).isEqualTo(2);
        assertThat(holdfast("bench", "nbd", "vms:/x.img", "--size", "1000").exit())
                .as("not a multiple of 4 KiB")
                .isEqualTo(2);
    }

    @Test
    void badArgumentsAreUsageErrorsThatChangeNothing() {
        assertThat(holdfast("nbd", "create", "vms:/z.img", "0").exit()).isEqualTo(2);
        assertThat(holdfast("nbd", "create", "vms:/z.img", "2T").exit())
                .as("over 1 TiB")
                .isEqualTo(2);
        assertThat(holdfast("nbd", "create", "/tmp/local.img", "1M").exit())
                .as("not on a volume")
                .isEqualTo(2);
        assertThat(ok("ls", "vms:/").out()).doesNotContain("z.img");
        Cli remote = holdfast("nbd", "serve", "--listen", "192.0.2.1:10809");
        assertThat(remote.exit()).as("non-loopback without --plaintext-network").isEqualTo(2);
        assertThat(remote.err()).contains("--plaintext-network");
        assertThat(holdfast("nbd", "serve", "--listen", "nonsense").exit()).isEqualTo(2);
        Cli noCert = holdfast("nbd", "serve", "--nbd-tls", "require");
        assertThat(noCert.exit()).as("TLS without a certificate").isEqualTo(2);
        assertThat(noCert.err()).contains("--nbd-cert");
        assertThat(holdfast("nbd", "serve", "--nbd-tls", "maybe").exit()).isEqualTo(2);
        Cli optional = holdfast(
                "nbd", "serve", "--listen", "192.0.2.1:10809", "--nbd-tls", "on", "--nbd-cert", clusterDir.toString());
        assertThat(optional.exit()).as("TLS optional off loopback").isEqualTo(2);
        assertThat(optional.err()).contains("--plaintext-network");
        Cli missing = holdfast(
                "nbd", "serve", "--nbd-cert", clusterDir.resolve("no-such-dir").toString());
        assertThat(missing.exit()).as("a certificate that is not there").isEqualTo(1);
        assertThat(missing.err()).contains("missing TLS file").contains("holdfast cert node");
        assertThat(holdfast("nbd", "serve", "--export", "no-slash").exit()).isEqualTo(2);
    }
}
