package io.holdfast.client.nio;

import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** Translation of volume replies into the JDK's {@code java.nio.file} exception vocabulary. */
final class Errors {
    private Errors() {}

    /**
     * The JDK exception for an errno: the dedicated {@code java.nio.file} exception where one
     * exists, else an {@link ErrnoFileSystemException}.
     */
    static IOException toException(Errno errno, String message, String file, String other) {
        return switch (errno) {
            case ENOENT -> new NoSuchFileException(file, other, null);
            case EEXIST -> new FileAlreadyExistsException(other != null ? other : file, null, null);
            case ENOTEMPTY -> new DirectoryNotEmptyException(file);
            case EACCES, EPERM -> new AccessDeniedException(file, other, message);
            case ENOTDIR -> new NotDirectoryException(file);
            default -> new ErrnoFileSystemException(file, other, errno, message);
        };
    }

    static IOException toException(Response.Error error, String file, String other) {
        return toException(error.errno(), error.message(), file, other);
    }

    /** An {@link Errno#EPROTO} error for a reply of an unexpected kind. */
    static IOException unexpected(Response r, String file) {
        return new ErrnoFileSystemException(file, null, Errno.EPROTO, "unexpected reply " + r);
    }

    /**
     * Waits for a reply. Exceptional completion is rethrown as the {@link IOException} it
     * carries (for example a {@link HoldfastException} with {@link Errno#ETIMEDOUT}).
     *
     * @throws InterruptedIOException if the thread is interrupted while waiting (the interrupt
     *     status is set again); the request may still be applied
     */
    static Response await(CompletableFuture<Response> future) throws IOException {
        try {
            return future.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            InterruptedIOException ie = new InterruptedIOException("interrupted waiting for the volume");
            ie.initCause(e);
            throw ie;
        } catch (ExecutionException e) {
            throw unwrap(e);
        } catch (CancellationException e) {
            throw new HoldfastException(Errno.EIO, "request cancelled", e);
        }
    }

    /** The {@link IOException} behind an exceptional completion. */
    static IOException unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof IOException io) {
            return io;
        }
        if (t instanceof RuntimeException re) {
            throw re;
        }
        if (t instanceof Error err) {
            throw err;
        }
        return new HoldfastException(Errno.EIO, String.valueOf(t), t);
    }

    /** The attributes in a reply, or the mapped error. */
    static Attr attr(Response r, String file, String other) throws IOException {
        return switch (r) {
            case Response.AttrReply a -> a.attr();
            case Response.Error e -> throw toException(e, file, other);
            default -> throw unexpected(r, file);
        };
    }

    /** Checks that a reply is not an error. */
    static Response ok(Response r, String file, String other) throws IOException {
        if (r instanceof Response.Error e) {
            throw toException(e, file, other);
        }
        return r;
    }
}
