package io.holdfast.common;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class FieldEscapeTest {
    @Test
    void theFourSeparatorsAreEscapedAndComeBack() {
        String field = "a%b\tc\nd\re 100%25";
        String escaped = FieldEscape.escape(field);
        assertThat(escaped).isEqualTo("a%25b%09c%0Ad%0De 100%2525").doesNotContain("\t", "\n", "\r");
        assertThat(FieldEscape.unescape(escaped)).isEqualTo(field);
        assertThat(FieldEscape.unescape("plain name")).isEqualTo("plain name");
    }

    @Test
    void aBadEscapeIsRefused() {
        assertThatThrownBy(() -> FieldEscape.unescape("x%41")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FieldEscape.unescape("x%2")).isInstanceOf(IllegalArgumentException.class);
    }
}
