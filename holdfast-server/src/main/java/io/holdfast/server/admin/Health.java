package io.holdfast.server.admin;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The health of one Raft group, as the status page and {@code holdfast cluster status} judge
 * it from the same rules ({@link #assess}).
 *
 * <ul>
 *   <li>{@link #HEALTHY}: a leader is known, every member is up, and no member's known lag is
 *       above {@value #SMALL_LAG_ENTRIES} entries or {@value #SMALL_LAG_SECONDS} s;
 *   <li>{@link #DEGRADED}: a leader is known and a majority is up, but a member is down or
 *       lags more than that (it is catching up); writes still commit;
 *   <li>{@link #UNAVAILABLE}: fewer than a majority of the members are up, or no leader is
 *       known (e.g. during an election): writes cannot commit now.
 * </ul>
 */
public enum Health {
    HEALTHY,
    DEGRADED,
    UNAVAILABLE;

    /** Most entries a member may lag behind the leader's commit index and still count as healthy. */
    public static final long SMALL_LAG_ENTRIES = 1000;
    /** Most seconds a member may lag and still count as healthy. */
    public static final double SMALL_LAG_SECONDS = 5.0;

    /**
     * A judgement and why.
     *
     * @param health the verdict
     * @param reason a short phrase for people, e.g. {@code "1 of 3 members down: 127.0.0.1:7003"};
     *     empty when healthy
     */
    public record Assessment(Health health, String reason) {}

    /**
     * Judges a group.
     *
     * @param members every member of the group, with what is known of it; unknown lag (null)
     *     counts as small
     * @param leader the leader's address, or null if none is known
     */
    public static Assessment assess(List<StatusReport.Member> members, String leader) {
        if (members.isEmpty()) {
            return new Assessment(UNAVAILABLE, "no members");
        }
        List<String> down = new ArrayList<>();
        List<String> lagging = new ArrayList<>();
        for (StatusReport.Member m : members) {
            if (!m.up()) {
                down.add(m.address());
            } else if ((m.lagEntries() != null && m.lagEntries() > SMALL_LAG_ENTRIES)
                    || (m.lagSeconds() != null && m.lagSeconds() > SMALL_LAG_SECONDS)) {
                lagging.add(m.address());
            }
        }
        int size = members.size();
        int up = size - down.size();
        int majority = size / 2 + 1;
        if (up < majority) {
            return new Assessment(
                    UNAVAILABLE, up + " of " + size + " members up, fewer than a majority (" + majority + ")");
        }
        if (leader == null || leader.isEmpty()) {
            return new Assessment(UNAVAILABLE, "no leader known (election in progress?)");
        }
        if (!down.isEmpty()) {
            return new Assessment(DEGRADED, down.size() + " of " + size + " members down: " + String.join(", ", down));
        }
        if (!lagging.isEmpty()) {
            return new Assessment(DEGRADED, "catching up: " + String.join(", ", lagging));
        }
        return new Assessment(HEALTHY, "");
    }

    /**
     * The lower-case word shown to people and written to JSON: {@code healthy}, {@code degraded},
     * {@code unavailable}.
     */
    @JsonValue
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The worse of two. */
    public Health worst(Health other) {
        return compareTo(other) >= 0 ? this : other;
    }
}
