package io.holdfast.georep;

import io.holdfast.protocol.Request;
import java.time.InstantSource;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * How a {@link GeoReplicator} runs. Immutable; start from {@link #defaults(String)} and change what
 * differs with the {@code with...} methods.
 *
 * @param session the session's name, recorded in the target's state file: a replicator refuses a
 *     target recorded by another session; 1 to 64 of {@code [A-Za-z0-9._-]}
 * @param maxRecords records asked for per page, 1 to {@link Request.Changes#MAX_RECORDS}; default
 *     {@value #DEFAULT_MAX_RECORDS}. A page is applied, then recorded: it is the unit redone after
 *     a crash
 * @param waitMillis how long {@link GeoReplicator#run()} lets the source hold a request when caught
 *     up (long poll), 0 to {@link Request.Changes#MAX_WAIT_MILLIS}; default
 *     {@value #DEFAULT_WAIT_MILLIS}; also bounds how long {@link GeoReplicator#stop()} waits
 * @param bytesPerSecond most bytes of file content read from the source per second (a
 *     {@link io.holdfast.common.Pacer}); 0 for no limit (the default)
 * @param keepOwners whether owner and group are copied (needs root at the target); default: whether
 *     the JVM runs as {@code root}
 * @param fsync whether copied files, changed directories and the state file are forced to stable
 *     storage before the position is recorded (default true: the recorded position never claims
 *     data a power cut lost)
 * @param alwaysChecksum whether a full synchronisation compares the content of files whose size and
 *     modification time agree (default false: like rsync's quick check, only files whose size or
 *     time differ are compared, and copied only if their content differs)
 * @param maxRetries how many times {@link GeoReplicator#runOnce()} retries a failed attempt before
 *     it throws, 0 or more; default {@value #DEFAULT_MAX_RETRIES} ({@link GeoReplicator#run()}
 *     retries until stopped)
 * @param retryInitialMillis first wait after a failure, milliseconds, at least 1 (default
 *     {@value #DEFAULT_RETRY_INITIAL_MILLIS}); doubled after each further failure
 * @param retryMaxMillis longest wait between attempts, milliseconds, at least
 *     {@code retryInitialMillis} (default {@value #DEFAULT_RETRY_MAX_MILLIS})
 * @param clock wall clock for lag and the state file's times
 * @param listener told of progress and failures
 */
public record GeoOptions(
        String session,
        int maxRecords,
        int waitMillis,
        long bytesPerSecond,
        boolean keepOwners,
        boolean fsync,
        boolean alwaysChecksum,
        int maxRetries,
        long retryInitialMillis,
        long retryMaxMillis,
        InstantSource clock,
        GeoListener listener) {
    /**
     * Default records per page: 1024, the most a page may have (each page ends with forces of the
     * changed directories and of the state file: fewer pages, fewer of them).
     */
    public static final int DEFAULT_MAX_RECORDS = Request.Changes.MAX_RECORDS;
    /** Default long-poll wait: 5000 ms. */
    public static final int DEFAULT_WAIT_MILLIS = Request.Changes.MAX_WAIT_MILLIS;
    /** Default retries of {@link GeoReplicator#runOnce()}: 5. */
    public static final int DEFAULT_MAX_RETRIES = 5;
    /** Default first wait after a failure: 500 ms. */
    public static final long DEFAULT_RETRY_INITIAL_MILLIS = 500;
    /** Default longest wait between attempts: 30 s. */
    public static final long DEFAULT_RETRY_MAX_MILLIS = 30_000;

    private static final Pattern SESSION = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    /**
     * Checks the options.
     *
     * @throws IllegalArgumentException if a value is outside its range
     * @throws NullPointerException if {@code session}, {@code clock} or {@code listener} is null
     */
    public GeoOptions {
        Objects.requireNonNull(session, "session");
        Objects.requireNonNull(clock, "clock");
        Objects.requireNonNull(listener, "listener");
        if (!SESSION.matcher(session).matches()) {
            throw new IllegalArgumentException("session name '" + session + "' is not 1 to 64 of [A-Za-z0-9._-]");
        }
        if (maxRecords < 1 || maxRecords > Request.Changes.MAX_RECORDS) {
            throw new IllegalArgumentException(
                    "page of " + maxRecords + " records, outside 1.." + Request.Changes.MAX_RECORDS);
        }
        if (waitMillis < 0 || waitMillis > Request.Changes.MAX_WAIT_MILLIS) {
            throw new IllegalArgumentException(
                    "wait of " + waitMillis + " ms, outside 0.." + Request.Changes.MAX_WAIT_MILLIS);
        }
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException("bandwidth limit " + bytesPerSecond + " bytes/s is negative");
        }
        if (maxRetries < 0) {
            throw new IllegalArgumentException("retries " + maxRetries + " is negative");
        }
        if (retryInitialMillis < 1 || retryMaxMillis < retryInitialMillis) {
            throw new IllegalArgumentException(
                    "retry waits " + retryInitialMillis + ".." + retryMaxMillis + " ms: need 1 <= initial <= max");
        }
    }

    /** The defaults for session {@code session}, with the system clock and no listener. */
    public static GeoOptions defaults(String session) {
        return new GeoOptions(
                session,
                DEFAULT_MAX_RECORDS,
                DEFAULT_WAIT_MILLIS,
                0,
                "root".equals(System.getProperty("user.name")),
                true,
                false,
                DEFAULT_MAX_RETRIES,
                DEFAULT_RETRY_INITIAL_MILLIS,
                DEFAULT_RETRY_MAX_MILLIS,
                InstantSource.system(),
                GeoListener.NONE);
    }

    /** These options with {@code maxRecords} records per page. */
    public GeoOptions withMaxRecords(int maxRecords) {
        return new GeoOptions(
                session,
                maxRecords,
                waitMillis,
                bytesPerSecond,
                keepOwners,
                fsync,
                alwaysChecksum,
                maxRetries,
                retryInitialMillis,
                retryMaxMillis,
                clock,
                listener);
    }

    /** These options with a long-poll wait of {@code waitMillis}. */
    public GeoOptions withWaitMillis(int waitMillis) {
        return new GeoOptions(
                session,
                maxRecords,
                waitMillis,
                bytesPerSecond,
                keepOwners,
                fsync,
                alwaysChecksum,
                maxRetries,
                retryInitialMillis,
                retryMaxMillis,
                clock,
                listener);
    }

    /** These options with a bandwidth limit ({@code 0} for none). */
    public GeoOptions withBytesPerSecond(long bytesPerSecond) {
        return new GeoOptions(
                session,
                maxRecords,
                waitMillis,
                bytesPerSecond,
                keepOwners,
                fsync,
                alwaysChecksum,
                maxRetries,
                retryInitialMillis,
                retryMaxMillis,
                clock,
                listener);
    }

    /** These options copying owners or not. */
    public GeoOptions withKeepOwners(boolean keepOwners) {
        return new GeoOptions(
                session,
                maxRecords,
                waitMillis,
                bytesPerSecond,
                keepOwners,
                fsync,
                alwaysChecksum,
                maxRetries,
                retryInitialMillis,
                retryMaxMillis,
                clock,
                listener);
    }

    /** These options forcing data to stable storage or not. */
    public GeoOptions withFsync(boolean fsync) {
        return new GeoOptions(
                session,
                maxRecords,
                waitMillis,
                bytesPerSecond,
                keepOwners,
                fsync,
                alwaysChecksum,
                maxRetries,
                retryInitialMillis,
                retryMaxMillis,
                clock,
                listener);
    }

    /** These options comparing content always, or only when size or time differ. */
    public GeoOptions withAlwaysChecksum(boolean alwaysChecksum) {
        return new GeoOptions(
                session,
                maxRecords,
                waitMillis,
                bytesPerSecond,
                keepOwners,
                fsync,
                alwaysChecksum,
                maxRetries,
                retryInitialMillis,
                retryMaxMillis,
                clock,
                listener);
    }

    /** These options with other retry limits. */
    public GeoOptions withRetries(int maxRetries, long retryInitialMillis, long retryMaxMillis) {
        return new GeoOptions(
                session,
                maxRecords,
                waitMillis,
                bytesPerSecond,
                keepOwners,
                fsync,
                alwaysChecksum,
                maxRetries,
                retryInitialMillis,
                retryMaxMillis,
                clock,
                listener);
    }

    /** These options with another clock. */
    public GeoOptions withClock(InstantSource clock) {
        return new GeoOptions(
                session,
                maxRecords,
                waitMillis,
                bytesPerSecond,
                keepOwners,
                fsync,
                alwaysChecksum,
                maxRetries,
                retryInitialMillis,
                retryMaxMillis,
                clock,
                listener);
    }

    /** These options with another listener. */
    public GeoOptions withListener(GeoListener listener) {
        return new GeoOptions(
                session,
                maxRecords,
                waitMillis,
                bytesPerSecond,
                keepOwners,
                fsync,
                alwaysChecksum,
                maxRetries,
                retryInitialMillis,
                retryMaxMillis,
                clock,
                listener);
    }
}
