package io.holdfast.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class HoldfastClientRoutesTest {
    @Test
    void routesAreAMapOrAListOfPairs() {
        assertThat(HoldfastClient.routes(null)).isEmpty();
        assertThat(HoldfastClient.routes("10.0.0.1:7001=127.0.0.1:17001, 10.0.0.2:7001=127.0.0.1:17002"))
                .containsExactlyInAnyOrderEntriesOf(
                        Map.of("10.0.0.1:7001", "127.0.0.1:17001", "10.0.0.2:7001", "127.0.0.1:17002"));
        assertThat(HoldfastClient.routes(Map.of("a.example:7001", "b.example:9000")))
                .containsExactly(Map.entry("a.example:7001", "b.example:9000"));
    }

    @Test
    void aMalformedRouteIsRefused() {
        assertThatThrownBy(() -> HoldfastClient.routes("10.0.0.1:7001"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("holdfast.routes must be ADDRESS=DIAL");
        assertThatThrownBy(() -> HoldfastClient.routes("10.0.0.1:7001=nowhere"))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
