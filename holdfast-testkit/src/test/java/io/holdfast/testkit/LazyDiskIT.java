package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.holdfast.testing.TestSeed;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The lazy disk on its own: unsynced data is visible until a crash, and lost (or torn) by it. */
class LazyDiskIT {
    @TempDir
    Path tmp;

    private LazyDiskMount mount() throws IOException {
        assumeTrue(LazyDiskMount.isAvailable(), "FUSE is not available");
        return LazyDiskMount.mount(tmp.resolve("backing"), tmp.resolve("mnt"), tmp.resolve("lazy.log"));
    }

    @Test
    void aCrashLosesWhatWasNotSyncedAndKeepsWhatWas() throws IOException {
        LazyDiskMount disk = mount();
        try {
            Path mnt = disk.mountPoint();
            Files.createDirectory(mnt.resolve("dir"));
            Files.writeString(mnt.resolve("dir/synced"), "old");
            try (FileChannel ch = FileChannel.open(mnt.resolve("dir/synced"), StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            try (FileChannel ch = FileChannel.open(mnt.resolve("dir/synced"), StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap("new and longer".getBytes()), 0);
                ch.force(false);
            }
            Files.writeString(mnt.resolve("dir/unsynced"), "lost");
            try (FileChannel ch = FileChannel.open(mnt.resolve("dir/synced"), StandardOpenOption.WRITE)) {
                ch.truncate(3); // not synced either
            }
            Files.move(mnt.resolve("dir/unsynced"), mnt.resolve("dir/renamed"));
            // before the crash, reads see everything (the page cache)
            assertThat(Files.readString(mnt.resolve("dir/synced"))).isEqualTo("new");
            assertThat(Files.readString(mnt.resolve("dir/renamed"))).isEqualTo("lost");
            assertThat(Files.size(mnt.resolve("dir/renamed"))).isEqualTo(4);
            // nothing unsynced has reached the backing files
            assertThat(Files.readString(disk.backing().resolve("dir/renamed"))).isEmpty();

            disk.crash();
            assertThat(Files.readString(disk.backing().resolve("dir/synced"))).isEqualTo("new and longer");
            disk.remount();
            assertThat(Files.readString(mnt.resolve("dir/synced")))
                    .as("the synced write, not the later truncate")
                    .isEqualTo("new and longer");
            // the namespace is durable at once; the content was never synced
            assertThat(Files.exists(mnt.resolve("dir/renamed"))).isTrue();
            assertThat(Files.readString(mnt.resolve("dir/renamed"))).isEmpty();
        } finally {
            disk.close();
        }
    }

    @Test
    void aTornCrashKeepsSomeUnsyncedPagesAndLosesOthers() throws IOException {
        LazyDiskMount disk = mount();
        try {
            Path f = disk.mountPoint().resolve("file");
            byte[] before = new byte[64 * LazyDisk.PAGE];
            Arrays.fill(before, (byte) 'a');
            Files.write(f, before);
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            byte[] after = new byte[before.length];
            Arrays.fill(after, (byte) 'b');
            Files.write(f, after, StandardOpenOption.WRITE);
            Random random = TestSeed.random("LazyDiskIT.torn");
            disk.crashTorn(random.nextLong());
            byte[] survived = Files.readAllBytes(disk.backing().resolve("file"));
            assertThat(survived).hasSize(before.length);
            int newPages = 0;
            int oldPages = 0;
            for (int p = 0; p < 64; p++) {
                byte[] page = Arrays.copyOfRange(survived, p * LazyDisk.PAGE, (p + 1) * LazyDisk.PAGE);
                if (page[0] == 'b') {
                    newPages++;
                } else {
                    oldPages++;
                }
                for (byte b : page) {
                    assertThat(b)
                            .as("every byte is old or new, never anything else")
                            .isIn((byte) 'a', (byte) 'b');
                }
            }
            System.out.printf("torn crash: %d pages new, %d old%n", newPages, oldPages);
            assertThat(newPages).as("some unsynced pages reached the disk").isPositive();
            assertThat(oldPages).as("some unsynced pages were lost").isPositive();
            disk.remount();
            assertThat(Files.readAllBytes(disk.mountPoint().resolve("file"))).isEqualTo(survived);
        } finally {
            disk.close();
        }
    }
}
