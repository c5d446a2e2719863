package io.holdfast.overlay;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Copy-up killed for real: a child JVM ({@link CopyUpKillChild}) opens the overlay over a lower
 * layer of {@value #FILES} large files and changes each in turn (a small append, a chmod or a small
 * write in the middle, each of which copies the whole file up first), printing each completed
 * change; it is killed with SIGKILL as soon as it has printed N of them (N from the seed), so most
 * often in the middle of copying file N. Reopened here, every file must be exactly its lower
 * content or exactly its changed content (never partial or empty), the changed ones a prefix of
 * the order the child works in, the work directory's leftovers gone; then the remaining changes
 * still apply.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class CopyUpKillTest {
    static final int FILES = 20;
    private static final String LOWER_MODE = "rw-r--r--";
    private static final String CHMOD_MODE = "rw-------";
    private static final Duration CHILD_LIMIT = Duration.ofSeconds(150);

    @TempDir
    static Path shared;

    private static Path lower;
    private static final String[] lowerSha = new String[FILES];
    private static final String[] changedSha = new String[FILES];
    private static final long[] sizes = new long[FILES];

    @TempDir
    Path base;

    @BeforeAll
    static void lowerLayer() throws IOException {
        lower = Files.createDirectory(shared.resolve("lower"));
        Random sizesRandom = new Random(42);
        for (int i = 0; i < FILES; i++) {
            int size = (4 << 20) + sizesRandom.nextInt(12 << 20) + sizesRandom.nextInt(2) * 4095;
            byte[] b = OverlayMergeTest.randomBytes(size, 1000 + i);
            Path f = lower.resolve(name(i));
            Files.write(f, b);
            Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(LOWER_MODE));
            sizes[i] = size;
            lowerSha[i] = sha256(b);
            changedSha[i] = sha256(modelChanged(b, i));
        }
    }

    static String name(int i) {
        return "f" + i;
    }

    /** The change to file {@code i}, through the overlay; each copies the whole file up first. */
    static void change(Path overlayRoot, int i) throws IOException {
        Path f = overlayRoot.resolve(name(i));
        switch (i % 3) {
            case 0 -> {
                try (SeekableByteChannel ch = Files.newByteChannel(f, StandardOpenOption.APPEND)) {
                    writeFully(ch, marker(i));
                }
            }
            case 1 -> Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(CHMOD_MODE));
            default -> {
                try (SeekableByteChannel ch = Files.newByteChannel(f, StandardOpenOption.WRITE)) {
                    ch.position(middle(Files.size(f)));
                    writeFully(ch, marker(i));
                }
            }
        }
    }

    /** The model of {@link #change}'s effect on the content (a chmod leaves it as it is). */
    static byte[] modelChanged(byte[] content, int i) {
        byte[] m = marker(i);
        switch (i % 3) {
            case 0 -> {
                byte[] r = Arrays.copyOf(content, content.length + m.length);
                System.arraycopy(m, 0, r, content.length, m.length);
                return r;
            }
            case 1 -> {
                return content;
            }
            default -> {
                byte[] r = content.clone();
                System.arraycopy(m, 0, r, (int) middle(content.length), m.length);
                return r;
            }
        }
    }

    /** 16 bytes, written with one call inside one page so that a kill cannot tear them. */
    private static byte[] marker(int i) {
        return String.format("changed %7d\n", i).getBytes(UTF_8);
    }

    private static long middle(long size) {
        return (size / 2) & ~4095L;
    }

    private static void writeFully(SeekableByteChannel ch, byte[] b) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(b);
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5})
    void copyUpKilledWithSigkillLeavesEachFileWholeOldOrWholeNew(long seed) throws Exception {
        int killAfter = new Random(seed).nextInt(FILES);
        Path upper = Files.createDirectory(base.resolve("upper"));
        Path work = base.resolve("work");
        System.out.printf("seed %d: SIGKILL after %d completed changes%n", seed, killAfter);

        Process child = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "--enable-native-access=ALL-UNNAMED",
                        "-cp",
                        System.getProperty("java.class.path"),
                        CopyUpKillChild.class.getName(),
                        lower.toString(),
                        upper.toString(),
                        work.toString())
                .redirectError(base.resolve("child.err").toFile())
                .start();
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = Thread.ofPlatform().daemon().start(() -> readLines(child, lines));
        List<String> seen = new ArrayList<>();
        try {
            awaitLine(lines, seen, "ready", child);
            for (int i = 0; i < killAfter; i++) {
                awaitLine(lines, seen, "changed " + i, child);
            }
            awaitCopyInProgress(work.resolve("tmp"), lines, child);
        } finally {
            child.destroyForcibly(); // SIGKILL
            assertThat(child.waitFor(60, TimeUnit.SECONDS)).as("the child ends").isTrue();
        }
        assertThat(child.exitValue()).as("killed, not finished or failed").isEqualTo(137);
        reader.join(Duration.ofSeconds(30));
        assertThat(reader.isAlive()).as("the child's output ends").isFalse();
        lines.drainTo(seen);
        seen.remove(seen.size() - 1); // the end marker
        long printed = seen.stream().filter(l -> l.startsWith("changed ")).count();
        assertThat(printed).isGreaterThanOrEqualTo(killAfter);
        List<String> leftovers = list(work.resolve("tmp"));
        System.out.printf(
                "seed %d: the child printed %d changes; work/tmp held %s at the kill, the upper layer %s%n",
                seed, printed, leftovers, list(upper));

        int changed;
        try (OverlayFileSystem fs = OverlayFileSystem.open(lower, upper, work)) {
            assertThat(list(work.resolve("tmp")))
                    .as("the crashed copy-up's leftovers")
                    .isEmpty();
            Path root = fs.root();
            assertThat(list(root)).hasSize(FILES);
            boolean[] isChanged = new boolean[FILES];
            for (int i = 0; i < FILES; i++) {
                isChanged[i] = stateOf(root.resolve(name(i)), i);
            }
            changed = 0;
            while (changed < FILES && isChanged[changed]) {
                changed++;
            }
            for (int i = changed; i < FILES; i++) {
                assertThat(isChanged[i])
                        .as("file %d changed after unchanged file %d", i, changed)
                        .isFalse();
            }
            // every change printed is there; at most one more finished between its print and the kill
            assertThat((long) changed).isBetween(printed, printed + 1);
            // the upper layer holds whole copies only, of the changed files and perhaps the one being changed
            for (String n : list(upper)) {
                assertThat(n).matches("f\\d+");
                assertThat(Integer.parseInt(n.substring(1))).isLessThanOrEqualTo(changed);
            }
            for (int i = changed; i < FILES; i++) {
                change(root, i);
            }
            for (int i = 0; i < FILES; i++) {
                assertThat(stateOf(root.resolve(name(i)), i))
                        .as("file %d changed", i)
                        .isTrue();
            }
        }
        System.out.printf("seed %d: %d files were changed at the kill, the rest applied after%n", seed, changed);
        for (int i = 0; i < FILES; i++) {
            Path f = lower.resolve(name(i));
            assertThat(Files.size(f)).isEqualTo(sizes[i]);
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f)))
                    .isEqualTo(LOWER_MODE);
        }
    }

    /**
     * Whether file {@code i} (seen through the overlay) is exactly changed; fails unless it is
     * exactly either the lower file or the changed one, content and mode.
     */
    private static boolean stateOf(Path f, int i) throws IOException {
        String sha = sha256(f);
        String mode = PosixFilePermissions.toString(Files.getPosixFilePermissions(f));
        boolean lowerContent = sha.equals(lowerSha[i]);
        boolean changedContent = sha.equals(changedSha[i]);
        assertThat(lowerContent || changedContent)
                .as("file %d (%d bytes) is whole: lower or changed", i, Files.size(f))
                .isTrue();
        if (i % 3 == 1) {
            assertThat(mode).as("mode of file %d", i).isIn(LOWER_MODE, CHMOD_MODE);
            return mode.equals(CHMOD_MODE);
        }
        assertThat(mode).as("mode of file %d", i).isEqualTo(LOWER_MODE);
        return !lowerContent;
    }

    /**
     * Waits (briefly) for the next copy-up to have written some data into the work directory, so
     * that the kill lands in its middle; gives up when the child reports its next change first.
     */
    private static void awaitCopyInProgress(Path tmp, BlockingQueue<String> lines, Process child)
            throws IOException, InterruptedException {
        long deadline = System.nanoTime() + CHILD_LIMIT.toNanos();
        while (lines.isEmpty() && child.isAlive() && System.nanoTime() < deadline) {
            try (Stream<Path> s = Files.list(tmp)) {
                if (s.anyMatch(p -> p.toFile().length() > 0)) {
                    return;
                }
            }
            LockSupport.parkNanos(200_000); // a short pause between polls, not a synchronisation
        }
    }

    private static void awaitLine(BlockingQueue<String> lines, List<String> seen, String expected, Process child)
            throws InterruptedException {
        String line = lines.poll(CHILD_LIMIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(line)
                .as("the child's next line (it is %s)", child.isAlive() ? "alive" : "dead")
                .isEqualTo(expected);
        seen.add(line);
    }

    private static void readLines(Process child, BlockingQueue<String> lines) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), UTF_8))) {
            for (String l = r.readLine(); l != null; l = r.readLine()) {
                lines.add(l);
            }
        } catch (IOException e) {
            lines.add("read error: " + e);
        }
        lines.add("<end>");
    }

    private static List<String> list(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static String sha256(Path f) throws IOException {
        MessageDigest d = digest();
        try (SeekableByteChannel ch = Files.newByteChannel(f, StandardOpenOption.READ)) {
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            while (ch.read(buf) >= 0) {
                buf.flip();
                d.update(buf);
                buf.clear();
            }
        }
        return HexFormat.of().formatHex(d.digest());
    }

    private static String sha256(byte[] b) {
        return HexFormat.of().formatHex(digest().digest(b));
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
