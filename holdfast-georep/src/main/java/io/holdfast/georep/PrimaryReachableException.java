package io.holdfast.georep;

import java.io.IOException;

/**
 * {@link Failover#promote} refused: the old primary still answers, so promoting the copy would make
 * two writable primaries (split brain). Nothing was changed. Promote with {@code force} once the
 * old primary is known to be fenced (stopped, or cut off from its clients).
 */
public final class PrimaryReachableException extends IOException {
    PrimaryReachableException(String message) {
        super(message);
    }
}
