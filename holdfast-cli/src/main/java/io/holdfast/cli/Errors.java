package io.holdfast.cli;

import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.common.HoldfastException;
import java.net.BindException;
import java.net.UnknownHostException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/** Turns exceptions into one-line messages and exit codes for the CLI. */
final class Errors {
    private Errors() {}

    /**
     * One line for the user, without the exception's class name where the message says it all:
     * {@code no such file or directory: mail:/x}, {@code cannot resolve host db1}, or the
     * {@link HoldfastException}'s errno and message.
     */
    static String describe(Throwable ex) {
        return switch (ex) {
            // HoldfastClient.connect's unresolvable host: its cause names the host
            case HoldfastException e
            when e.getCause() instanceof UnknownHostException u -> "cannot resolve host " + u.getMessage();
            case UnknownHostException e -> "cannot resolve host " + e.getMessage();
            case NoSuchFileException e ->
                "no such file or directory: " + ("".equals(e.getFile()) ? "'' (empty path)" : e.getFile());
            case FileAlreadyExistsException e -> "already exists: " + e.getFile();
            case DirectoryNotEmptyException e -> "directory not empty: " + e.getFile();
            case NotDirectoryException e -> "not a directory: " + e.getFile();
            case AccessDeniedException e -> "permission denied: " + e.getFile();
            case ErrnoFileSystemException e -> e.getMessage();
            case FileSystemException e -> e.getMessage();
            case HoldfastException e -> e.getMessage();
            case BindException e -> e.getMessage();
            case IllegalArgumentException e -> e.getMessage();
            default -> ex.getClass().getSimpleName() + ": " + ex.getMessage();
        };
    }

    static int exitCode(Throwable ex) {
        return ex instanceof IllegalArgumentException ? 2 : 1;
    }
}
