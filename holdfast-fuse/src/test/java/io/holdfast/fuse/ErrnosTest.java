package io.holdfast.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.common.HoldfastException;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;

class ErrnosTest {
    @Test
    void mapsNioExceptions() {
        assertThat(Errnos.of(new NoSuchFileException("a"), "op", "/a")).isEqualTo(-2);
        assertThat(Errnos.of(new FileAlreadyExistsException("a"), "op", "/a")).isEqualTo(-17);
        assertThat(Errnos.of(new DirectoryNotEmptyException("a"), "op", "/a")).isEqualTo(-39);
        assertThat(Errnos.of(new AccessDeniedException("a"), "op", "/a")).isEqualTo(-13);
        assertThat(Errnos.of(new NotDirectoryException("a"), "op", "/a")).isEqualTo(-20);
        assertThat(Errnos.of(new NotLinkException("a"), "op", "/a")).isEqualTo(-22);
        assertThat(Errnos.of(new UnsupportedOperationException(), "op", "/a")).isEqualTo(-95);
    }

    @Test
    void mapsHoldfastExceptions() {
        assertThat(Errnos.of(new ErrnoFileSystemException("a", null, Errno.ENAMETOOLONG, "x"), "op", "/a"))
                .isEqualTo(-36);
        assertThat(Errnos.of(new HoldfastException(Errno.ESTALE, "gone"), "op", "/a"))
                .isEqualTo(-116);
    }

    @Test
    void mapsStrerrorReasons() {
        assertThat(Errnos.of(new FileSystemException("a", null, "Is a directory"), "op", "/a"))
                .isEqualTo(-21);
        assertThat(Errnos.of(new FileSystemException("a", null, "File name too long"), "op", "/a"))
                .isEqualTo(-36);
        assertThat(Errnos.of(
                        new FileSystemException(
                                "a",
                                null,
                                "Too many levels of symbolic links or unable to access attributes of symbolic link"),
                        "op",
                        "/a"))
                .isEqualTo(-40);
        assertThat(Errnos.of(new FileSystemException("a", null, "Read-only file system"), "op", "/a"))
                .isEqualTo(-30);
        assertThat(Errnos.of(new FileSystemException("a", null, "No space left on device"), "op", "/a"))
                .isEqualTo(-28);
        assertThat(Errnos.of(new FileSystemException("a", null, "Operation not permitted"), "op", "/a"))
                .isEqualTo(-1);
    }

    @Test
    void unknownIsEio() {
        assertThat(Errnos.of(new IOException("weird"), "op", "/a")).isEqualTo(-5);
        assertThat(Errnos.of(new IllegalStateException("bug"), "op", "/a")).isEqualTo(-5);
        assertThat(Errnos.of(new FileSystemException("a", null, "something odd"), "op", "/a"))
                .isEqualTo(-5);
    }

    @Test
    void optionsValidate() {
        assertThat(FuseOptions.defaults().cacheTimeout()).isZero();
        assertThat(FuseMount.flags(FuseOptions.defaults(), false).get(1))
                .contains(
                        "fsname=holdfast-fs",
                        "default_permissions",
                        "auto_unmount",
                        "auto_cache",
                        "attr_timeout=0.000",
                        "entry_timeout=0.000",
                        "negative_timeout=0.000");
        Assertions.assertThatIllegalArgumentException()
                .isThrownBy(() -> FuseOptions.defaults().withFsName("holdfast-x,allow_other"));
    }
}
