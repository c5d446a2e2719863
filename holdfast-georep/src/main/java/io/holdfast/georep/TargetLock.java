package io.holdfast.georep;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The exclusive lock of a target, {@code TARGET/.holdfast-georep/lock}: held by a running worker
 * ({@link GeoReplicator}) and by {@link Failover}'s commands, so that a promotion or a reverse
 * never runs beside a worker writing the same target. A POSIX record lock ({@code fcntl(2)}
 * through {@link FileChannel#tryLock()}), so it is released when its process dies, even by
 * SIGKILL. Inside one JVM the locks held are also kept in a set (closing any channel of a file
 * releases every POSIX lock of the process on it, so a second channel is never opened here).
 *
 * <p>Only on the default (local) file system; a target elsewhere (a Holdfast volume) is not locked
 * and the operator makes sure no worker runs (see docs/architecture.md). Thread-safe.
 */
final class TargetLock implements AutoCloseable {
    static final String NAME = "lock";
    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;

    private TargetLock(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Takes the lock of {@code targetRoot} without waiting.
     *
     * @param who what takes it, for the message of whoever finds it held
     * @return the lock, or null if it is held by someone else
     * @throws IOException if the lock file cannot be made
     */
    static TargetLock tryAcquire(Path targetRoot, String who) throws IOException {
        if (targetRoot.getFileSystem() != FileSystems.getDefault() || !Files.isDirectory(targetRoot)) {
            return new TargetLock(null, null, null); // a missing target is the caller's to report, not made here
        }
        Path dir = Files.createDirectories(targetRoot.resolve(StateFile.DIR));
        Path file = dir.resolve(NAME).toAbsolutePath().normalize();
        if (!HELD.add(file)) {
            return null;
        }
        FileChannel ch = null;
        try {
            ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock l = ch.tryLock();
            if (l == null) {
                ch.close();
                HELD.remove(file);
                return null;
            }
            return new TargetLock(file, ch, l);
        } catch (IOException | RuntimeException e) {
            if (ch != null) {
                ch.close();
            }
            HELD.remove(file);
            if (e instanceof OverlappingFileLockException) {
                return null;
            }
            throw e;
        }
    }

    /**
     * Takes the lock of {@code targetRoot} or fails.
     *
     * @throws GeoStateException if a worker or another georep command holds it
     * @throws IOException if the lock file cannot be made
     */
    static TargetLock acquire(Path targetRoot, String who) throws IOException {
        TargetLock l = tryAcquire(targetRoot, who);
        if (l == null) {
            throw new GeoStateException(targetRoot + " is in use: a georep worker or another georep command runs on it"
                    + " (" + who + " needs it alone; 'holdfast georep stop' ends a worker)");
        }
        return l;
    }

    @Override
    public void close() throws IOException {
        if (channel == null) {
            return;
        }
        try {
            lock.release();
            channel.close();
        } finally {
            HELD.remove(file);
        }
    }
}
