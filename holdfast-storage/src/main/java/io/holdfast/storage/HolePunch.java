package io.holdfast.storage;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/**
 * Makes a byte range of a data file read as zeros, releasing its storage where the local file
 * system can: Linux {@code fallocate(2)} with {@code FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE}
 * through the FFM API (ext4, XFS, btrfs and tmpfs support it). Where that is unavailable (no
 * native access, another OS, a file system without hole punching) the range is overwritten with
 * zeros instead, which reads the same but keeps the storage.
 *
 * <p>Either way the file's length is unchanged and only bytes before it are touched, so the
 * operation is idempotent, as the brick's redo needs.
 *
 * <p>Thread safety: stateless after class initialisation.
 */
final class HolePunch {
    private static final int O_WRONLY = 01;
    private static final int O_CLOEXEC = 02000000;
    private static final int FALLOC_FL_KEEP_SIZE = 0x01;
    private static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    private static final int ZERO_CHUNK = 1 << 20;

    private static final MethodHandle OPEN;
    private static final MethodHandle FALLOCATE;
    private static final MethodHandle CLOSE;

    static {
        MethodHandle open = null;
        MethodHandle fallocate = null;
        MethodHandle close = null;
        try {
            if (System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
                Linker linker = Linker.nativeLinker();
                var libc = linker.defaultLookup();
                open = linker.downcallHandle(
                        libc.find("open").orElseThrow(),
                        FunctionDescriptor.of(
                                ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
                        Linker.Option.firstVariadicArg(2));
                fallocate = linker.downcallHandle(
                        libc.find("fallocate").orElseThrow(),
                        FunctionDescriptor.of(
                                ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_INT,
                                ValueLayout.JAVA_LONG,
                                ValueLayout.JAVA_LONG));
                close = linker.downcallHandle(
                        libc.find("close").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            }
        } catch (RuntimeException | LinkageError e) {
            open = null;
            fallocate = null;
            close = null;
        }
        OPEN = open;
        FALLOCATE = fallocate;
        CLOSE = close;
    }

    private HolePunch() {}

    /**
     * Makes {@code [pos, pos + len)} of {@code file} read as zeros, clipped to the file's length.
     * A missing file is left missing (it reads as zeros).
     *
     * @return true if the storage was released (punched), false if zeros were written (or there
     *     was nothing to do)
     * @throws IOException if the file exists but cannot be written
     */
    static boolean zero(Path file, long pos, long len) throws IOException {
        if (len <= 0) {
            return false;
        }
        if (punch(file, pos, len)) {
            return true;
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            long end = Math.min(pos + len, ch.size());
            ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(ZERO_CHUNK, Math.max(0, end - pos)));
            for (long at = pos; at < end; ) {
                zeros.clear().limit((int) Math.min(zeros.capacity(), end - at));
                at += ch.write(zeros, at);
            }
        } catch (NoSuchFileException e) {
            // nothing stored: reads as zeros already
        }
        return false;
    }

    private static boolean punch(Path file, long pos, long len) {
        if (FALLOCATE == null) {
            return false;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment name = arena.allocateFrom(file.toAbsolutePath().toString());
            int fd = (int) OPEN.invokeExact(name, O_WRONLY | O_CLOEXEC, 0);
            if (fd < 0) {
                return false;
            }
            try {
                return (int) FALLOCATE.invokeExact(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, pos, len) == 0;
            } finally {
                int ignored = (int) CLOSE.invokeExact(fd);
            }
        } catch (Throwable t) {
            return false;
        }
    }
}
