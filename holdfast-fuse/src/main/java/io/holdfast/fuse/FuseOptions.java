package io.holdfast.fuse;

import java.time.Duration;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Options for {@link FuseMount#mount}.
 *
 * @param allowOther pass {@code -o allow_other} so users other than the mounting one can use the
 *     mount (needs {@code user_allow_other} in {@code /etc/fuse.conf} unless running as root)
 * @param readOnly mount read-only ({@code -o ro}); the kernel then refuses every mutation with
 *     {@code EROFS}
 * @param debug pass {@code -d}: libfuse prints every request to standard error
 * @param cacheTimeout how long the kernel may cache attributes, directory entries and negative
 *     lookups ({@code attr_timeout}, {@code entry_timeout}, {@code negative_timeout}); zero
 *     disables caching; at most one day; resolution is milliseconds; default 0. On a Holdfast
 *     volume with a read lease ({@code HoldfastFiles.readLease}) the kernel caches names and
 *     attributes for that long only while the lease holds, and forgets them before another
 *     client's change completes ({@link KernelCache}; negative lookups are not cached). Elsewhere
 *     a non-zero timeout lets {@code stat} show attributes up to that old (another name of a
 *     hard link, another client's change)
 * @param fsName the name shown by {@code mount}/{@code df} as the source, {@code fsname=...};
 *     must start with {@code holdfast-} and contain only {@code [A-Za-z0-9._:@/+-]}
 * @param callerScope the credentials hook, see {@link CallerScope}; {@link CallerScope#NONE} by
 *     default
 * @param capabilities what the served file system does (exact modes, whose identity it acts
 *     under, write-behind), declared by the caller and never inferred from the path's file
 *     system; {@link Capabilities#LOCAL} by default, {@link Capabilities#HOLDFAST} for a Holdfast
 *     volume
 */
public record FuseOptions(
        boolean allowOther,
        boolean readOnly,
        boolean debug,
        Duration cacheTimeout,
        String fsName,
        CallerScope callerScope,
        Capabilities capabilities) {

    private static final Pattern FS_NAME = Pattern.compile("holdfast-[A-Za-z0-9._:@/+-]{1,200}");
    private static final Duration MAX_CACHE_TIMEOUT = Duration.ofDays(1);

    /**
     * Validates the options.
     *
     * @throws IllegalArgumentException if {@code cacheTimeout} is negative or longer than a day,
     *     or {@code fsName} does not match {@code holdfast-[A-Za-z0-9._:@/+-]+} (commas would inject
     *     mount options)
     * @throws NullPointerException if an object argument is null
     */
    public FuseOptions {
        Objects.requireNonNull(cacheTimeout, "cacheTimeout");
        Objects.requireNonNull(fsName, "fsName");
        Objects.requireNonNull(callerScope, "callerScope");
        Objects.requireNonNull(capabilities, "capabilities");
        if (cacheTimeout.isNegative() || cacheTimeout.compareTo(MAX_CACHE_TIMEOUT) > 0) {
            throw new IllegalArgumentException("cacheTimeout must be within [0, 1 day]: " + cacheTimeout);
        }
        if (!FS_NAME.matcher(fsName).matches()) {
            throw new IllegalArgumentException("fsName must match holdfast-[A-Za-z0-9._:@/+-]+ : '" + fsName + "'");
        }
    }

    /** The options for a file system with {@link Capabilities#LOCAL} capabilities. */
    public FuseOptions(
            boolean allowOther,
            boolean readOnly,
            boolean debug,
            Duration cacheTimeout,
            String fsName,
            CallerScope callerScope) {
        this(allowOther, readOnly, debug, cacheTimeout, fsName, callerScope, Capabilities.LOCAL);
    }

    /**
     * The options without a credentials hook ({@link CallerScope#NONE}), for a file system with
     * {@link Capabilities#LOCAL} capabilities.
     */
    public FuseOptions(boolean allowOther, boolean readOnly, boolean debug, Duration cacheTimeout, String fsName) {
        this(allowOther, readOnly, debug, cacheTimeout, fsName, CallerScope.NONE);
    }

    /**
     * Read-write, not {@code allow_other}, no debug, no kernel caching of attributes and entries
     * (the kernel asks on every stat and lookup, so it never shows a size, mode or link count older
     * than the file system's: hard links and other clients' changes included), {@code
     * fsname=holdfast-fs}, no credentials hook, {@link Capabilities#LOCAL} (declare {@link
     * Capabilities#HOLDFAST} with {@link #withCapabilities} for a Holdfast volume).
     */
    public static FuseOptions defaults() {
        return new FuseOptions(false, false, false, Duration.ZERO, "holdfast-fs");
    }

    /** A copy with {@code fsName} replaced. */
    public FuseOptions withFsName(String name) {
        return new FuseOptions(allowOther, readOnly, debug, cacheTimeout, name, callerScope, capabilities);
    }

    /** A copy with {@code readOnly} replaced. */
    public FuseOptions withReadOnly(boolean ro) {
        return new FuseOptions(allowOther, ro, debug, cacheTimeout, fsName, callerScope, capabilities);
    }

    /** A copy with {@code cacheTimeout} replaced. */
    public FuseOptions withCacheTimeout(Duration timeout) {
        return new FuseOptions(allowOther, readOnly, debug, timeout, fsName, callerScope, capabilities);
    }

    /** A copy with the credentials hook replaced. */
    public FuseOptions withCallerScope(CallerScope scope) {
        return new FuseOptions(allowOther, readOnly, debug, cacheTimeout, fsName, scope, capabilities);
    }

    /** A copy with the declared capabilities replaced. */
    public FuseOptions withCapabilities(Capabilities declared) {
        return new FuseOptions(allowOther, readOnly, debug, cacheTimeout, fsName, callerScope, declared);
    }
}
