package io.holdfast.cli;

import io.holdfast.cli.Locations.Location;
import io.holdfast.client.HoldfastClient;
import io.holdfast.common.ErrnoFileSystemException;
import java.io.Console;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * Base of the file commands ({@code ls}, {@code cp}, ...): the {@code --cluster} option, one
 * {@link Locations} per invocation (closed at the end; its clients are
 * {@linkplain HoldfastClient#SHORT_LIVED_OPTION short-lived}), and error reporting: one line per
 * failure on stderr, processing goes on with the next argument, exit status 1 if anything
 * failed. A malformed {@code --cluster} or a misuse of arguments is a usage error (exit 2).
 */
abstract class FileCommand implements Callable<Integer> {
    @Mixin
    ClusterOption cluster;

    @Spec
    CommandSpec spec;

    /** Valid during {@link #run()}. */
    Locations locations;

    private int failures;

    @Override
    public final Integer call() throws Exception {
        ClientLogging.quietClient();
        ClientProcess.prepare();
        Map<String, Object> env = cluster.env();
        env.put(HoldfastClient.SHORT_LIVED_OPTION, true); // one command, then the process exits
        try (Locations l = new Locations(cluster::address, env)) {
            locations = l;
            run();
        } finally {
            locations = null;
        }
        System.out.flush();
        return failures == 0 ? 0 : 1;
    }

    /** Does the work, reporting failures with {@link #fail}. */
    abstract void run() throws Exception;

    /** Resolves {@code arg}; a failure (cluster down, no such volume) is reported, giving null. */
    final Location resolve(String arg) {
        try {
            return locations.resolve(arg);
        } catch (IOException | RuntimeException e) {
            rethrowUsage(e);
            fail(e);
            return null;
        }
    }

    /** What a command does with one resolved path argument. */
    @FunctionalInterface
    interface LocationAction {
        void accept(String arg, Location l) throws IOException;
    }

    /**
     * Resolves each of {@code args} in turn and applies {@code action} to it; an argument that
     * does not resolve, or whose action fails, is reported and the next one goes on.
     */
    final void forEachLocation(List<String> args, LocationAction action) {
        for (String arg : args) {
            Location l = resolve(arg);
            if (l == null) {
                continue;
            }
            try {
                action.accept(arg, l);
            } catch (IOException | RuntimeException e) {
                fail(e, l);
            }
        }
    }

    /** Reports one failure; {@code involved} maps file names in the exception to volumes. */
    final void fail(Throwable e, Location... involved) {
        rethrowUsage(e);
        failures++;
        Throwable shown = e instanceof UncheckedIOException u ? u.getCause() : e;
        System.out.flush();
        System.err.println(spec.qualifiedName() + ": " + Errors.describe(located(shown, involved)));
        if (System.getenv("HOLDFAST_DEBUG") != null) {
            e.printStackTrace();
        }
    }

    /** A usage error: picocli prints it with the usage hint, exit status 2. */
    final CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }

    private static void rethrowUsage(Throwable e) {
        if (e instanceof IllegalArgumentException iae) {
            throw iae;
        }
    }

    /**
     * The progress bar for copies: on stderr when {@code forced} or when the console is a
     * terminal, else none.
     */
    static CopyProgress progress(boolean forced) {
        Console c = System.console();
        boolean terminal = c != null && c.isTerminal();
        return forced || terminal ? new CopyProgress(System.err, System::nanoTime) : CopyProgress.NONE;
    }

    /**
     * Whether the last name of {@code p}, as written, is {@code .} or {@code ..}: POSIX refuses to
     * remove or rename such a path, which would otherwise act on a directory above it.
     */
    static boolean endsInDotOrDotDot(Path p) {
        Path n = p.getFileName();
        return n != null && (n.toString().equals(".") || n.toString().equals(".."));
    }

    /** The file name of {@code p} for use as a new name in a target directory, or null for a root. */
    static String nameOf(Path p) {
        Path n = p.toAbsolutePath().normalize().getFileName();
        return n == null ? null : n.toString();
    }

    /**
     * {@code e} with its file names written as the user writes them ({@code VOLUME:/path} for a
     * volume's paths). Which volume a name belongs to is inferred from {@code involved}: the only
     * remote location if all are in one volume, else the one whose path is the longest prefix.
     */
    static Throwable located(Throwable e, Location... involved) {
        if (!(e instanceof FileSystemException f) || f.getFile() == null || involved.length == 0) {
            return e;
        }
        String file = display(f.getFile(), involved);
        String other = f.getOtherFile() == null ? null : display(f.getOtherFile(), involved);
        String reason = f.getReason();
        return switch (e) {
            case NoSuchFileException x -> new NoSuchFileException(file, other, reason);
            case FileAlreadyExistsException x -> new FileAlreadyExistsException(file, other, reason);
            case DirectoryNotEmptyException x -> new DirectoryNotEmptyException(file);
            case NotDirectoryException x -> new NotDirectoryException(file);
            case AccessDeniedException x -> new AccessDeniedException(file, other, reason);
            case ErrnoFileSystemException x -> new FileSystemException(file, other, reason);
            default -> e.getClass() == FileSystemException.class ? new FileSystemException(file, other, reason) : e;
        };
    }

    private static String display(String file, Location... involved) {
        Location best = null;
        int bestLength = -1;
        String volume = null;
        boolean oneVolume = true;
        for (Location l : involved) {
            if (l == null) {
                continue;
            }
            if (volume == null) {
                volume = l.volume() == null ? "" : l.volume();
            } else if (!volume.equals(l.volume() == null ? "" : l.volume())) {
                oneVolume = false;
            }
            String p = l.path().toString();
            boolean prefix = file.equals(p) || file.startsWith(p.endsWith("/") ? p : p + "/");
            if (prefix && p.length() > bestLength) {
                best = l;
                bestLength = p.length();
            }
        }
        if (best == null && oneVolume) {
            for (Location l : involved) {
                if (l != null) {
                    best = l;
                    break;
                }
            }
        }
        return best == null || !best.remote() ? file : best.volume() + ":" + file;
    }
}
