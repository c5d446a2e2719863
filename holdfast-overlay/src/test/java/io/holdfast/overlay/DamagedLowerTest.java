package io.holdfast.overlay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A lower layer that fails on some paths, as a damaged disk does: each failure is EIO for that
 * path only, counted and named in the status record; a file whose lower copy cannot be read can
 * still be replaced (written anew with truncation, or renamed over) without reading it.
 */
class DamagedLowerTest {
    @TempDir
    Path base;

    FaultyFileSystem faulty;
    OverlayFileSystem fs;
    Path root;
    Path work;

    @BeforeEach
    void open() throws IOException {
        Path lower = Files.createDirectory(base.resolve("lower"));
        Path upper = Files.createDirectory(base.resolve("upper"));
        work = base.resolve("work");
        Files.writeString(lower.resolve("good.txt"), "good");
        Files.writeString(lower.resolve("bad.txt"), "bad bytes");
        Files.writeString(lower.resolve("bad2.txt"), "bad bytes");
        Files.writeString(lower.resolve("bad3.txt"), "bad bytes");
        Files.writeString(lower.resolve("unstattable"), "?");
        Files.createDirectories(lower.resolve("baddir/inner"));
        Files.writeString(lower.resolve("baddir/inner/f"), "f");
        Files.createDirectory(lower.resolve("gooddir"));
        Files.writeString(lower.resolve("gooddir/f"), "f");
        Files.createSymbolicLink(lower.resolve("gooddir/dangling"), Path.of("../nowhere"));
        faulty = new FaultyFileSystem(lower);
        faulty.failReads.addAll(List.of("bad.txt", "bad2.txt", "bad3.txt"));
        faulty.failListings.add("baddir");
        faulty.failStats.add("unstattable");
        fs = OverlayFileSystem.open(faulty.root(), upper, work);
        root = fs.root();
    }

    @AfterEach
    void close() throws IOException {
        fs.close();
    }

    private static void assertEio(ThrowingRead r) {
        assertThatThrownBy(r::run)
                .isInstanceOfSatisfying(
                        ErrnoFileSystemException.class,
                        e -> assertThat(e.errno()).isEqualTo(Errno.EIO));
    }

    @FunctionalInterface
    interface ThrowingRead {
        void run() throws IOException;
    }

    @Test
    void aFailingReadFailsThatFileOnlyAndIsRecorded() throws IOException {
        assertEio(() -> Files.readString(root.resolve("bad.txt")));
        assertEio(() -> Files.readString(root.resolve("bad.txt")));
        assertThat(Files.readString(root.resolve("good.txt"))).isEqualTo("good");
        assertThat(Files.size(root.resolve("bad.txt"))).isEqualTo(9); // its metadata is fine
        try (Stream<Path> s = Files.list(root)) {
            assertThat(s.map(p -> p.getFileName().toString()).sorted())
                    .containsExactly("bad.txt", "bad2.txt", "bad3.txt", "baddir", "good.txt", "gooddir", "unstattable");
        }
        assertEio(() -> Files.list(root.resolve("baddir")).close());
        assertThat(Files.readString(root.resolve("baddir/inner/f"))).isEqualTo("f"); // below it, lookups work
        assertThat(Files.readString(root.resolve("gooddir/f"))).isEqualTo("f");
        assertEio(() -> Files.readAttributes(root.resolve("unstattable"), "unix:mode"));
        // appending needs the old content: the copy-up fails, nothing is left half-copied
        assertEio(() -> Files.writeString(root.resolve("bad3.txt"), "!", StandardOpenOption.APPEND));
        assertThat(Files.exists(fs.upper().resolve("bad3.txt"))).isFalse();

        OverlayStatus st = fs.status();
        assertThat(st.lower()).isEqualTo(base.resolve("lower").toString()); // the faulty view, named by its path
        assertThat(st.lowerErrors()).isGreaterThanOrEqualTo(5);
        assertThat(st.lowerErrorPaths())
                .extracting(OverlayStatus.LowerError::path)
                .contains("/bad.txt", "/baddir", "/unstattable", "/bad3.txt");
        assertThat(st.lowerErrorPaths())
                .filteredOn(e -> e.path().equals("/bad.txt"))
                .singleElement()
                .satisfies(e -> assertThat(e.count()).isEqualTo(2));
        fs.close();
        String json = Files.readString(work.resolve(OverlayFileSystem.STATUS_FILE), StandardCharsets.UTF_8);
        assertThat(json).contains("\"format\": \"holdfast-overlay-status\"", "\"path\": \"/bad.txt\"", "/baddir");
        assertThat(faulty.writeAttempts).hasValue(0);
    }

    @Test
    void aFileWithUnreadableLowerDataCanBeReplaced() throws IOException {
        Files.writeString(
                root.resolve("bad.txt"),
                "fresh",
                StandardOpenOption.WRITE,
                StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING);
        assertThat(Files.readString(root.resolve("bad.txt"))).isEqualTo("fresh");
        Files.writeString(root.resolve("tmp"), "replacement");
        Files.move(root.resolve("tmp"), root.resolve("bad2.txt"), StandardCopyOption.ATOMIC_MOVE);
        assertThat(Files.readString(root.resolve("bad2.txt"))).isEqualTo("replacement");
        Files.delete(root.resolve("bad3.txt"));
        assertThat(Files.exists(root.resolve("bad3.txt"))).isFalse();
        assertThat(fs.status().lowerErrors()).isZero();
        assertThat(faulty.writeAttempts).hasValue(0);
    }

    @Test
    void userAttributesOfALowerSymbolicLinkAreNoneNotALowerError() throws IOException {
        Path link = root.resolve("gooddir/dangling");
        UserDefinedFileAttributeView v =
                Files.getFileAttributeView(link, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        assertThat(v.list()).isEmpty();
        assertThatThrownBy(() -> v.size("user.color"))
                .isInstanceOfSatisfying(
                        ErrnoFileSystemException.class,
                        e -> assertThat(e.errno()).isEqualTo(Errno.ENODATA));
        assertThat(fs.status().lowerErrors()).isZero();
    }

    @Test
    void failReadsMatchingFailsTheFilesAGlobNamesOnly() throws IOException {
        faulty.failReadsMatching("good*");
        assertEio(() -> Files.readString(root.resolve("good.txt")));
        assertThat(Files.readString(root.resolve("gooddir/f"))).isEqualTo("f"); // * stays within one name
        faulty.failReadsMatching("**/f");
        assertEio(() -> Files.readString(root.resolve("gooddir/f")));
        assertEio(() -> Files.readString(root.resolve("baddir/inner/f")));
        assertThat(fs.status().lowerErrorPaths())
                .extracting(OverlayStatus.LowerError::path)
                .containsExactlyInAnyOrder("/good.txt", "/gooddir/f", "/baddir/inner/f");
        assertThatThrownBy(() -> faulty.failReadsMatching("[unclosed"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[unclosed");
        assertThatThrownBy(() -> faulty.failReadsMatching("")).isInstanceOf(IllegalArgumentException.class);
        assertThat(faulty.writeAttempts).hasValue(0);
    }
}
