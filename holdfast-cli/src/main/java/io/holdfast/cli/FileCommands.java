package io.holdfast.cli;

import io.holdfast.cli.Locations.Location;
import io.holdfast.common.FileInfo;
import io.holdfast.common.TreeCopier;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.UnaryOperator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The file commands: {@code ls}, {@code stat}, {@code cat}, {@code put}, {@code get},
 * {@code cp}, {@code mkdir}, {@code rm}, {@code mv}. Remote paths are {@code VOLUME:/path}
 * (see {@link Locations}); every command works the same on local paths, through
 * {@code java.nio.file}.
 */
final class FileCommands {
    private FileCommands() {}

    /** Exit status 1 of every file command in its --help. */
    static final String EXIT_FAILED_HELP =
            "1:an argument failed (one line each on stderr; the other arguments were still processed)";

    static final String PATHS_HELP =
            "Paths: VOLUME:/path is a path in a Holdfast volume; anything else is local (write ./a:b for a local name "
                    + "with a colon).";

    // ---- ls ------------------------------------------------------------------------------------

    @Command(
            name = "ls",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            exitCodeList = FileCommands.EXIT_FAILED_HELP,
            description = {
                "List directories and files, local or in a volume, like ls(1).",
                "Long format (-l): mode, links, uid, gid, size, modification time, name; links as 'name -> target'.",
                "Names are sorted; a directory of more than 100000 entries is listed and sorted 100000 at a time.",
                PATHS_HELP,
                "",
                "Example:  holdfast ls -l mail:/inbox"
            })
    static final class Ls extends FileCommand {
        /** Entries sorted and printed together; bigger directories are printed page by page. */
        static final int PAGE_ENTRIES = 100_000;

        @Option(names = "-l", description = "Long format.")
        boolean longFormat;

        @Option(names = "-a", description = "Also show names starting with '.'.")
        boolean all;

        @Parameters(arity = "1..*", paramLabel = "PATH", description = "Directories or files to list.")
        List<String> paths;

        Clock clock = Clock.systemDefaultZone();

        private record Entry(String name, Path path) {}

        @Override
        void run() {
            List<Entry> files = new ArrayList<>();
            List<Location> dirs = new ArrayList<>();
            forEachLocation(paths, (arg, l) -> {
                FileInfo info = FileInfo.read(l.path(), !longFormat);
                if (info.isDirectory()) {
                    dirs.add(l);
                } else {
                    files.add(new Entry(arg, l.path()));
                }
            });
            files.sort(Comparator.comparing(Entry::name));
            print(files, null);
            boolean headers = paths.size() > 1;
            boolean first = files.isEmpty();
            for (Location d : dirs) {
                if (headers) {
                    System.out.println((first ? "" : "\n") + d.arg() + ":");
                }
                first = false;
                listDirectory(d);
            }
        }

        private void listDirectory(Location dir) {
            try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir.path())) {
                List<Entry> page = new ArrayList<>();
                for (Path p : stream) {
                    String name = p.getFileName().toString();
                    if (!all && name.startsWith(".")) {
                        continue;
                    }
                    page.add(new Entry(name, p));
                    if (page.size() == PAGE_ENTRIES) {
                        System.err.println("holdfast ls: " + dir.arg() + " has more than " + PAGE_ENTRIES
                                + " entries; sorting each " + PAGE_ENTRIES + " separately");
                        page.sort(Comparator.comparing(Entry::name));
                        print(page, dir);
                        page.clear();
                    }
                }
                page.sort(Comparator.comparing(Entry::name));
                print(page, dir);
            } catch (IOException | RuntimeException e) {
                fail(e, dir);
            }
        }

        private void print(List<Entry> entries, Location dir) {
            if (!longFormat) {
                for (Entry e : entries) {
                    System.out.println(e.name());
                }
                return;
            }
            List<String[]> rows = new ArrayList<>(entries.size());
            int[] widths = new int[4];
            for (Entry e : entries) {
                try {
                    FileInfo info = FileInfo.read(e.path(), false);
                    String name = e.name();
                    if (info.isSymbolicLink()) {
                        name += " -> " + Files.readSymbolicLink(e.path());
                    }
                    String[] row = {
                        info.modeString(),
                        num(info.nlink()),
                        num(info.uid()),
                        num(info.gid()),
                        Long.toString(info.size()),
                        time(info.mtime()),
                        name
                    };
                    for (int i = 0; i < widths.length; i++) {
                        widths[i] = Math.max(widths[i], row[i + 1].length());
                    }
                    rows.add(row);
                } catch (IOException | RuntimeException x) {
                    fail(x, dir);
                }
            }
            StringBuilder out = new StringBuilder();
            for (String[] r : rows) {
                out.setLength(0);
                out.append(r[0])
                        .append(' ')
                        .append(pad(r[1], widths[0]))
                        .append(' ')
                        .append(pad(r[2], widths[1]))
                        .append(' ')
                        .append(pad(r[3], widths[2]))
                        .append(' ')
                        .append(pad(r[4], widths[3]))
                        .append(' ')
                        .append(r[5])
                        .append(' ')
                        .append(r[6]);
                System.out.println(out);
            }
        }

        private static String num(long n) {
            return n < 0 ? "?" : Long.toString(n);
        }

        private static String pad(String s, int width) {
            return " ".repeat(width - s.length()) + s;
        }

        private static final DateTimeFormatter RECENT = DateTimeFormatter.ofPattern("MMM dd HH:mm", Locale.ROOT);
        private static final DateTimeFormatter OLD = DateTimeFormatter.ofPattern("MMM dd  yyyy", Locale.ROOT);

        /** Like ls: the time for the last six months, else the year. */
        String time(FileTime t) {
            Instant when = t.toInstant();
            Instant now = clock.instant();
            boolean recent =
                    !when.isAfter(now.plus(Duration.ofHours(1))) && when.isAfter(now.minus(Duration.ofDays(182)));
            return (recent ? RECENT : OLD).format(when.atZone(clock.getZone()));
        }
    }

    // ---- stat ----------------------------------------------------------------------------------

    @Command(
            name = "stat",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            exitCodeList = FileCommands.EXIT_FAILED_HELP,
            description = {
                "Show a file's inode, type, mode, links, owner, size and times, like stat(1).",
                "A symbolic link is shown itself, not its target.",
                PATHS_HELP,
                "",
                "Example:  holdfast stat mail:/inbox/cur"
            })
    static final class Stat extends FileCommand {
        @Parameters(arity = "1..*", paramLabel = "PATH", description = "Files to show.")
        List<String> paths;

        ZoneId zone = ZoneId.systemDefault();

        private static final DateTimeFormatter TIME =
                DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSSSSS Z", Locale.ROOT);

        @Override
        void run() {
            forEachLocation(paths, (arg, l) -> {
                FileInfo i = FileInfo.read(l.path(), false);
                String name = arg + (i.isSymbolicLink() ? " -> " + Files.readSymbolicLink(l.path()) : "");
                PrintStream o = System.out;
                o.println("  File: " + name);
                o.printf(Locale.ROOT, "  Size: %-15d Type: %s%n", i.size(), i.typeName());
                o.printf(Locale.ROOT, " Inode: %-15s Links: %s%n", n(i.inode()), n(i.nlink()));
                o.printf(
                        Locale.ROOT,
                        "Access: (%04o/%s)  Uid: %s  Gid: %s%n",
                        i.permissionBits(),
                        i.modeString(),
                        n(i.uid()),
                        n(i.gid()));
                o.println("Access: " + time(i.atime()));
                o.println("Modify: " + time(i.mtime()));
                o.println("Change: " + time(i.ctime()));
            });
        }

        private static String n(long v) {
            return v < 0 ? "?" : Long.toString(v);
        }

        private String time(FileTime t) {
            return TIME.format(ZonedDateTime.ofInstant(t.toInstant(), zone));
        }
    }

    // ---- cat -----------------------------------------------------------------------------------

    @Command(
            name = "cat",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            exitCodeList = FileCommands.EXIT_FAILED_HELP,
            description = {
                "Write files to standard output, one after another.",
                PATHS_HELP,
                "",
                "Example:  holdfast cat mail:/etc/aliases"
            })
    static final class Cat extends FileCommand {
        @Parameters(arity = "1..*", paramLabel = "PATH", description = "Files to print.")
        List<String> paths;

        @Override
        void run() {
            byte[] buf = new byte[TreeCopier.BUFFER_BYTES];
            ByteBuffer bb = ByteBuffer.wrap(buf);
            forEachLocation(paths, (arg, l) -> {
                if (Files.isDirectory(l.path())) {
                    throw new FileSystemException(l.path().toString(), null, "is a directory");
                }
                try (SeekableByteChannel in = Files.newByteChannel(l.path(), StandardOpenOption.READ)) {
                    int n;
                    while ((n = in.read(bb.clear())) >= 0) {
                        System.out.write(buf, 0, n);
                    }
                }
                System.out.flush();
            });
        }
    }

    // ---- cp, put, get --------------------------------------------------------------------------

    /** The copy logic shared by cp, put and get. */
    abstract static class CopyCommand extends FileCommand {
        @Option(
                names = {"-r", "-R", "--recursive"},
                description = "Copy directories and everything in them.")
        boolean recursive;

        @Option(names = "--progress", description = "Show a progress bar on stderr even when it is not a terminal.")
        boolean forceProgress;

        /** Sources then destination, as given. */
        abstract List<String> operands();

        /** Checks which operands may be remote; throws {@link #usage} if not. */
        abstract void checkOperands(List<String> sources, String destination);

        /**
         * For put and get: every source must be remote if {@code remoteSources}, else local, and the
         * destination the other; else a usage error with the message for the first operand amiss.
         */
        final void checkDirection(
                List<String> sources,
                String destination,
                boolean remoteSources,
                UnaryOperator<String> badSource,
                UnaryOperator<String> badDestination) {
            for (String s : sources) {
                if (Locations.isRemote(s) != remoteSources) {
                    throw usage(badSource.apply(s));
                }
            }
            if (Locations.isRemote(destination) == remoteSources) {
                throw usage(badDestination.apply(destination));
            }
        }

        @Override
        final void run() {
            List<String> ops = operands();
            if (ops.size() < 2) {
                throw usage("need at least one SOURCE and a DESTINATION");
            }
            List<String> sources = ops.subList(0, ops.size() - 1);
            String destination = ops.getLast();
            checkOperands(sources, destination);
            copyAll(sources, destination);
        }

        private void copyAll(List<String> sources, String destination) {
            Location dst = resolve(destination);
            if (dst == null) {
                return;
            }
            boolean intoDirectory = Files.isDirectory(dst.path());
            if (sources.size() > 1 && !intoDirectory) {
                fail(
                        new FileSystemException(
                                dst.path().toString(), null, "is not a directory (copying more than one source)"),
                        dst);
                return;
            }
            List<Location> srcs = new ArrayList<>();
            for (String s : sources) {
                Location l = resolve(s);
                if (l != null) {
                    srcs.add(l);
                }
            }
            CopyProgress progress = progress(forceProgress);
            if (progress.enabled()) {
                for (Location s : srcs) {
                    TreeCopier.scan(s.path(), recursive, progress);
                }
            }
            for (Location s : srcs) {
                TreeCopier copier = new TreeCopier(progress, e -> fail(e, s, dst));
                try {
                    copier.copy(s.path(), target(s, dst, intoDirectory), recursive);
                } catch (IOException | RuntimeException e) {
                    fail(e, s, dst);
                }
            }
            progress.finish();
        }
    }

    /** Where {@code src} goes: into {@code dst} if it is a directory, else {@code dst} itself. */
    static Path target(Location src, Location dst, boolean intoDirectory) {
        if (!intoDirectory) {
            return dst.path();
        }
        String name = FileCommand.nameOf(src.path());
        return name == null ? dst.path() : dst.path().resolve(name);
    }

    @Command(
            name = "cp",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            exitCodeList = FileCommands.EXIT_FAILED_HELP,
            description = {
                "Copy files and trees between local paths and volumes, in any mix, like cp(1).",
                "Keeps contents, symbolic links (as links), permission bits and times; not owners or hard links.",
                "With several sources, or a DESTINATION that is a directory, sources are copied into it.",
                PATHS_HELP,
                "",
                "Examples:  holdfast cp -r ~/Maildir mail:/backup",
                "           holdfast cp mail:/a.txt mail:/b.txt archive:/2024/"
            })
    static final class Cp extends CopyCommand {
        @Parameters(
                arity = "2..*",
                hideParamSyntax = true,
                paramLabel = "SOURCE... DESTINATION",
                description = "Sources, then where to copy them.")
        List<String> operands;

        @Override
        List<String> operands() {
            return operands;
        }

        @Override
        void checkOperands(List<String> sources, String destination) {}
    }

    @Command(
            name = "put",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            exitCodeList = FileCommands.EXIT_FAILED_HELP,
            description = {
                "Upload local files or trees into a volume (cp with a local source and a remote destination).",
                "",
                "Example:  holdfast put -r ./website www:/htdocs"
            })
    static final class Put extends CopyCommand {
        @Parameters(
                arity = "2..*",
                hideParamSyntax = true,
                paramLabel = "LOCAL... VOLUME:/path",
                description = "Local sources, then the remote destination.")
        List<String> operands;

        @Override
        List<String> operands() {
            return operands;
        }

        @Override
        void checkOperands(List<String> sources, String destination) {
            checkDirection(
                    sources,
                    destination,
                    false,
                    s -> "put copies local files; '" + s + "' is remote (use get or cp)",
                    d -> "put needs a remote destination VOLUME:/path, got '" + d + "'");
        }
    }

    @Command(
            name = "get",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            exitCodeList = FileCommands.EXIT_FAILED_HELP,
            description = {
                "Download files or trees from a volume (cp with a remote source and a local destination).",
                "",
                "Example:  holdfast get -r www:/htdocs ./website-copy"
            })
    static final class Get extends CopyCommand {
        @Parameters(
                arity = "2..*",
                hideParamSyntax = true,
                paramLabel = "VOLUME:/path... LOCAL",
                description = "Remote sources, then the local destination.")
        List<String> operands;

        @Override
        List<String> operands() {
            return operands;
        }

        @Override
        void checkOperands(List<String> sources, String destination) {
            checkDirection(
                    sources,
                    destination,
                    true,
                    s -> "get copies from a volume; '" + s + "' is local (use put or cp)",
                    d -> "get needs a local destination, got '" + d + "' (use cp)");
        }
    }

    // ---- mkdir ---------------------------------------------------------------------------------

    @Command(
            name = "mkdir",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            exitCodeList = FileCommands.EXIT_FAILED_HELP,
            description = {
                "Create directories.",
                PATHS_HELP,
                "",
                "Example:  holdfast mkdir -p mail:/users/alice/Maildir/new"
            })
    static final class Mkdir extends FileCommand {
        @Option(
                names = {"-p", "--parents"},
                description = "Create missing parents; no error if the directory exists.")
        boolean parents;

        @Parameters(arity = "1..*", paramLabel = "PATH", description = "Directories to create.")
        List<String> paths;

        @Override
        void run() {
            forEachLocation(paths, (arg, l) -> {
                if (parents) {
                    Files.createDirectories(l.path());
                } else {
                    Files.createDirectory(l.path());
                }
            });
        }
    }

    // ---- rm ------------------------------------------------------------------------------------

    @Command(
            name = "rm",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            exitCodeList = FileCommands.EXIT_FAILED_HELP,
            description = {
                "Remove files, symbolic links (never their targets) and, with -r, directories and their contents.",
                "As POSIX rm, refuses a PATH whose last name is '.' or '..', and (with -r) a root.",
                PATHS_HELP,
                "",
                "Example:  holdfast rm -r mail:/tmp/old"
            })
    static final class Rm extends FileCommand {
        @Option(
                names = {"-r", "-R", "--recursive"},
                description = "Remove directories and their contents.")
        boolean recursive;

        @Option(
                names = {"-f", "--force"},
                description = "Ignore paths that do not exist.")
        boolean force;

        @Parameters(arity = "1..*", paramLabel = "PATH", description = "What to remove.")
        List<String> paths;

        @Override
        void run() {
            forEachLocation(paths, (arg, l) -> {
                if (endsInDotOrDotDot(l.path())) {
                    throw new FileSystemException(
                            l.path().toString(), null, "refusing to remove '.' or '..' directory");
                }
                TreeCopier deleter = new TreeCopier(CopyProgress.NONE, e -> fail(e, l));
                try {
                    deleter.delete(l.path(), recursive);
                } catch (NoSuchFileException e) {
                    if (!force) {
                        throw e;
                    }
                }
            });
        }
    }

    // ---- mv ------------------------------------------------------------------------------------

    @Command(
            name = "mv",
            mixinStandardHelpOptions = true,
            sortOptions = false,
            exitCodeList = FileCommands.EXIT_FAILED_HELP,
            description = {
                "Move or rename a file or tree.",
                "Within one volume (or one local file system) this is one atomic rename that replaces",
                "an existing file; between volumes, or between local and",
                "remote, it copies (like cp -r, keeping modes, times and links) and then deletes the source.",
                "If DESTINATION is a directory, SOURCE is moved into it.",
                "A SOURCE whose last name is '.' or '..' is refused, as rename(2) does.",
                PATHS_HELP,
                "",
                "Examples:  holdfast mv mail:/inbox/tmp/1 mail:/inbox/new/1",
                "           holdfast mv mail:/archive ./archive      (copy, then delete)"
            })
    static final class Mv extends FileCommand {
        @Option(
                names = "--progress",
                description = "Show a progress bar on stderr (copying moves) even when it is not a terminal.")
        boolean forceProgress;

        @Parameters(index = "0", paramLabel = "SOURCE", description = "What to move.")
        String source;

        @Parameters(index = "1", paramLabel = "DESTINATION", description = "The new name, or a directory to move into.")
        String destination;

        @Override
        void run() {
            Location src = resolve(source);
            Location dst = resolve(destination);
            if (src == null || dst == null) {
                return;
            }
            if (endsInDotOrDotDot(src.path())) {
                fail(
                        new FileSystemException(src.path().toString(), null, "refusing to move '.' or '..' directory"),
                        src);
                return;
            }
            Path target = target(src, dst, Files.isDirectory(dst.path()));
            if (TreeCopier.sameFileSystem(src.path(), target)) {
                try {
                    Files.move(src.path(), target, StandardCopyOption.ATOMIC_MOVE);
                    return;
                } catch (AtomicMoveNotSupportedException e) {
                    // another device of the local file system: copy and delete below
                } catch (IOException | RuntimeException e) {
                    fail(e, src, dst);
                    return;
                }
            }
            System.err.println("holdfast mv: " + source + " and " + destination
                    + " are on different file systems: copying, then deleting " + source);
            CopyProgress progress = progress(forceProgress);
            if (progress.enabled()) {
                TreeCopier.scan(src.path(), true, progress);
            }
            TreeCopier copier = new TreeCopier(progress, e -> fail(e, src, dst));
            try {
                copier.copy(src.path(), target, true);
            } catch (IOException | RuntimeException e) {
                fail(e, src, dst);
                return;
            } finally {
                progress.finish();
            }
            if (copier.failedCount() > 0) {
                System.err.println(
                        "holdfast mv: " + source + " not deleted: " + copier.failedCount() + " entries failed to copy");
                return;
            }
            try {
                copier.delete(src.path(), true);
            } catch (IOException | RuntimeException e) {
                fail(e, src);
            }
        }
    }
}
