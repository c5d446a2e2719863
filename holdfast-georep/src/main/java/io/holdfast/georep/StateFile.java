package io.holdfast.georep;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The replicator's position, kept at the target in {@code TARGET/.holdfast-georep/state}: a small
 * text file of {@code key=value} lines after a magic first line, ending with the CRC32C of
 * everything before it.
 *
 * <pre>
 * holdfast-georep-state
 * version=1
 * session=mail-dr
 * index=1234
 * commitNanos=1765000000123456789
 * writtenNanos=1765000000456789012
 * compareTree=0
 * crc32c=1a2b3c4d
 * </pre>
 *
 * <p>Version 2 adds the promotion of the target to primary ({@link Failover}): lines
 * {@code promotedNanos}, {@code splitIndex}, {@code splitCommitNanos}, {@code baseIndex} and
 * {@code baseline} (the baseline manifest's file name in the same directory). They are written
 * only while the target is promoted, and only then is the file written as version 2, so that a
 * file without them stays readable by older workers, and an older worker refuses a promoted
 * target ("too new") instead of overwriting what was written at the disaster-recovery site.
 *
 * <p>Written atomically: a temporary file in the same directory, forced, renamed over the old one,
 * then the directory forced; so after a crash the file is the old or the new one, whole. Not
 * thread-safe.
 */
final class StateFile {
    static final String DIR = ".holdfast-georep";
    static final String NAME = "state";
    static final String MAGIC = "holdfast-georep-state";
    static final int VERSION = 2;
    /** The version of a file without promotion fields. */
    static final int VERSION_PLAIN = 1;
    /** A state file is a few hundred bytes; anything longer is not one. */
    static final int MAX_BYTES = 4096;

    /**
     * One recorded position.
     *
     * @param compareTree whether the target must be compared with the whole source tree before
     *     tailing on: set before the worker splits a file with several names whose other names it
     *     does not know (a crash before the comparison must not forget it)
     */
    record State(
            String session, long index, long commitNanos, long writtenNanos, boolean compareTree, Promoted promoted) {
        /** A state of a target that is not promoted. */
        State(String session, long index, long commitNanos, long writtenNanos, boolean compareTree) {
            this(session, index, commitNanos, writtenNanos, compareTree, null);
        }
    }

    /**
     * The target was promoted to primary ({@link Failover#promote}).
     *
     * @param promotedNanos when, nanoseconds since the epoch
     * @param splitIndex the source feed index the target held when promoted (the split point)
     * @param splitCommitNanos the commit time of that index's record, nanoseconds since the epoch
     * @param baseIndex the source feed index through which the old primary's changes have been
     *     reconciled with the target: the split index until a reverse pass completes, then the
     *     source's applied index after that pass
     * @param baseline the file name (in the state directory) of the manifest of the target tree
     *     as it was at {@code baseIndex}: {@value Manifest#PREFIX} and a number
     */
    record Promoted(long promotedNanos, long splitIndex, long splitCommitNanos, long baseIndex, String baseline) {}

    private final Path dir;
    private final Path file;
    private final boolean fsync;

    StateFile(Path targetRoot, boolean fsync) {
        this.dir = targetRoot.resolve(DIR);
        this.file = dir.resolve(NAME);
        this.fsync = fsync;
    }

    Path path() {
        return file;
    }

    /**
     * The recorded state, or null if there is none.
     *
     * @throws GeoStateException if the file is corrupt or of a newer version
     * @throws IOException if it cannot be read
     */
    State read() throws IOException {
        byte[] bytes;
        try (SeekableByteChannel ch = Files.newByteChannel(file, StandardOpenOption.READ)) {
            if (ch.size() > MAX_BYTES) {
                throw new GeoStateException(file + " is corrupt: " + ch.size() + " bytes, more than " + MAX_BYTES);
            }
            ByteBuffer buf = ByteBuffer.allocate((int) ch.size());
            while (buf.hasRemaining() && ch.read(buf) >= 0) {
                // read it all
            }
            bytes = buf.array();
        } catch (NoSuchFileException e) {
            return null;
        }
        return parse(file.toString(), new String(bytes, UTF_8));
    }

    static State parse(String name, String text) throws GeoStateException {
        int crcAt = text.lastIndexOf("crc32c=");
        if (!text.startsWith(MAGIC + "\n") || crcAt < 0 || !text.endsWith("\n")) {
            throw new GeoStateException(name + " is corrupt: not a georep state file (no header or checksum line)");
        }
        String body = text.substring(0, crcAt);
        String crcText = text.substring(crcAt + "crc32c=".length(), text.length() - 1);
        if (!crcText.equals(crc(body))) {
            throw new GeoStateException(name + " is corrupt: checksum " + crcText + ", content has " + crc(body));
        }
        Map<String, String> fields = new LinkedHashMap<>();
        for (String line : body.substring(MAGIC.length() + 1).split("\n")) {
            int eq = line.indexOf('=');
            if (eq <= 0) {
                throw new GeoStateException(name + " is corrupt: line '" + line + "'");
            }
            fields.put(line.substring(0, eq), line.substring(eq + 1));
        }
        long version = number(name, fields, "version");
        if (version > VERSION) {
            throw new GeoStateException(
                    name + " is too new: version " + version + ", this replicator reads up to " + VERSION);
        }
        if (version < VERSION_PLAIN) {
            throw new GeoStateException(name + " is corrupt: version " + version);
        }
        String session = fields.get("session");
        if (session == null || session.isEmpty()) {
            throw new GeoStateException(name + " is corrupt: no session");
        }
        String compare = fields.getOrDefault("compareTree", "0");
        if (!compare.equals("0") && !compare.equals("1")) {
            throw new GeoStateException(name + " is corrupt: compareTree '" + compare + "'");
        }
        Promoted promoted = null;
        if (fields.containsKey("promotedNanos")) {
            String baseline = fields.get("baseline");
            if (baseline == null || !Manifest.validName(baseline)) {
                throw new GeoStateException(name + " is corrupt: baseline '" + baseline + "'");
            }
            promoted = new Promoted(
                    number(name, fields, "promotedNanos"),
                    number(name, fields, "splitIndex"),
                    number(name, fields, "splitCommitNanos"),
                    number(name, fields, "baseIndex"),
                    baseline);
        }
        return new State(
                session,
                number(name, fields, "index"),
                number(name, fields, "commitNanos"),
                number(name, fields, "writtenNanos"),
                compare.equals("1"),
                promoted);
    }

    private static long number(String name, Map<String, String> fields, String key) throws GeoStateException {
        String v = fields.get(key);
        if (v == null) {
            throw new GeoStateException(name + " is corrupt: no " + key);
        }
        try {
            long n = Long.parseLong(v);
            if (n < 0) {
                throw new GeoStateException(name + " is corrupt: negative " + key + " " + n);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new GeoStateException(name + " is corrupt: " + key + " '" + v + "' is not a number");
        }
    }

    static String format(State s) {
        String body = MAGIC + "\n" + "version=" + (s.promoted() == null ? VERSION_PLAIN : VERSION) + "\n"
                + "session=" + s.session() + "\n" + "index="
                + s.index() + "\n" + "commitNanos=" + s.commitNanos() + "\n" + "writtenNanos=" + s.writtenNanos()
                + "\n" + "compareTree=" + (s.compareTree() ? 1 : 0) + "\n";
        Promoted p = s.promoted();
        if (p != null) {
            body += "promotedNanos=" + p.promotedNanos() + "\n" + "splitIndex=" + p.splitIndex() + "\n"
                    + "splitCommitNanos=" + p.splitCommitNanos() + "\n" + "baseIndex=" + p.baseIndex() + "\n"
                    + "baseline=" + p.baseline() + "\n";
        }
        return body + "crc32c=" + crc(body) + "\n";
    }

    private static String crc(String body) {
        CRC32C c = new CRC32C();
        c.update(body.getBytes(UTF_8));
        return HexFormat.of().toHexDigits((int) c.getValue());
    }

    /**
     * Records {@code s}: when this returns, the file holds it (durably if {@code fsync}).
     *
     * @throws IOException if it cannot be written; the old state is then still in place
     */
    void write(State s) throws IOException {
        Files.createDirectories(dir);
        Path tmp = dir.resolve(NAME + ".tmp");
        byte[] bytes = format(s).getBytes(UTF_8);
        try (SeekableByteChannel ch = Files.newByteChannel(
                tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            if (fsync && ch instanceof FileChannel fc) {
                fc.force(true);
            }
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        if (fsync) {
            forceDirectory(dir);
        }
    }

    /**
     * Forces {@code dir}'s entries to stable storage (POSIX {@code fsync(2)} of a directory), on the
     * local file system; elsewhere (a Holdfast volume commits a rename before it returns) nothing.
     */
    static void forceDirectory(Path dir) throws IOException {
        if (dir.getFileSystem() != FileSystems.getDefault()) {
            return;
        }
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }
}
