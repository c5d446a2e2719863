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
    void statusWithoutARecordSaysSo() {
        Run r = run("overlay", "status", base.resolve("never").toString());
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.err()).contains("no status record");
    }
}
