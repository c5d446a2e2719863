package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The overlay demo's base tree and its tree comparison, which decides PASS or FAIL. */
class OverlayDemoTest {
    @TempDir
    Path tmp;

    @Test
    void theBaseTreeIsTheSameEveryRunAndComparesIdentical() throws Exception {
        OverlayDemo.Shape s = OverlayDemo.buildBase(tmp.resolve("a"));
        OverlayDemo.buildBase(tmp.resolve("b"));
        assertThat(s.files).isGreaterThanOrEqualTo(250);
        assertThat(s.dirs).isGreaterThanOrEqualTo(10);
        assertThat(s.links).isEqualTo(4);
        assertThat(OverlayDemo.compareTrees(tmp.resolve("a"), tmp.resolve("b"))).isEmpty();
        assertThat(OverlayDemo.Tree.of(tmp.resolve("a")).hardLinkGroups()).hasSize(1);
    }

    @Test
    void everyKindOfDifferenceIsReported() throws Exception {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        OverlayDemo.buildBase(a);
        OverlayDemo.buildBase(b);
        Files.setPosixFilePermissions(b.resolve("bin/run.sh"), PosixFilePermissions.fromString("rw-r--r--"));
        Files.writeString(b.resolve("docs/report-02.txt"), "other content");
        Files.delete(b.resolve("docs/latest"));
        Files.createSymbolicLink(b.resolve("docs/latest"), Path.of("report-39.txt"));
        Files.delete(b.resolve("mail/new/0001.eml"));
        Files.writeString(b.resolve("extra.txt"), "not expected");
        Path copy = Files.copy(b.resolve("docs/manual.pdf"), b.resolve("docs/tmp.pdf"));
        Files.move(copy, b.resolve("docs/manual-copy.pdf"), StandardCopyOption.REPLACE_EXISTING); // same bytes
        Files.delete(b.resolve("src/b/include/api.h"));
        Files.createDirectory(b.resolve("src/b/include/api.h"));

        assertThat(OverlayDemo.compareTrees(a, b))
                .containsExactlyInAnyOrder(
                        "mode differs: bin/run.sh (0755 expected, 0644)",
                        "content differs: docs/report-02.txt",
                        "link target differs: docs/latest",
                        "missing: mail/new/0001.eml",
                        "unexpected: extra.txt",
                        "type differs: src/b/include/api.h (f expected, d)",
                        "hard links differ: [[docs/manual-copy.pdf, docs/manual.pdf]] expected, []");
    }
}
