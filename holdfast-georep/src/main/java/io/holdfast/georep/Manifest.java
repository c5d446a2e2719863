package io.holdfast.georep;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.holdfast.common.FieldEscape;
import io.holdfast.common.FileInfo;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

/**
 * A baseline manifest: what every entry of a tree looked like at one moment, so that later changes
 * can be found by comparing the tree with it (no copy, no content read). Kept at the target in
 * {@code TARGET/.holdfast-georep/baseline-N} (N: the source feed index it belongs to) by {@link
 * Failover}.
 *
 * <p>Per entry (the root and the root's {@code .holdfast-georep} left out, and the worker's
 * temporary names): the relative path, {@code st_mode} (type and permission bits), inode number
 * (the file key), link count, size, modification, status-change and birth times (ns since the epoch),
 * owner, group and a symbolic link's target. An entry whose inode, type, size, mode, owner, times
 * (the status-change time included, which no user can set: every write, chmod, xattr change or
 * replacement moves it) are all as recorded is taken as unchanged, without reading it.
 *
 * <p>File format, UTF-8 text:
 *
 * <pre>
 * holdfast-georep-manifest
 * version=1
 * PATH TAB MODE(octal) TAB INODE TAB NLINK TAB SIZE TAB MTIME TAB CTIME TAB BTIME TAB UID TAB GID TAB LINK
 * ...
 * crc32c=HEX (of every line before it)
 * </pre>
 *
 * with {@code %}, TAB, CR and LF in paths and link targets written as {@code %25 %09 %0D %0A}, and
 * {@code -} for "no link target". Paths are in walk order (a directory before its entries). Lines
 * are at most {@link #MAX_LINE} characters and a manifest at most {@link #MAX_ENTRIES} entries;
 * memory is about 200 bytes per entry. Written like the state file: a temporary name, forced,
 * renamed, the directory forced. Immutable once built; not thread-safe while being built.
 */
final class Manifest {
    static final String MAGIC = "holdfast-georep-manifest";
    static final String PREFIX = "baseline-";
    static final int VERSION = 1;
    /** Longest line: two escaped names of at most 4,096 bytes each and the numbers. */
    static final int MAX_LINE = 64 * 1024;
    /** Most entries read from a manifest file. */
    static final int MAX_ENTRIES = 50_000_000;

    private static final Pattern NAME = Pattern.compile(Pattern.quote(PREFIX) + "[0-9]{1,19}");

    /**
     * One entry.
     *
     * @param mode full {@code st_mode}
     * @param inode the inode number, -1 where the file system has none
     * @param btime the birth time (Linux {@code statx(2)} {@code stx_btime}, ns) where the file
     *     system keeps one, else the modification time: tells a renamed entry from a new one that
     *     was given a deleted entry's inode number
     * @param link a symbolic link's target, else null
     */
    record Entry(
            int mode,
            long inode,
            long nlink,
            long size,
            long mtime,
            long ctime,
            long btime,
            long uid,
            long gid,
            String link) {
        int type() {
            return mode & FileInfo.S_IFMT;
        }

        boolean isDirectory() {
            return type() == FileInfo.S_IFDIR;
        }

        /** Whether {@code o} is the same entry, unchanged (all fields; times to the nanosecond). */
        boolean unchanged(Entry o) {
            return equals(o);
        }

        /**
         * Whether {@code o} looks like the same content with the same attributes, ignoring the inode
         * and status-change time (a renamed entry's status-change time moves with the rename, and a
         * copy on another file system has other inodes): type, size, mode, owner, modification time,
         * link target.
         */
        boolean sameLook(Entry o) {
            return mode == o.mode
                    && size == o.size
                    && mtime == o.mtime
                    && uid == o.uid
                    && gid == o.gid
                    && Objects.equals(link, o.link);
        }
    }

    private final Map<String, Entry> entries;

    Manifest(Map<String, Entry> entries) {
        this.entries = Collections.unmodifiableMap(entries);
    }

    /** Path → entry, in walk order (parents first). */
    Map<String, Entry> entries() {
        return entries;
    }

    static boolean validName(String fileName) {
        return NAME.matcher(fileName).matches();
    }

    static String fileName(long index) {
        return PREFIX + index;
    }

    /** The entry of {@code p} as it is now, or null if there is none. */
    static Entry entry(Path p) throws IOException {
        FileInfo i = TargetSync.stat(p);
        if (i == null) {
            return null;
        }
        String link = i.isSymbolicLink() ? Files.readSymbolicLink(p).toString() : null;
        FileTime born = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
                .creationTime();
        return new Entry(
                i.mode(),
                i.inode(),
                i.nlink(),
                i.size(),
                nanos(i.mtime()),
                nanos(i.ctime()),
                nanos(born),
                i.uid(),
                i.gid(),
                link);
    }

    private static long nanos(FileTime t) {
        return t == null ? 0 : t.to(TimeUnit.NANOSECONDS);
    }

    /**
     * Walks the tree at {@code root} (not following symbolic links), leaving out the root itself,
     * the root's {@code .holdfast-georep} and the worker's temporary names.
     *
     * @throws IOException if the tree cannot be read; an entry that goes away during the walk is
     *     left out
     */
    static Manifest scan(Path root) throws IOException {
        Map<String, Entry> out = new LinkedHashMap<>();
        walk(root, "", out);
        return new Manifest(out);
    }

    private static void walk(Path root, String rel, Map<String, Entry> out) throws IOException {
        List<String> names = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(TargetSync.at(root, rel))) {
            for (Path c : s) {
                String name = c.getFileName().toString();
                if (!(rel.isEmpty() && name.equals(StateFile.DIR)) && !name.startsWith(TargetSync.TEMP_PREFIX)) {
                    names.add(name);
                }
            }
        } catch (NoSuchFileException e) {
            return;
        }
        Collections.sort(names);
        for (String name : names) {
            String c = TargetSync.child(rel, name);
            Entry e = entry(TargetSync.at(root, c));
            if (e == null) {
                continue;
            }
            if (out.size() >= MAX_ENTRIES) {
                throw new IOException(root + " has more than " + MAX_ENTRIES + " entries, more than a manifest holds");
            }
            out.put(c, e);
            if (e.isDirectory()) {
                walk(root, c, out);
            }
        }
    }

    // ---- file

    /** Writes this manifest to {@code file} atomically (and durably if {@code fsync}). */
    void write(Path file, boolean fsync) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        CRC32C crc = new CRC32C();
        try (SeekableByteChannel ch = Files.newByteChannel(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            StringBuilder chunk = new StringBuilder();
            line(chunk, crc, MAGIC);
            line(chunk, crc, "version=" + VERSION);
            for (Map.Entry<String, Entry> me : entries.entrySet()) {
                Entry e = me.getValue();
                line(
                        chunk,
                        crc,
                        FieldEscape.escape(me.getKey()) + "\t" + Integer.toOctalString(e.mode()) + "\t" + e.inode()
                                + "\t"
                                + e.nlink() + "\t" + e.size() + "\t" + e.mtime() + "\t" + e.ctime() + "\t" + e.btime()
                                + "\t" + e.uid()
                                + "\t" + e.gid() + "\t" + (e.link() == null ? "-" : FieldEscape.escape(e.link())));
                if (chunk.length() > 1 << 16) {
                    writeAll(ch, chunk);
                }
            }
            chunk.append("crc32c=")
                    .append(HexFormat.of().toHexDigits((int) crc.getValue()))
                    .append('\n');
            writeAll(ch, chunk);
            if (fsync && ch instanceof FileChannel fc) {
                fc.force(true);
            }
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        if (fsync) {
            StateFile.forceDirectory(file.getParent());
        }
    }

    private static void line(StringBuilder chunk, CRC32C crc, String line) {
        crc.update((line + "\n").getBytes(UTF_8));
        chunk.append(line).append('\n');
    }

    private static void writeAll(SeekableByteChannel ch, StringBuilder chunk) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(chunk.toString().getBytes(UTF_8));
        while (b.hasRemaining()) {
            ch.write(b);
        }
        chunk.setLength(0);
    }

    /**
     * Reads a manifest file.
     *
     * @throws GeoStateException if it is not a whole manifest of a known version (bad header,
     *     line, checksum, too long a line, too many entries)
     * @throws IOException if it cannot be read
     */
    static Manifest read(Path file) throws IOException {
        Map<String, Entry> out = new LinkedHashMap<>();
        CRC32C crc = new CRC32C();
        try (Reader r = new InputStreamReader(Files.newInputStream(file), UTF_8);
                BufferedReader in = new BufferedReader(r, 1 << 16)) {
            String magic = readLine(in, file);
            if (!MAGIC.equals(magic)) {
                throw new GeoStateException(file + " is not a baseline manifest");
            }
            crc.update((magic + "\n").getBytes(UTF_8));
            String version = readLine(in, file);
            if (!("version=" + VERSION).equals(version)) {
                throw new GeoStateException(file + ": unknown manifest " + version);
            }
            crc.update((version + "\n").getBytes(UTF_8));
            while (true) {
                String line = readLine(in, file);
                if (line == null) {
                    throw new GeoStateException(file + " is truncated (no checksum line)");
                }
                if (line.startsWith("crc32c=")) {
                    String want = line.substring("crc32c=".length());
                    String have = HexFormat.of().toHexDigits((int) crc.getValue());
                    if (!want.equals(have) || readLine(in, file) != null) {
                        throw new GeoStateException(file + " is corrupt: checksum " + want + ", content has " + have);
                    }
                    return new Manifest(out);
                }
                crc.update((line + "\n").getBytes(UTF_8));
                if (out.size() >= MAX_ENTRIES) {
                    throw new GeoStateException(file + " has more than " + MAX_ENTRIES + " entries");
                }
                parseLine(file, line, out);
            }
        }
    }

    private static void parseLine(Path file, String line, Map<String, Entry> out) throws GeoStateException {
        String[] f = line.split("\t", -1);
        if (f.length != 11) {
            throw new GeoStateException(file + " is corrupt: a line of " + f.length + " fields");
        }
        try {
            String path = FieldEscape.unescape(f[0]);
            if (path.isEmpty() || TargetSync.relative("/" + path) == null) {
                throw new GeoStateException(file + " is corrupt: path '" + f[0] + "'");
            }
            out.put(
                    path,
                    new Entry(
                            Integer.parseInt(f[1], 8),
                            Long.parseLong(f[2]),
                            Long.parseLong(f[3]),
                            Long.parseLong(f[4]),
                            Long.parseLong(f[5]),
                            Long.parseLong(f[6]),
                            Long.parseLong(f[7]),
                            Long.parseLong(f[8]),
                            Long.parseLong(f[9]),
                            f[10].equals("-") ? null : FieldEscape.unescape(f[10])));
        } catch (IllegalArgumentException e) {
            throw new GeoStateException(file + " is corrupt: " + e.getMessage());
        }
    }

    private static String readLine(BufferedReader in, Path file) throws IOException {
        StringBuilder b = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') {
                return b.toString();
            }
            if (b.length() >= MAX_LINE) {
                throw new GeoStateException(file + " is corrupt: a line longer than " + MAX_LINE);
            }
            b.append((char) c);
        }
        if (b.isEmpty()) {
            return null;
        }
        throw new GeoStateException(file + " is truncated (a line without its end)");
    }
}
