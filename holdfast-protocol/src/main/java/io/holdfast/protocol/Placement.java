package io.holdfast.protocol;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Which replica group serves which part of a volume: the one place that decides it. Nothing
 * else reads {@link ClusterMap.Volume#groupId()}.
 *
 * <p>Today a volume is served whole by exactly one replica group, the one its map entry names,
 * so every answer here is that group. A later change spreads a volume over several groups;
 * then this class decides which group serves which part, callers that work on every group of
 * a volume ({@link #groupsOf}) keep working, and callers that still talk to a volume through a
 * single group ({@link #onlyGroup}) fail loudly instead of silently using the wrong one.
 * Stateless.
 */
public final class Placement {
    private Placement() {}

    /** Every replica group that serves a part of {@code volume}, each once (today exactly one). */
    public static List<UUID> groupsOf(ClusterMap.Volume volume) {
        return List.of(volume.groupId());
    }

    /**
     * The replica group that serves all of {@code volume}, for callers that reach a volume
     * through one group (the client's volume service, replica replacement, tools that name "the"
     * group of a volume).
     *
     * @throws IllegalStateException if the volume is spread over several groups
     */
    public static UUID onlyGroup(ClusterMap.Volume volume) {
        List<UUID> groups = groupsOf(volume);
        if (groups.size() != 1) {
            throw new IllegalStateException(
                    "volume " + volume.name() + " is served by " + groups.size() + " replica groups, not one");
        }
        return groups.getFirst();
    }

    /** The volume each replica group of {@code map} serves a part of, by group id. */
    public static Map<UUID, ClusterMap.Volume> volumesByGroup(ClusterMap map) {
        Map<UUID, ClusterMap.Volume> byGroup = new HashMap<>();
        for (ClusterMap.Volume v : map.volumes().values()) {
            for (UUID g : groupsOf(v)) {
                byGroup.put(g, v);
            }
        }
        return Map.copyOf(byGroup);
    }
}
