package io.holdfast.cli;

import io.holdfast.fuse.FuseOptions;
import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * The FUSE options that the mounting commands share ({@code holdfast mount}, {@code holdfast overlay
 * mount}), as a picocli {@code @Mixin}: {@code --allow-other}, {@code --debug} and
 * {@code --cache-timeout SECONDS}. Each command adds what is its own (read-only, the file system
 * name, the capabilities) in {@link #fuseOptions}.
 */
final class FuseMountOptions {
    @Option(
            names = "--allow-other",
            description = "Let other users use the mount (needs user_allow_other in /etc/fuse.conf unless root).")
    boolean allowOther;

    @Option(names = "--debug", description = "Have libfuse print every request to stderr.")
    boolean debug;

    @Option(
            names = "--cache-timeout",
            paramLabel = "SECONDS",
            defaultValue = "0",
            description = "How long the kernel may cache attributes and names (attr_timeout, entry_timeout, "
                    + "negative_timeout); default ${DEFAULT-VALUE}: every stat and lookup asks, so no stale size, "
                    + "mode or link count is ever shown. A longer timeout saves round trips but lets stat show a "
                    + "change made elsewhere up to that late: by another client of a volume, or through another "
                    + "hard-link name (an overlay is the only writer of its layers, so there only the link counts "
                    + "of hard links).")
    double cacheTimeoutSeconds;

    /**
     * The FUSE options of these flags, with the caller's read-only flag and file system name, the
     * default credentials hook and capabilities (see {@link FuseOptions#FuseOptions(boolean, boolean,
     * boolean, Duration, String)}).
     *
     * @param readOnly whether to mount read-only
     * @param fsName the {@code fsname} the mount table shows, {@code holdfast-...}
     * @throws IllegalArgumentException if the cache timeout is negative or longer than a day, or
     *     {@code fsName} is not a valid name (see {@link FuseOptions})
     */
    FuseOptions fuseOptions(boolean readOnly, String fsName) {
        return new FuseOptions(
                allowOther, readOnly, debug, Duration.ofMillis(Math.round(cacheTimeoutSeconds * 1000)), fsName);
    }
}
