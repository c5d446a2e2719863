package io.holdfast.cli;

import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.PathNames;
import java.io.IOException;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Resolves command-line path arguments of the file commands and owns the file systems they
 * open: one {@code holdfast://} file system per volume per command invocation, closed by
 * {@link #close()}.
 *
 * <p>Syntax, as scp: {@code VOLUME:/path} (or {@code VOLUME:path}, relative to the volume's
 * root; {@code VOLUME:} alone is the root) names a path in a Holdfast volume when
 * {@code VOLUME} is a valid volume name and no {@code /} precedes the colon; anything else is a
 * local path. Write {@code ./a:b} for a local file whose name contains a colon.
 *
 * <p>A volume path is always inside its volume: {@code ..} at the volume's root stays there
 * (as {@code /..} is {@code /}), so {@code VOLUME:../x} is {@code VOLUME:/x}; no path of one
 * volume can name another.
 *
 * <p>The cluster address is asked for only when the first remote argument is opened, so local
 * paths work without a cluster. Not thread-safe: used by one command on one thread.
 */
final class Locations implements AutoCloseable {
    private final Supplier<String> clusterAddress;
    private final Map<String, ?> env;
    private final Map<String, FileSystem> volumes = new LinkedHashMap<>();

    /** {@code clusterAddress} is called at most once, when the first volume is opened. */
    Locations(Supplier<String> clusterAddress) {
        this(clusterAddress, Map.of());
    }

    /**
     * As {@link #Locations(Supplier)}, giving {@code env} to every {@code holdfast://} file
     * system opened (tests: an in-process volume service).
     */
    Locations(Supplier<String> clusterAddress, Map<String, ?> env) {
        this.clusterAddress = clusterAddress;
        this.env = env;
    }

    /** Whether {@code arg} names a path in a volume ({@code VOLUME:...}). */
    static boolean isRemote(String arg) {
        return volumeOf(arg) != null;
    }

    /** The volume named by {@code arg}, or null if it is a local path. */
    static String volumeOf(String arg) {
        int colon = arg.indexOf(':');
        if (colon <= 0) {
            return null;
        }
        int slash = arg.indexOf('/');
        if (slash >= 0 && slash < colon) {
            return null;
        }
        String volume = arg.substring(0, colon);
        try {
            ClusterMap.checkVolumeName(volume);
        } catch (IllegalArgumentException e) {
            return null;
        }
        return volume;
    }

    /**
     * Resolves {@code arg}, opening its volume's file system on first use. A volume path is
     * checked against the volume's limits here, before anything is sent, so a command given one
     * changes nothing (not even the parents {@code mkdir -p} would make).
     *
     * @throws NoSuchFileException for the empty argument, which names nothing (as in POSIX)
     * @throws ErrnoFileSystemException {@link Errno#EINVAL} if {@code arg} contains NUL or is not
     *     valid Unicode; {@link Errno#ENAMETOOLONG} if a volume path has a name longer than
     *     {@link io.holdfast.protocol.Limits#NAME_MAX} bytes or is longer than
     *     {@link io.holdfast.protocol.Limits#PATH_MAX} bytes (as written, before {@code ..} is
     *     resolved)
     * @throws IllegalArgumentException if the cluster address is malformed
     * @throws IOException if the cluster cannot be reached or has no such volume
     */
    Location resolve(String arg) throws IOException {
        if (arg.isEmpty()) {
            throw new NoSuchFileException(arg);
        }
        int nul = arg.indexOf('\0');
        if (nul >= 0 || PathNames.unpairedSurrogate(arg) >= 0) {
            throw invalid(arg, nul >= 0 ? "path contains a NUL character" : "path is not valid Unicode");
        }
        String volume = volumeOf(arg);
        Path path;
        try {
            if (volume == null) {
                return new Location(arg, Path.of(arg), null);
            }
            String rest = arg.substring(volume.length() + 1);
            path = volume(volume).getPath(rest.startsWith("/") ? rest : "/" + rest);
        } catch (InvalidPathException e) {
            throw invalid(arg, e.getReason());
        }
        try {
            PathNames.checkLengths(path.toString());
        } catch (HoldfastException e) {
            throw new ErrnoFileSystemException(arg, null, Errno.ENAMETOOLONG, "File name too long");
        }
        return new Location(arg, path, volume);
    }

    private static ErrnoFileSystemException invalid(String arg, String reason) {
        return new ErrnoFileSystemException(arg.replace("\0", "\\0"), null, Errno.EINVAL, reason);
    }

    /** The open file system of {@code volume}, opening it on first use. */
    FileSystem volume(String volume) throws IOException {
        FileSystem fs = volumes.get(volume);
        if (fs == null) {
            String address = clusterAddress.get();
            fs = FileSystems.newFileSystem(URI.create("holdfast://" + address + "/" + volume), env);
            volumes.put(volume, fs);
        }
        return fs;
    }

    /** Closes every opened file system; reports the first failure after trying all. */
    @Override
    public void close() throws IOException {
        IOException first = null;
        for (FileSystem fs : volumes.values()) {
            try {
                fs.close();
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        volumes.clear();
        if (first != null) {
            throw first;
        }
    }

    /**
     * A resolved argument.
     *
     * @param arg the argument as written
     * @param path the path, in its volume's file system or the default one
     * @param volume the volume, or null for a local path
     */
    record Location(String arg, Path path, String volume) {
        boolean remote() {
            return volume != null;
        }

        /** How to show {@code p}, a path of this location's file system, to the user. */
        String display(Path p) {
            return volume == null ? p.toString() : volume + ":" + p;
        }
    }
}
