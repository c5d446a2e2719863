package io.holdfast.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.protocol.Request;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.rocksdb.FlushOptions;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;

/**
 * Opening a brick checks it: a corrupt one is refused with a message naming what is wrong,
 * and nothing in it is changed by the refusal.
 */
class BrickStartupCheckTest extends BrickTestBase {
    private void fill() throws Exception {
        for (int i = 0; i < 50; i++) {
            b.apply(new Request.Mkdir(TestBrick.ROOT, "/d" + i, 0755));
        }
        b.brick.close();
        try (Options o = new Options();
                RocksDB db = RocksDB.open(o, meta().toString());
                FlushOptions f = new FlushOptions().setWaitForFlush(true)) {
            db.flush(f); // the metadata into SST files (checksummed blocks)
        }
    }

    private Path meta() {
        return b.dir.resolve("meta");
    }

    private void refusedWith(String... fragments) {
        assertThatThrownBy(() -> b.brick = Brick.open(b.dir))
                .isInstanceOf(IOException.class)
                .satisfies(e -> System.out.println("refused: " + e.getMessage()))
                .hasMessageContaining("refusing brick " + b.dir)
                .hasMessageContaining("Move the brick directory away")
                .satisfies(e -> {
                    for (String f : fragments) {
                        assertThat(e.getMessage()).contains(f);
                    }
                });
    }

    @Test
    void aHealthyBrickOpens() throws Exception {
        fill();
        b.brick = Brick.open(b.dir);
        assertThat(b.brick.appliedIndex()).isEqualTo(50);
    }

    @Test
    void aFlippedByteInTheMetadataIsFound() throws Exception {
        fill();
        Path sst;
        try (Stream<Path> s = Files.list(meta())) {
            sst = s.filter(p -> p.toString().endsWith(".sst"))
                    .max(Comparator.comparingLong(p -> p.toFile().length()))
                    .orElseThrow();
        }
        try (RandomAccessFile raf = new RandomAccessFile(sst.toFile(), "rw")) {
            raf.seek(raf.length() / 3);
            int x = raf.read();
            raf.seek(raf.length() / 3);
            raf.write(x ^ 0x10);
        }
        byte[] damaged = Files.readAllBytes(sst);
        refusedWith("checksum");
        assertThat(Files.readAllBytes(sst)).as("the refusal changes nothing").isEqualTo(damaged);
    }

    @Test
    void aMissingRootDirectoryIsFound() throws Exception {
        fill();
        try (Options o = new Options();
                RocksDB db = RocksDB.open(o, meta().toString())) {
            db.delete(Keys.inode(Brick.ROOT));
        }
        refusedWith("root directory (inode 1)", "missing");
    }

    @Test
    void aDamagedCounterIsFound() throws Exception {
        fill();
        try (Options o = new Options();
                RocksDB db = RocksDB.open(o, meta().toString())) {
            db.put(Keys.APPLIED, new byte[] {1, 2, 3});
        }
        refusedWith("counter applied", "3 bytes instead of 8");
    }

    @Test
    void aMissingDataDirectoryIsFound() throws Exception {
        fill();
        Files.delete(b.dir.resolve("data"));
        refusedWith("data directory", "missing");
    }
}
