package io.holdfast.overlay;

import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

/** Conversions between POSIX permission bits and {@link PosixFilePermission} sets. */
final class Modes {
    private Modes() {}

    /** The permissions of the low nine bits of {@code mode}. */
    static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> set = EnumSet.noneOf(PosixFilePermission.class);
        for (PosixFilePermission perm : PosixFilePermission.values()) {
            if ((mode & (1 << (8 - perm.ordinal()))) != 0) {
                set.add(perm);
            }
        }
        return set;
    }
}
