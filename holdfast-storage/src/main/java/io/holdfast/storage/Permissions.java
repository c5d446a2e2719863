package io.holdfast.storage;

import static io.holdfast.storage.Lookup.mustNode;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import java.io.IOException;

/**
 * POSIX permission checks of a caller against an inode's mode and ownership, as Linux makes
 * them (root may do anything the checks here cover), and the set-id bits a change clears.
 */
final class Permissions {
    private Permissions() {}

    /** Whether {@code c} has all of {@code want} (r=4, w=2, x=1) on {@code n}; root always does. */
    static boolean may(Caller c, Node n, int want) {
        if (c.uid() == 0) {
            return true;
        }
        int bits;
        if (c.uid() == n.uid) {
            bits = (n.mode >> 6) & 7;
        } else if (c.inGroup(n.gid)) {
            bits = (n.mode >> 3) & 7;
        } else {
            bits = n.mode & 7;
        }
        return (bits & want) == want;
    }

    static void requireWrite(Caller c, Node parent, String path) throws Fail {
        if (!may(c, parent, 3)) {
            throw new Fail(Errno.EACCES, "no write permission on the parent of " + path);
        }
    }

    static void requireSticky(Caller c, Node parent, Node victim, String path) throws Fail {
        if ((parent.mode & 01000) != 0 && c.uid() != 0 && c.uid() != victim.uid && c.uid() != parent.uid) {
            throw new Fail(Errno.EPERM, "sticky directory: not the owner of " + path);
        }
    }

    /** The node of inode {@code id}, which {@code c} must be allowed to write (EACCES). */
    static Node writableNode(Kv kv, Caller c, long id, String path) throws Fail, IOException {
        Node n = mustNode(kv, id);
        if (!may(c, n, 2)) {
            throw new Fail(Errno.EACCES, "no write permission on " + path);
        }
        return n;
    }

    /**
     * After a write or truncate by anyone but root: clears set-user-ID, and set-group-ID when the
     * group may execute (without group execute it marks mandatory locking and stays), as Linux does
     * (POSIX write(2)).
     */
    static void clearSetId(Caller c, Node n) {
        if (c.uid() != 0) {
            killSetId(n);
        }
    }

    /** Clears set-user-ID, and set-group-ID if group-executable (Linux's should_remove_suid). */
    static void killSetId(Node n) {
        n.mode &= ~04000;
        if ((n.mode & 010) != 0) {
            n.mode &= ~02000;
        }
    }
}
