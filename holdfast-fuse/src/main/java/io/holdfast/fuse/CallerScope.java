package io.holdfast.fuse;

import io.holdfast.common.Caller;

/**
 * A hook that lets the {@link java.nio.file.FileSystem} behind a {@link FuseMount} learn which
 * process credentials a FUSE request runs with.
 *
 * <p>Before every file-system operation the adapter asks libfuse for the caller
 * ({@code fuse_get_context()} and {@code fuse_getgroups()}, libfuse3 high-level API), calls
 * {@link #enter(Caller)} on the FUSE worker thread that will run the operation, runs the operation
 * on that same thread, and then closes the returned {@link Scope}. A Holdfast NIO provider
 * typically implements this by setting and clearing its own {@code ThreadLocal<Caller>}, so the
 * provider does not depend on this module.
 *
 * <p>The mount itself runs with {@code -o default_permissions}: the kernel already checks POSIX
 * permissions against the attributes the adapter reports, so a provider needs the caller mainly
 * for ownership of new files and for its own apply-time checks.
 *
 * <p>Thread safety: {@link #enter} is called concurrently from several FUSE worker threads and
 * must be thread-safe; each returned scope is closed on the thread that entered it. Cost: when a
 * hook is installed, each operation reads the caller's supplementary groups from
 * {@code /proc} (what {@code fuse_getgroups} does); without a hook nothing is read.
 */
@FunctionalInterface
public interface CallerScope {

    /** A scope that does nothing; the default when no hook is configured. */
    CallerScope NONE = caller -> Scope.EMPTY;

    /**
     * Binds {@code caller} to the current thread for the duration of one operation.
     *
     * @param caller the credentials of the process that issued the FUSE request; never null
     * @return a scope that the adapter closes after the operation; never null
     */
    Scope enter(Caller caller);

    /** An entered scope; {@link #close()} must not throw. */
    interface Scope extends AutoCloseable {
        /** The no-op scope. */
        Scope EMPTY = () -> {};

        @Override
        void close();
    }
}
