package io.holdfast.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Read views: each reads the state of its index, the registry keeps its bound, and closing and releasing are exact. */
class ReadViewsTest {
    private static final byte[] KEY = Keys.meta("test");

    @TempDir
    Path tmp;

    private BrickState state;
    private ReadViews views;

    @BeforeEach
    void open() throws Exception {
        state = new BrickState(tmp.resolve("brick"));
        Files.createDirectories(state.dataDir);
        views = new ReadViews(state, "test view", 2);
        state.releaseViewsOnClose(views::releaseAll);
        state.openDb();
    }

    @AfterEach
    void close() {
        state.closeDb();
    }

    /** Writes the value "v{index}" as if entry {@code index} had been applied, and pins a view there. */
    private void applyAndPin(long index) throws Exception {
        state.db.put(KEY, ("v" + index).getBytes(StandardCharsets.US_ASCII));
        views.pin(index);
    }

    private static String value(ReadView v) throws Exception {
        return v.read((db, ro) -> new String(db.get(ro, KEY), StandardCharsets.US_ASCII));
    }

    @Test
    void aViewReadsTheStateOfItsIndexWhateverFollows() throws Exception {
        applyAndPin(1);
        state.db.put(KEY, "later".getBytes(StandardCharsets.US_ASCII));
        try (ReadView v = views.open(1)) {
            assertThat(v.index()).isEqualTo(1);
            assertThat(value(v)).isEqualTo("v1");
            assertThat(value(v)).as("read again").isEqualTo("v1");
        }
        assertThat(views.indexes()).as("closing releases it").isEmpty();
    }

    @Test
    void theOldestViewsNotBeingReadAreReleasedBeyondTheBound() throws Exception {
        applyAndPin(1);
        applyAndPin(2);
        try (ReadView reading = views.open(1)) {
            applyAndPin(3);
            assertThat(views.indexes()).as("2 released, 1 is being read").containsExactly(1L, 3L);
            applyAndPin(4);
            assertThat(views.indexes()).containsExactly(1L, 4L);
            assertThat(value(reading)).isEqualTo("v1");
        }
        assertThat(views.indexes()).containsExactly(4L);
        applyAndPin(5);
        applyAndPin(6);
        assertThat(views.indexes()).containsExactly(5L, 6L);
    }

    @Test
    void aViewIsOpenedByOneReaderAndOnlyIfHeld() throws Exception {
        applyAndPin(1);
        try (ReadView v = views.open(1)) {
            assertThatThrownBy(() -> views.open(1))
                    .isInstanceOf(HoldfastException.class)
                    .hasMessageContaining("no state held for test view 1");
            assertThat(value(v)).isEqualTo("v1");
        }
        assertThatThrownBy(() -> views.open(1))
                .isInstanceOf(HoldfastException.class)
                .satisfies(e -> assertThat(((HoldfastException) e).errno()).isEqualTo(Errno.ENOENT));
        assertThatThrownBy(() -> views.open(7)).isInstanceOf(HoldfastException.class);
    }

    @Test
    void aReleasedViewCannotBeReadAndItsCloseLeavesALaterViewAtTheSameIndex() throws Exception {
        applyAndPin(1);
        ReadView old = views.open(1);
        views.release(1);
        assertThatThrownBy(() -> value(old))
                .isInstanceOf(HoldfastException.class)
                .hasMessageContaining("state of test view 1 was released");
        applyAndPin(1); // e.g. the entry applied again after a rebuild
        old.close();
        assertThat(views.indexes()).containsExactly(1L);
        try (ReadView again = views.open(1)) {
            assertThat(value(again)).isEqualTo("v1");
        }
    }

    @Test
    void closingTheDatabaseReleasesEveryView() throws Exception {
        applyAndPin(1);
        applyAndPin(2);
        ReadView open = views.open(2);
        state.closeDb();
        assertThat(views.indexes()).isEmpty();
        assertThatThrownBy(() -> value(open))
                .isInstanceOf(HoldfastException.class)
                .hasMessageContaining("was released");
        open.close();
    }
}
