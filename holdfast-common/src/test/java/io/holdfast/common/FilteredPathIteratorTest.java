package io.holdfast.common;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

class FilteredPathIteratorTest {
    /** Gives the paths of {@code names} in order, then null; counts how many it gave. */
    private static final class Source implements Supplier<Path> {
        private final Iterator<String> names;
        int given;

        Source(String... names) {
            this.names = List.of(names).iterator();
        }

        @Override
        public Path get() {
            if (!names.hasNext()) {
                return null;
            }
            given++;
            return Path.of(names.next());
        }
    }

    private static List<String> drain(Iterator<Path> it) {
        List<String> out = new ArrayList<>();
        while (it.hasNext()) {
            out.add(it.next().toString());
        }
        return out;
    }

    @Test
    void withoutFilterGivesEverythingThenEnds() {
        FilteredPathIterator it = new FilteredPathIterator(new Source("a", "b", "c"), null);
        assertThat(drain(it)).containsExactly("a", "b", "c");
        assertThat(it.hasNext()).as("still at the end when asked again").isFalse();
        assertThatThrownBy(it::next).isInstanceOf(NoSuchElementException.class);
    }

    @Test
    void skipsWhatTheFilterRejectsAndReadsOnlyOneAhead() {
        Source source = new Source("a", "skip1", "b", "skip2", "skip3");
        FilteredPathIterator it =
                new FilteredPathIterator(source, p -> !p.toString().startsWith("skip"));
        assertThat(it.hasNext()).isTrue();
        assertThat(it.hasNext()).as("hasNext twice reads nothing more").isTrue();
        assertThat(source.given).isEqualTo(1);
        assertThat(it.next()).isEqualTo(Path.of("a"));
        assertThat(it.next()).as("next without hasNext").isEqualTo(Path.of("b"));
        assertThat(source.given).isEqualTo(3);
        assertThat(it.hasNext()).isFalse();
        assertThat(source.given).isEqualTo(5);
    }

    @Test
    void anEmptySourceHasNothing() {
        FilteredPathIterator it = new FilteredPathIterator(new Source(), p -> true);
        assertThat(it.hasNext()).isFalse();
        assertThatThrownBy(it::next).isInstanceOf(NoSuchElementException.class);
    }

    @Test
    void aFilterFailureIsADirectoryIteratorException() {
        IOException cause = new IOException("cannot stat b");
        FilteredPathIterator it = new FilteredPathIterator(new Source("a", "b", "c"), p -> {
            if (p.toString().equals("b")) {
                throw cause;
            }
            return true;
        });
        assertThat(it.next()).isEqualTo(Path.of("a"));
        assertThatThrownBy(it::hasNext)
                .isInstanceOf(DirectoryIteratorException.class)
                .cause()
                .isSameAs(cause);
        assertThat(it.next()).as("the failed path is passed over").isEqualTo(Path.of("c"));
    }

    @Test
    void aSourceFailurePassesThrough() {
        DirectoryIteratorException failure = new DirectoryIteratorException(new IOException("page lost"));
        FilteredPathIterator it = new FilteredPathIterator(
                () -> {
                    throw failure;
                },
                null);
        assertThatThrownBy(it::hasNext).isSameAs(failure);
    }

    @Test
    void aNullSourceIsRefused() {
        assertThatThrownBy(() -> new FilteredPathIterator(null, null)).isInstanceOf(NullPointerException.class);
    }
}
