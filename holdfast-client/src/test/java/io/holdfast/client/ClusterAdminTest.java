package io.holdfast.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.protocol.ClusterMap;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Where {@link ClusterAdmin#removeNode} moves a replica, and how catch-up progress is reported, without a cluster. */
class ClusterAdminTest {
    private static final List<String> NODES = List.of("a:1", "b:1", "c:1", "d:1", "e:1");

    private static ClusterMap.Volume volume(String name, String... replicas) {
        return new ClusterMap.Volume(name, UUID.nameUUIDFromBytes(name.getBytes()), List.of(replicas), 0);
    }

    private static ClusterMap map(ClusterMap.Volume... volumes) {
        Map<String, ClusterMap.Volume> byName = new LinkedHashMap<>();
        for (ClusterMap.Volume v : volumes) {
            byName.put(v.name(), v);
        }
        return new ClusterMap(1, new UUID(0, 1), NODES, byName);
    }

    @Test
    void aReplicaMovesToTheLeastLoadedNodeOutsideItsGroup() {
        ClusterMap.Volume mail = volume("mail", "a:1", "b:1", "c:1");
        ClusterMap m = map(mail, volume("logs", "a:1", "d:1", "c:1"), volume("tmp", "d:1", "b:1", "c:1"));
        // d serves two replicas, e none; a, b and c serve mail already
        assertThat(ClusterAdmin.leastLoaded(m, mail, "c:1")).contains("e:1");
    }

    @Test
    void amongEquallyLoadedNodesTheFirstInNodeOrderIsChosen() {
        ClusterMap.Volume mail = volume("mail", "a:1", "b:1", "c:1");
        assertThat(ClusterAdmin.leastLoaded(map(mail), mail, "c:1")).contains("d:1");
    }

    @Test
    void theLeavingNodeAndAJoiningNodeAreNeverChosen() {
        ClusterMap.Volume joining = new ClusterMap.Volume(
                "mail", UUID.randomUUID(), List.of("a:1", "b:1", "c:1"), 0, List.of(), 2, List.of(1L, 1L, 1L), "d:1");
        ClusterMap.Volume other = volume("logs", "e:1");
        assertThat(ClusterAdmin.leastLoaded(map(joining), joining, "e:1")).isEmpty();
        assertThat(ClusterAdmin.leastLoaded(map(joining, other), joining, "a:1"))
                .contains("e:1");
    }

    @Test
    void noNodeIsLeftWhenEveryOtherNodeServesTheVolume() {
        ClusterMap.Volume wide = volume("wide", "a:1", "b:1", "c:1", "d:1", "e:1");
        assertThat(ClusterAdmin.leastLoaded(map(wide), wide, "a:1")).isEmpty();
    }

    @Test
    void catchUpFractionIsTheAppliedShareOfTheTargetWithinZeroAndOne() {
        Duration t = Duration.ofSeconds(1);
        assertThat(new ClusterAdmin.CatchUp("v", "d:1", 50, 200, t).fraction()).isEqualTo(0.25);
        assertThat(new ClusterAdmin.CatchUp("v", "d:1", -1, 200, t).fraction()).isZero();
        assertThat(new ClusterAdmin.CatchUp("v", "d:1", 10, -1, t).fraction()).isZero();
        assertThat(new ClusterAdmin.CatchUp("v", "d:1", 300, 200, t).fraction()).isEqualTo(1.0);
    }
}
