package io.holdfast.fuse;

import java.util.Objects;

/**
 * What the served file system does beyond what {@code java.nio.file} promises, declared by
 * whoever mounts it ({@link FuseOptions#capabilities}). {@link FuseMount} never infers these
 * from the {@link java.nio.file.FileSystem} a path belongs to: a file system that wraps another
 * (an overlay with a local upper layer, a caching or fault-injecting decorator) would be
 * misjudged.
 *
 * <p>Which attribute views a file system supports ({@code "unix"}, {@code "posix"}) is still read
 * from the file system: that is its own declaration, not a guess.
 *
 * @param exactModes whether a node is created with exactly the permission bits asked for (no
 *     umask applied, and the creator may open the new file whatever its mode). Then {@code
 *     create}, {@code mkdir} and {@code mknod} set the final mode in one step; otherwise they
 *     create the node owner-readable and -writable and then change its mode (a second request).
 *     False for the local disk, whose JDK provider applies the daemon's umask.
 * @param ownership whose identity the file system acts under, see {@link Ownership}
 * @param writeBehind whether a write may be acknowledged before other clients can see it (a
 *     write-behind window). Then {@code flush} (every {@code close(2)}) forces the handle's
 *     channel, so {@code close} returns only once the data written through it is visible
 *     everywhere (close-to-open consistency). False where a completed write is visible at once, as
 *     on the local disk, where forcing would be an {@code fsync} per close.
 */
public record Capabilities(boolean exactModes, Ownership ownership, boolean writeBehind) {

    /** Whose identity requests run under, and so who owns new nodes and whose permissions count. */
    public enum Ownership {
        /**
         * The file system acts as this process: new nodes belong to the daemon's user. A daemon
         * running as root with the {@code "unix"} view then chowns each new node to the calling
         * process, as a C passthrough server does.
         */
        PROCESS,
        /**
         * The file system acts as the caller bound by {@link FuseOptions#callerScope}: it gives new
         * nodes their owner and checks permissions itself. The mount then sends the two changes the
         * kernel makes on a caller's behalf in a form the file system accepts from that caller: the
         * kernel's clearing of set-user-ID/set-group-ID bits before a non-owner's write runs as the
         * superuser, and {@code UTIME_NOW} goes as {@code unix:timesNow} (the file system's own
         * "now", which any writer may set) where the file system has that attribute.
         */
        CALLER
    }

    /**
     * What {@code java.nio.file} promises and the local disk does: modes subject to the umask,
     * nodes owned by this process, writes visible once they return. The default of {@link
     * FuseOptions#defaults()}.
     */
    public static final Capabilities LOCAL = new Capabilities(false, Ownership.PROCESS, false);

    /**
     * A Holdfast volume through its {@code holdfast://} provider: exact modes, the caller's
     * identity (with a {@link CallerScope} that binds it), and a write-behind window.
     */
    public static final Capabilities HOLDFAST = new Capabilities(true, Ownership.CALLER, true);

    /**
     * Checks the arguments.
     *
     * @throws NullPointerException if {@code ownership} is null
     */
    public Capabilities {
        Objects.requireNonNull(ownership, "ownership");
    }
}
