package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.holdfast.cli.Locations.Location;
import io.holdfast.client.nio.HoldfastFileSystemProvider;
import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.storage.Brick;
import io.holdfast.storage.LocalVolumeService;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile path arguments of the file commands, resolved against an in-process volume (one
 * brick, no cluster): {@code ..} never leaves the volume or reaches another one, and names over
 * NAME_MAX, paths over PATH_MAX, NUL, malformed Unicode and the empty argument are refused with
 * a clear error before anything is sent.
 */
class LocationsTest {
    @TempDir
    Path brickDir;

    private Brick brick;
    private LocalVolumeService service;
    private Locations locations;

    @BeforeEach
    void open() throws IOException {
        brick = Brick.open(brickDir);
        service = new LocalVolumeService(brick, InstantSource.system());
        String address = "locations-test-" + System.nanoTime() + ":7000";
        locations = new Locations(
                () -> address,
                Map.of(
                        HoldfastFileSystemProvider.ENV_VOLUME_SERVICE,
                        service,
                        HoldfastFileSystemProvider.ENV_CALLER,
                        Caller.ROOT));
    }

    @AfterEach
    void close() throws IOException {
        try {
            locations.close();
        } finally {
            service.close();
            brick.close();
        }
    }

    private String digest() {
        return HexFormat.of()
                .formatHex(((Response.Digest)
                                service.query(new Request.GetDigest()).join())
                        .sha256());
    }

    /** Locations that fail the test if they ever need the cluster. */
    private static Locations offline() {
        return new Locations(() -> {
            throw new AssertionError("the cluster must not be contacted");
        });
    }

    // ---- .. -------------------------------------------------------------------------------------

    @Test
    void dotDotStaysInsideTheVolume() throws IOException {
        Map<String, String> cases = Map.of(
                "v:/../../etc/passwd", "/etc/passwd",
                "v:../../etc/passwd", "/etc/passwd",
                "v:..", "/",
                "v:/a/../../..", "/",
                "v:/../w:/x", "/w:/x",
                "v:../w:/../../x", "/x");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            Location l = locations.resolve(c.getKey());
            assertThat(l.volume()).as(c.getKey()).isEqualTo("v");
            assertThat(l.path().getFileSystem()).as(c.getKey()).isSameAs(locations.volume("v"));
            assertThat(l.path().normalize().toString()).as(c.getKey()).isEqualTo(c.getValue());
            assertThat(l.display(l.path()))
                    .as("shown as written")
                    .isEqualTo(
                            c.getKey().startsWith("v:/")
                                    ? c.getKey()
                                    : "v:/" + c.getKey().substring(2));
        }
        // and what is written there lands inside the volume
        Files.writeString(locations.resolve("v:/../../escape.txt").path(), "inside");
        assertThat(service.query(new Request.GetAttr("/escape.txt", false)).join())
                .isInstanceOf(Response.AttrReply.class);
        assertThat(Files.readString(locations.resolve("v:../../../escape.txt").path()))
                .isEqualTo("inside");
    }

    @Test
    void onlyAValidVolumeNameBeforeTheFirstColonNamesAVolume() throws IOException {
        for (String local : List.of("../v:/x", "./v:x", "..:/etc/passwd", ".:x", "/v:x", "v/..:x", "a b:x")) {
            assertThat(Locations.volumeOf(local)).as(local).isNull();
            Location l = offline().resolve(local);
            assertThat(l.remote()).as(local).isFalse();
            assertThat(l.path().getFileSystem()).as(local).isSameAs(FileSystems.getDefault());
        }
        assertThat(Locations.volumeOf("v:/../w:/x")).isEqualTo("v");
    }

    // ---- NUL, malformed Unicode, empty -------------------------------------------------------

    @Test
    void nulIsEinvalBeforeAnythingIsOpened() {
        for (String arg : List.of("v:/a\0b", "v:\0", "a\0b", "\0", "/tmp/x\0/y")) {
            Throwable t = catchThrowable(() -> offline().resolve(arg));
            assertThat(t)
                    .as(arg)
                    .isInstanceOfSatisfying(
                            ErrnoFileSystemException.class,
                            e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
            assertThat(t.getMessage())
                    .as(arg)
                    .isEqualTo(arg.replace("\0", "\\0") + ": EINVAL: path contains a NUL character")
                    .doesNotContain("\0");
            assertThat(Errors.describe(t)).isEqualTo(t.getMessage());
        }
    }

    @Test
    void malformedUnicodeIsEinvalBeforeAnythingIsOpened() throws IOException {
        for (String arg : List.of("v:/a\uD800b", "v:/\uDC00", "a\uDBFF", "x\uDE00\uD83D")) {
            assertThatThrownBy(() -> offline().resolve(arg))
                    .as(arg)
                    .isInstanceOfSatisfying(
                            ErrnoFileSystemException.class,
                            e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL))
                    .hasMessageEndingWith(": EINVAL: path is not valid Unicode");
        }
        // a well-formed pair is fine
        assertThat(offline().resolve("x\uD83D\uDE00").path().toString()).isEqualTo("x\uD83D\uDE00");
    }

    @Test
    void theEmptyArgumentNamesNothing() {
        // not the working directory: "rm -r ''" must not empty it
        assertThatThrownBy(() -> offline().resolve(""))
                .isInstanceOf(NoSuchFileException.class)
                .satisfies(e -> assertThat(Errors.describe(e)).isEqualTo("no such file or directory: '' (empty path)"));
    }

    // ---- NAME_MAX, PATH_MAX --------------------------------------------------------------------

    private static int utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    /** A path of exactly {@code length} bytes under /a, every name under NAME_MAX. */
    private static String pathOf(int length) {
        StringBuilder sb = new StringBuilder("/a");
        while (sb.length() < length) {
            int room = length - sb.length() - 1;
            sb.append('/').append("d".repeat(Math.max(1, Math.min(200, room))));
        }
        return sb.toString();
    }

    @Test
    void volumePathsOverTheLimitsAreTooLongBeforeAnythingIsSent() throws IOException {
        String digest = digest();
        for (String arg : List.of(
                "v:/" + "n".repeat(256),
                "v:/a/" + "é".repeat(128) + "/b",
                "v:/new/sub/" + "\uD83D\uDE00".repeat(64),
                "v:" + pathOf(Limits.PATH_MAX + 1),
                "v:/a/" + "./".repeat(2100) + "f",
                "v:" + "../".repeat(1400) + "x",
                "v:/" + "x/".repeat(100_000))) {
            Throwable t = catchThrowable(() -> locations.resolve(arg));
            assertThat(t)
                    .as(arg)
                    .isInstanceOfSatisfying(
                            ErrnoFileSystemException.class,
                            e -> assertThat(e.errno()).isEqualTo(Errno.ENAMETOOLONG));
            assertThat(t.getMessage()).isEqualTo(arg + ": ENAMETOOLONG: File name too long");
        }
        assertThat(digest()).as("nothing reached the volume").isEqualTo(digest);
    }

    @Test
    void volumePathsAtTheLimitsResolve() throws IOException {
        for (String arg :
                List.of("v:/" + "n".repeat(255), "v:/" + "é".repeat(127) + "n", "v:" + pathOf(Limits.PATH_MAX))) {
            assertThat(utf8(arg.substring(2))).isLessThanOrEqualTo(Limits.PATH_MAX);
            assertThat(locations.resolve(arg).path().toString()).isEqualTo(arg.substring(2));
        }
    }

    @Test
    void aPathEndingInDotOrDotDotIsRecognisedForRmAndMv() throws IOException {
        for (String arg : List.of("v:/a/..", "v:..", "v:/a/b/.", "v:/a/../")) {
            assertThat(FileCommand.endsInDotOrDotDot(locations.resolve(arg).path()))
                    .as(arg)
                    .isTrue();
        }
        for (String arg : List.of("v:", "v:/", "v:/a/../b", "v:/..a", "v:/a..")) {
            assertThat(FileCommand.endsInDotOrDotDot(locations.resolve(arg).path()))
                    .as(arg)
                    .isFalse();
        }
    }
}
