package io.holdfast.mirror;

import io.holdfast.mirror.ChangeCaptureUnavailableException.Reason;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * The libc calls change capture needs, bound through the FFM API, and nothing else:
 * {@code fanotify_init(2)}, {@code fanotify_mark(2)}, {@code inotify_init1(2)},
 * {@code inotify_add_watch(2)}, {@code inotify_rm_watch(2)}, {@code open(2)},
 * {@code open_by_handle_at(2)}, {@code readlink(2)}, {@code poll(2)}, {@code read(2)},
 * {@code close(2)} and {@code strerror(3)}. Values of flags are Linux's ({@code <linux/fanotify.h>},
 * {@code <linux/inotify.h>}, {@code <fcntl.h>}; x86-64 and arm64 agree on all of them).
 *
 * <p>Every call returns the raw result; a failing one stores its {@code errno} in the calling
 * thread's {@link Errno} holder, read with {@link #lastErrno()} right after the call.
 *
 * <p>Thread safety: stateless after class initialisation, except the per-thread errno.
 */
final class NotifyNative {
    // inotify_init1 flags and event bits
    static final int IN_NONBLOCK = 04000;
    static final int IN_CLOEXEC = 02000000;
    static final int IN_MODIFY = 0x2;
    static final int IN_ATTRIB = 0x4;
    static final int IN_CLOSE_WRITE = 0x8;
    static final int IN_MOVED_FROM = 0x40;
    static final int IN_MOVED_TO = 0x80;
    static final int IN_CREATE = 0x100;
    static final int IN_DELETE = 0x200;
    static final int IN_DELETE_SELF = 0x400;
    static final int IN_MOVE_SELF = 0x800;
    static final int IN_Q_OVERFLOW = 0x4000;
    static final int IN_IGNORED = 0x8000;
    static final int IN_ONLYDIR = 0x01000000;
    static final int IN_DONT_FOLLOW = 0x02000000;
    static final int IN_EXCL_UNLINK = 0x04000000;
    static final int IN_ISDIR = 0x40000000;
    static final int ENOSPC = 28;
    static final int EMFILE = 24;

    // fanotify_init flags
    static final int FAN_CLOEXEC = 0x1;
    static final int FAN_NONBLOCK = 0x2;
    static final int FAN_CLASS_NOTIF = 0x0;
    static final int FAN_REPORT_FID = 0x200;
    static final int FAN_REPORT_DIR_FID = 0x400;
    static final int FAN_REPORT_NAME = 0x800;
    static final int FAN_REPORT_TARGET_FID = 0x1000;
    // fanotify_mark flags
    static final int FAN_MARK_ADD = 0x1;
    static final int FAN_MARK_FILESYSTEM = 0x100;
    // event bits
    static final long FAN_MODIFY = 0x2;
    static final long FAN_ATTRIB = 0x4;
    static final long FAN_CLOSE_WRITE = 0x8;
    static final long FAN_CREATE = 0x100;
    static final long FAN_DELETE = 0x200;
    static final long FAN_Q_OVERFLOW = 0x4000;
    static final long FAN_RENAME = 0x10000000L;
    static final long FAN_ONDIR = 0x40000000L;
    // open flags
    static final int O_RDONLY = 0;
    static final int O_DIRECTORY = 0200000;
    static final int O_CLOEXEC = 02000000;
    static final int O_PATH = 010000000;
    // poll
    static final short POLLIN = 0x1;
    // errno values (Linux)
    static final int EPERM = 1;
    static final int ENOENT = 2;
    static final int EINTR = 4;
    static final int EAGAIN = 11;
    static final int EACCES = 13;
    static final int EXDEV = 18;
    static final int ENODEV = 19;
    static final int ENOTDIR = 20;
    static final int EINVAL = 22;
    static final int ENOSYS = 38;
    static final int EOPNOTSUPP = 95;
    static final int ESTALE = 116;

    private static final MethodHandle FANOTIFY_INIT;
    private static final MethodHandle FANOTIFY_MARK;
    private static final MethodHandle INOTIFY_INIT1;
    private static final MethodHandle INOTIFY_ADD_WATCH;
    private static final MethodHandle INOTIFY_RM_WATCH;
    private static final MethodHandle OPEN;
    private static final MethodHandle OPEN_BY_HANDLE_AT;
    private static final MethodHandle READLINK;
    private static final MethodHandle POLL;
    private static final MethodHandle READ;
    private static final MethodHandle CLOSE;
    private static final MethodHandle STRERROR;
    private static final StructLayout CALL_STATE;
    private static final VarHandle ERRNO;
    /** Why the bindings are missing, or null if they are all there. */
    private static final ChangeCaptureUnavailableException UNAVAILABLE;

    private static final ThreadLocal<int[]> LAST_ERRNO = ThreadLocal.withInitial(() -> new int[1]);

    static {
        MethodHandle init = null;
        MethodHandle mark = null;
        MethodHandle inotifyInit = null;
        MethodHandle addWatch = null;
        MethodHandle rmWatch = null;
        MethodHandle open = null;
        MethodHandle openByHandle = null;
        MethodHandle readlink = null;
        MethodHandle poll = null;
        MethodHandle read = null;
        MethodHandle close = null;
        MethodHandle strerror = null;
        StructLayout state = null;
        VarHandle errno = null;
        ChangeCaptureUnavailableException unavailable = null;
        String os = System.getProperty("os.name", "");
        if (!os.toLowerCase(Locale.ROOT).contains("linux")) {
            unavailable = new ChangeCaptureUnavailableException(
                    Reason.NOT_LINUX, "fanotify is a Linux API, and this is " + os, null);
        } else {
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                Linker.Option capture = Linker.Option.captureCallState("errno");
                state = Linker.Option.captureStateLayout();
                errno = state.varHandle(MemoryLayout.PathElement.groupElement("errno"));
                ValueLayout i = ValueLayout.JAVA_INT;
                ValueLayout l = ValueLayout.JAVA_LONG;
                ValueLayout a = ValueLayout.ADDRESS;
                init = linker.downcallHandle(find(libc, "fanotify_init"), FunctionDescriptor.of(i, i, i), capture);
                mark = linker.downcallHandle(
                        find(libc, "fanotify_mark"), FunctionDescriptor.of(i, i, i, l, i, a), capture);
                inotifyInit = linker.downcallHandle(find(libc, "inotify_init1"), FunctionDescriptor.of(i, i), capture);
                addWatch = linker.downcallHandle(
                        find(libc, "inotify_add_watch"), FunctionDescriptor.of(i, i, a, i), capture);
                rmWatch =
                        linker.downcallHandle(find(libc, "inotify_rm_watch"), FunctionDescriptor.of(i, i, i), capture);
                open = linker.downcallHandle(
                        find(libc, "open"),
                        FunctionDescriptor.of(i, a, i, i),
                        capture,
                        Linker.Option.firstVariadicArg(2));
                openByHandle = linker.downcallHandle(
                        find(libc, "open_by_handle_at"), FunctionDescriptor.of(i, i, a, i), capture);
                readlink = linker.downcallHandle(find(libc, "readlink"), FunctionDescriptor.of(l, a, a, l), capture);
                poll = linker.downcallHandle(find(libc, "poll"), FunctionDescriptor.of(i, a, l, i), capture);
                read = linker.downcallHandle(find(libc, "read"), FunctionDescriptor.of(l, i, a, l), capture);
                close = linker.downcallHandle(find(libc, "close"), FunctionDescriptor.of(i, i));
                strerror = linker.downcallHandle(find(libc, "strerror"), FunctionDescriptor.of(a, i));
            } catch (IllegalCallerException e) {
                unavailable = new ChangeCaptureUnavailableException(
                        Reason.NO_NATIVE_ACCESS,
                        "native access is denied to this code (run the JVM with --enable-native-access=ALL-UNNAMED)",
                        e);
            } catch (RuntimeException | LinkageError e) {
                unavailable = new ChangeCaptureUnavailableException(
                        Reason.KERNEL_TOO_OLD, "the C library lacks a file notification call: " + e.getMessage(), e);
            }
        }
        UNAVAILABLE = unavailable;
        boolean ok = unavailable == null;
        FANOTIFY_INIT = ok ? init : null;
        FANOTIFY_MARK = ok ? mark : null;
        INOTIFY_INIT1 = ok ? inotifyInit : null;
        INOTIFY_ADD_WATCH = ok ? addWatch : null;
        INOTIFY_RM_WATCH = ok ? rmWatch : null;
        OPEN = ok ? open : null;
        OPEN_BY_HANDLE_AT = ok ? openByHandle : null;
        READLINK = ok ? readlink : null;
        POLL = ok ? poll : null;
        READ = ok ? read : null;
        CLOSE = ok ? close : null;
        STRERROR = ok ? strerror : null;
        CALL_STATE = state;
        ERRNO = errno;
    }

    private NotifyNative() {}

    private static MemorySegment find(SymbolLookup libc, String name) {
        return libc.find(name).orElseThrow(() -> new UnsatisfiedLinkError("no " + name + " in the C library"));
    }

    /**
     * Fails unless the bindings are usable here.
     *
     * @throws ChangeCaptureUnavailableException if this is not Linux, native access is denied or
     *     libc lacks a call
     */
    static void checkAvailable() throws ChangeCaptureUnavailableException {
        if (UNAVAILABLE != null) {
            throw new ChangeCaptureUnavailableException(
                    UNAVAILABLE.reason(), UNAVAILABLE.getMessage(), UNAVAILABLE.getCause());
        }
    }

    /** The errno of this thread's last failed call through this class. */
    static int lastErrno() {
        return LAST_ERRNO.get()[0];
    }

    /** {@code strerror(errno)} with the symbolic name, e.g. "EPERM (Operation not permitted)". */
    static String describe(int errno) {
        String name = switch (errno) {
            case EPERM -> "EPERM";
            case ENOENT -> "ENOENT";
            case EINTR -> "EINTR";
            case EAGAIN -> "EAGAIN";
            case EACCES -> "EACCES";
            case EXDEV -> "EXDEV";
            case ENODEV -> "ENODEV";
            case EINVAL -> "EINVAL";
            case ENOSYS -> "ENOSYS";
            case EOPNOTSUPP -> "EOPNOTSUPP";
            case ESTALE -> "ESTALE";
            default -> "errno " + errno;
        };
        if (STRERROR == null) {
            return name;
        }
        try {
            MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
            return name + " (" + text.reinterpret(256).getString(0) + ")";
        } catch (Throwable t) {
            return name;
        }
    }

    private static int keep(MemorySegment state, long rc) {
        if (rc < 0) {
            LAST_ERRNO.get()[0] = (int) ERRNO.get(state, 0L);
        }
        return (int) Math.max(Math.min(rc, Integer.MAX_VALUE), Integer.MIN_VALUE);
    }

    private static IllegalStateException broken(Throwable t) {
        return new IllegalStateException("native call failed", t);
    }

    /** {@code fanotify_init(flags, eventFlags)}: a descriptor, or -1 and errno. */
    static int fanotifyInit(int flags, int eventFlags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            return keep(state, (int) FANOTIFY_INIT.invokeExact(state, flags, eventFlags));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** {@code fanotify_mark(fd, flags, mask, dirfd, NULL)}: marks the object {@code dirfd} refers to. */
    static int fanotifyMark(int fd, int flags, long mask, int dirfd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            return keep(state, (int) FANOTIFY_MARK.invokeExact(state, fd, flags, mask, dirfd, MemorySegment.NULL));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** {@code inotify_init1(flags)}: a descriptor, or -1 and errno. */
    static int inotifyInit(int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            return keep(state, (int) INOTIFY_INIT1.invokeExact(state, flags));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** {@code inotify_add_watch(fd, path, mask)}: a watch descriptor, or -1 and errno. */
    static int inotifyAddWatch(int fd, String path, int mask) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            return keep(state, (int) INOTIFY_ADD_WATCH.invokeExact(state, fd, arena.allocateFrom(path), mask));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** {@code inotify_rm_watch(fd, wd)}: 0, or -1 and errno. */
    static int inotifyRmWatch(int fd, int wd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            return keep(state, (int) INOTIFY_RM_WATCH.invokeExact(state, fd, wd));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** {@code open(path, flags)}: a descriptor, or -1 and errno. */
    static int open(String path, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            return keep(state, (int) OPEN.invokeExact(state, arena.allocateFrom(path), flags, 0));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /**
     * {@code open_by_handle_at(mountFd, handle, flags)} for the handle {@code type}/{@code bytes}
     * (laid out as {@code struct file_handle}): a descriptor, or -1 and errno.
     */
    static int openByHandle(int mountFd, int type, byte[] bytes, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment handle = arena.allocate(8L + bytes.length, 4);
            handle.set(ValueLayout.JAVA_INT, 0, bytes.length);
            handle.set(ValueLayout.JAVA_INT, 4, type);
            MemorySegment.copy(bytes, 0, handle, ValueLayout.JAVA_BYTE, 8, bytes.length);
            MemorySegment state = arena.allocate(CALL_STATE);
            return keep(state, (int) OPEN_BY_HANDLE_AT.invokeExact(state, mountFd, handle, flags));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** The target of symbolic link {@code path} (at most 4,095 bytes, UTF-8), or null and errno. */
    static String readlink(String path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(4096);
            MemorySegment state = arena.allocate(CALL_STATE);
            long n = (long) READLINK.invokeExact(state, arena.allocateFrom(path), buf, buf.byteSize());
            if (n < 0) {
                keep(state, n);
                return null;
            }
            return new String(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** {@code poll} for {@code POLLIN} on one descriptor: 1 if readable, 0 on timeout, -1 and errno. */
    static int pollIn(int fd, int timeoutMillis) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pfd = arena.allocate(8, 4); // struct pollfd { int fd; short events; short revents; }
            pfd.set(ValueLayout.JAVA_INT, 0, fd);
            pfd.set(ValueLayout.JAVA_SHORT, 4, POLLIN);
            MemorySegment state = arena.allocate(CALL_STATE);
            return keep(state, (int) POLL.invokeExact(state, pfd, 1L, timeoutMillis));
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** {@code read(fd, buf, buf.byteSize())}: bytes read, or -1 and errno. */
    static long read(int fd, MemorySegment buf) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            long n = (long) READ.invokeExact(state, fd, buf, buf.byteSize());
            keep(state, n);
            return n;
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** {@code close(fd)}, ignoring errors (Linux releases the descriptor whatever close returns). */
    static void close(int fd) {
        if (fd < 0) {
            return;
        }
        try {
            int ignored = (int) CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            throw broken(t);
        }
    }

    /** Names the failure of {@code call} with {@code errno}, as an IOException for an operating error. */
    static IOException failure(String call, int errno) {
        return new IOException(call + " failed: " + describe(errno));
    }

    /**
     * Waits for {@code t} to end, however often this thread is interrupted meanwhile (a reader
     * thread must be gone before its descriptors are closed), then restores the interrupt.
     */
    static void joinUninterruptibly(Thread t) {
        boolean interrupted = false;
        while (t.isAlive()) {
            try {
                t.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
