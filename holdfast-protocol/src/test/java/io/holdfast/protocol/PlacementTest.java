package io.holdfast.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Today's placement: each volume is served whole by the one group its map entry names. */
class PlacementTest {
    private static final UUID MAIL = UUID.fromString("41b58cf9-0000-0000-0000-000000000001");
    private static final UUID LOGS = UUID.fromString("41b58cf9-0000-0000-0000-000000000002");

    @Test
    void everyVolumeHasExactlyItsOwnGroup() {
        ClusterMap.Volume mail = new ClusterMap.Volume("mail", MAIL, List.of("a:1", "b:1", "c:1"), 0);
        ClusterMap.Volume logs = new ClusterMap.Volume("logs", LOGS, List.of("a:1"), 0);
        ClusterMap map =
                new ClusterMap(7, UUID.randomUUID(), List.of("a:1", "b:1", "c:1"), Map.of("mail", mail, "logs", logs));

        assertThat(Placement.groupsOf(mail)).containsExactly(MAIL);
        assertThat(Placement.onlyGroup(logs)).isEqualTo(LOGS);
        assertThat(Placement.volumesByGroup(map)).containsOnly(Map.entry(MAIL, mail), Map.entry(LOGS, logs));
    }
}
