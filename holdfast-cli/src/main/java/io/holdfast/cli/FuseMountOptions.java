package io.holdfast.cli;

import io.holdfast.fuse.FuseOptions;
import java.time.Duration;
import picocli.CommandLine.Option;

/**
 * The FUSE options that the mounting commands share ({@code holdfast mount}, {@code holdfast overlay
 * mount}), as a picocli {@code @Mixin}: {@code --allow-other}, {@code --debug} and
 * {@code --cache-timeout SECONDS|auto}. Each command adds what is its own (read-only, the file system
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
            paramLabel = "SECONDS|auto",
            defaultValue = "auto",
            description = "How long the kernel may cache attributes and names (attr_timeout, entry_timeout). "
                    + "On a Holdfast volume with its metadata cache (the default) the kernel caches them only "
                    + "while the mount holds the volume's read lease, and forgets them before another client's "
                    + "change completes (needs Linux 6.16 or later; older kernels cache nothing): 'auto' is "
                    + MountCommand.LEASED_CACHE_SECONDS + " s there. Elsewhere (an overlay, --no-cache) nothing "
                    + "takes the kernel's copy back, so 'auto' is 0: every stat and lookup asks; a longer "
                    + "timeout saves round trips but lets stat show a change made elsewhere up to that late "
                    + "(by another client, or through another hard-link name). Default ${DEFAULT-VALUE}.")
    String cacheTimeout;

    /**
     * The FUSE options of these flags, with the caller's read-only flag and file system name, the
     * default credentials hook and capabilities (see {@link FuseOptions#FuseOptions(boolean, boolean,
     * boolean, Duration, String)}).
     *
     * @param readOnly whether to mount read-only
     * @param fsName the {@code fsname} the mount table shows, {@code holdfast-...}
     * @param auto the cache timeout {@code --cache-timeout auto} stands for
     * @throws IllegalArgumentException if the cache timeout is neither {@code auto} nor a number of
     *     seconds from 0 to a day, or {@code fsName} is not a valid name (see {@link FuseOptions})
     */
    FuseOptions fuseOptions(boolean readOnly, String fsName, Duration auto) {
        Duration timeout;
        if (cacheTimeout == null || cacheTimeout.equalsIgnoreCase("auto")) {
            timeout = auto;
        } else {
            double seconds;
            try {
                seconds = Double.parseDouble(cacheTimeout.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        "--cache-timeout must be 'auto' or a number of seconds, got '" + cacheTimeout + "'");
            }
            if (!(seconds >= 0 && seconds <= 86_400)) {
                throw new IllegalArgumentException(
                        "--cache-timeout must be from 0 to 86400 seconds, got " + cacheTimeout);
            }
            timeout = Duration.ofMillis(Math.round(seconds * 1000));
        }
        return new FuseOptions(allowOther, readOnly, debug, timeout, fsName);
    }
}
