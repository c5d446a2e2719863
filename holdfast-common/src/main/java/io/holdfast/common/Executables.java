package io.holdfast.common;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Finds an external program (fio, nbdkit, mergerfs, mke2fs, ...) the way the shell would: the
 * directories of {@code PATH} in order, or {@code /usr/bin} and {@code /bin} when {@code PATH} is
 * not set (as {@link ProcessBuilder} then runs a bare name), then any given directories. Stateless
 * and thread-safe.
 */
public final class Executables {
    private Executables() {}

    /**
     * The first executable file named {@code name} in {@code PATH}, then in {@code alsoIn}.
     *
     * @param name a file name, no directory
     * @param alsoIn directories looked in after {@code PATH} (e.g. {@code /usr/sbin}, where Debian
     *     puts tools often outside a user's {@code PATH})
     * @return its path, or empty if there is none
     */
    public static Optional<Path> find(String name, String... alsoIn) {
        String path = System.getenv("PATH");
        List<String> dirs = new ArrayList<>(List.of((path != null ? path : "/usr/bin:/bin").split(File.pathSeparator)));
        dirs.addAll(List.of(alsoIn));
        for (String d : dirs) {
            if (!d.isEmpty()) {
                Path p = Path.of(d, name);
                if (Files.isExecutable(p)) {
                    return Optional.of(p);
                }
            }
        }
        return Optional.empty();
    }
}
