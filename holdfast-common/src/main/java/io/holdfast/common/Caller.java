package io.holdfast.common;

import java.util.Arrays;

/**
 * The credentials a mutation runs with, used for POSIX permission checks at apply time.
 *
 * @param uid effective user id; 0 is the superuser
 * @param gid effective group id
 * @param groups supplementary group ids (the protocol carries at most {@code Limits.MAX_GROUPS})
 */
public record Caller(int uid, int gid, int[] groups) {
    /** The superuser, used by operators' tools and tests. */
    public static final Caller ROOT = new Caller(0, 0, new int[0]);

    public Caller {
        groups = groups.clone();
    }

    /** Whether the caller is a member of {@code group}, by primary or supplementary id. */
    public boolean inGroup(int group) {
        if (gid == group) {
            return true;
        }
        for (int g : groups) {
            if (g == group) {
                return true;
            }
        }
        return false;
    }

    @Override
    public int[] groups() {
        return groups.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Caller c && c.uid == uid && c.gid == gid && Arrays.equals(c.groups, groups);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * uid + gid) + Arrays.hashCode(groups);
    }

    @Override
    public String toString() {
        return "Caller[uid=" + uid + ", gid=" + gid + ", groups=" + Arrays.toString(groups) + "]";
    }
}
