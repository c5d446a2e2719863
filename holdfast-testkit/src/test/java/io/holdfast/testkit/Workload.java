package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;

/**
 * A seeded random mix of mkdir, create+write, overwrite, append, rename (also replacing) and
 * unlink, applied one at a time to a volume and to a model of the expected tree; every
 * reply is checked against the model as it comes.
 */
final class Workload {
    private final VolumeService volume;
    private final Random random;
    private final TreeMap<String, byte[]> files = new TreeMap<>();
    private final TreeMap<String, Long> inodes = new TreeMap<>();
    private final List<String> dirs = new ArrayList<>(List.of("/"));
    private int names;
    /** Mutations submitted so far (each is one log entry). */
    long mutations;

    Workload(VolumeService volume, long seed) {
        this.volume = volume;
        this.random = new Random(seed);
    }

    private String fresh(String prefix) {
        String dir = dirs.get(random.nextInt(dirs.size()));
        return (dir.equals("/") ? "" : dir) + "/" + prefix + (names++);
    }

    private Response submit(Request.Mutation m) {
        mutations++;
        return Volumes.call(volume.submit(m));
    }

    /** Creates a file of {@code size} random bytes (written in ≤ 1 MiB chunks). */
    String createFile(int size) {
        String p = fresh("f");
        mutations++;
        Attr a = Volumes.createExclusive(volume, p);
        assertThat(a.size()).isZero();
        byte[] content = new byte[size];
        random.nextBytes(content);
        if (size > 0) {
            Volumes.write(volume, a.inode(), 0, content);
            mutations += (size + Limits.MAX_DATA_BYTES - 1) / Limits.MAX_DATA_BYTES;
        }
        files.put(p, content);
        inodes.put(p, a.inode());
        return p;
    }

    /**
     * Overwrites the first {@code size} bytes of file {@code p} with random bytes (in ≤ 1 MiB
     * chunks), growing it if it is shorter.
     */
    void rewrite(String p, int size) {
        byte[] data = new byte[size];
        random.nextBytes(data);
        Volumes.write(volume, inodes.get(p), 0, data);
        mutations += (size + Limits.MAX_DATA_BYTES - 1) / Limits.MAX_DATA_BYTES;
        byte[] old = files.get(p);
        byte[] now = Arrays.copyOf(old, Math.max(old.length, size));
        System.arraycopy(data, 0, now, 0, size);
        files.put(p, now);
    }

    /** One random mutation. */
    void step() {
        int op = random.nextInt(100);
        if (op < 8 || files.isEmpty()) {
            String p = fresh("d");
            Response r = submit(new Request.Mkdir(Caller.ROOT, p, 0755));
            assertThat(r).as("mkdir " + p).isInstanceOf(Response.AttrReply.class);
            dirs.add(p);
        } else if (op < 45) {
            createFile(random.nextInt(4) == 0 ? random.nextInt(8192) : random.nextInt(200));
        } else if (op < 70) {
            String p = pick();
            byte[] old = files.get(p);
            int offset = random.nextInt(old.length + 1);
            byte[] data = new byte[1 + random.nextInt(300)];
            random.nextBytes(data);
            Response r = submit(new Request.Write(Caller.ROOT, inodes.get(p), offset, data, Checksums.crc32c(data)));
            byte[] now = Arrays.copyOf(old, Math.max(old.length, offset + data.length));
            System.arraycopy(data, 0, now, offset, data.length);
            assertThat(r).as("write to " + p).isInstanceOf(Response.AttrReply.class);
            assertThat(((Response.AttrReply) r).attr().size())
                    .as("size after write to " + p)
                    .isEqualTo(now.length);
            files.put(p, now);
        } else if (op < 85) {
            String from = pick();
            String to = random.nextInt(4) == 0 && files.size() > 1 ? pick() : fresh("r");
            Response r = submit(new Request.Rename(Caller.ROOT, from, to, 0));
            assertThat(r).as("rename " + from + " -> " + to).isNotInstanceOf(Response.Error.class);
            if (!from.equals(to)) {
                files.put(to, files.remove(from));
                inodes.put(to, inodes.remove(from));
            }
        } else {
            String p = pick();
            Response r = submit(new Request.Unlink(Caller.ROOT, p, false));
            assertThat(r).as("unlink " + p).isInstanceOf(Response.AttrReply.class);
            files.remove(p);
            inodes.remove(p);
        }
    }

    private String pick() {
        List<String> keys = new ArrayList<>(files.keySet());
        return keys.get(random.nextInt(keys.size()));
    }

    /** The expected tree in the format of {@link Volumes#dump}. */
    TreeMap<String, String> expected() {
        TreeMap<String, String> out = new TreeMap<>();
        for (String d : dirs) {
            if (!d.equals("/")) {
                out.put(d, "dir");
            }
        }
        files.forEach((p, c) -> out.put(p, Volumes.describe(c)));
        return out;
    }

    /** Asserts that {@code reader} shows exactly the expected tree, byte for byte. */
    void verify(Volumes.Reader reader, String who) {
        assertThat(Volumes.dump(reader)).as("tree as seen by " + who).isEqualTo(expected());
    }
}
