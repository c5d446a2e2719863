package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.overlay.OverlayFileSystem;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code holdfast overlay status} on the record an overlay left, and without one. */
class OverlayCommandsTest {
    @TempDir
    Path base;

    private record Run(int status, String out, String err) {}

    private static Run run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int status = Main.run(args);
            return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void statusListsWhatTheOverlayDidAndTheLowerErrors() throws IOException {
        Path lower = Files.createDirectory(base.resolve("lower"));
        Path upper = Files.createDirectory(base.resolve("upper"));
        Files.writeString(lower.resolve("a"), "a");
        Files.writeString(lower.resolve("b"), "b");
        Files.createDirectory(lower.resolve("unreadable"));
        try (OverlayFileSystem fs =
                OverlayFileSystem.open(lower, upper, OverlayFileSystem.defaultWorkDirectory(upper))) {
            Files.writeString(fs.getPath("/a"), "!", StandardOpenOption.APPEND);
            Files.delete(fs.getPath("/b"));
            lower.resolve("unreadable").toFile().setReadable(false);
            try {
                Files.list(fs.getPath("/unreadable")).close();
            } catch (FileSystemException expected) {
                // as root the directory stays readable: no lower error then
            }
        }
        Run r = run("overlay", "status", upper.toString());
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out()).contains("copy-ups        1 (1 bytes)", "whiteouts       1", "lower errors    ");
        Run json = run("overlay", "status", upper.toString(), "--json");
        assertThat(json.out()).contains("\"format\": \"holdfast-overlay-status\"", "\"copyUps\": 1");
    }

    @Test
    void aBadInjectLowerErrorsPatternIsAUsageErrorAndMountsNothing() throws IOException {
        Path lower = Files.createDirectory(base.resolve("lower"));
        Path upper = Files.createDirectory(base.resolve("upper"));
        Path mnt = Files.createDirectory(base.resolve("mnt"));
        Run r = run(
                "overlay",
                "mount",
                "--inject-lower-errors=[unclosed",
                lower.toString(),
                upper.toString(),
                mnt.toString());
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("invalid glob '[unclosed'");
        assertThat(OverlayFileSystem.defaultWorkDirectory(upper)).doesNotExist();
        try (var s = Files.list(mnt)) {
            assertThat(s).isEmpty();
        }
    }

    @Test
    void statusWithoutARecordSaysSo() {
        Run r = run("overlay", "status", base.resolve("never").toString());
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.err()).contains("no status record");
    }

    @Test
    void mergeHelpListsItsOptionsAndExitStatuses() {
        Run r = run("overlay", "merge", "--help");
        assertThat(r.status()).isZero();
        assertThat(r.out())
                .contains("--into=NEWBASE", "--rate=MiB/s", "--ops-per-second=N", "--empty-upper", "--work=DIR")
                .contains("Exit status:", "3   merged, but entries failed");
    }

    @Test
    void mergeFoldsTheUpperLayerBackWithProgressAndResumes() throws IOException {
        Path lower = Files.createDirectory(base.resolve("lower"));
        Path upper = Files.createDirectory(base.resolve("upper"));
        Files.writeString(lower.resolve("a"), "lower a");
        Files.writeString(lower.resolve("gone"), "deleted in the overlay");
        try (OverlayFileSystem fs =
                OverlayFileSystem.open(lower, upper, OverlayFileSystem.defaultWorkDirectory(upper))) {
            Files.writeString(fs.getPath("/a"), "upper a");
            Files.writeString(fs.getPath("/new"), "new");
            Files.delete(fs.getPath("/gone"));
        }
        Path newBase = base.resolve("newbase");

        // one pass only: the work is done but not verified by a pass that finds nothing: 3
        Run first = run(
                "overlay",
                "merge",
                lower.toString(),
                upper.toString(),
                "--into",
                newBase.toString(),
                "--rate",
                "0",
                "--ops-per-second",
                "0",
                "--progress-every",
                "0",
                "--max-passes",
                "1");
        assertThat(first.status()).as(first.err()).isEqualTo(3);
        assertThat(first.out())
                .contains("copying LOWER: 2 files", "pass 1: 2 files", "pass 1: 2/2 files", "operations")
                .contains("partly merged into " + newBase, "files copied     2", "deletes          0");
        assertThat(first.err()).contains("not complete after 1 passes", "run again");

        Run again = run("overlay", "merge", lower.toString(), upper.toString(), "--into", newBase.toString());
        assertThat(again.status()).as(again.err()).isZero();
        assertThat(again.out()).contains("merged into " + newBase, "files copied     0", "unchanged        2");
        assertThat(Files.readString(newBase.resolve("a"))).isEqualTo("upper a");
        assertThat(Files.readString(newBase.resolve("new"))).isEqualTo("new");
        assertThat(Files.exists(newBase.resolve("gone"))).isFalse();
        assertThat(Files.readString(lower.resolve("a"))).isEqualTo("lower a");

        Run empty = run(
                "overlay", "merge", lower.toString(), upper.toString(), "--into", newBase.toString(), "--empty-upper");
        assertThat(empty.status()).as(empty.err()).isZero();
        assertThat(empty.out()).contains("UPPER emptied    3 removed, 0 kept");
        try (var s = Files.list(upper)) {
            assertThat(s.toList()).isEmpty();
        }
    }

    @Test
    void mergeRefusesBadInputWithoutChangingAnything() throws IOException {
        Path lower = Files.createDirectory(base.resolve("lower"));
        Path upper = Files.createDirectory(base.resolve("upper"));
        Files.writeString(upper.resolve("u"), "u");
        Path newBase = Files.createDirectory(base.resolve("newbase"));
        Files.writeString(newBase.resolve("other"), "not ours");

        Run notEmpty = run("overlay", "merge", lower.toString(), upper.toString(), "--into", newBase.toString());
        assertThat(notEmpty.status()).isEqualTo(1);
        assertThat(notEmpty.err()).contains("is not empty");

        Run negative = run("overlay", "merge", lower.toString(), upper.toString(), "--rate", "-1");
        assertThat(negative.status()).isEqualTo(2);

        Run missing = run("overlay", "merge", base.resolve("nope").toString(), upper.toString());
        assertThat(missing.status()).isEqualTo(1);
        assertThat(missing.err()).contains("nope");

        try (var s = Files.list(lower)) {
            assertThat(s.toList()).isEmpty();
        }
        try (var s = Files.list(newBase)) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactly("other");
        }
    }
}
