package io.holdfast.georep;

import java.io.IOException;

/**
 * The target's state file cannot be used: it is corrupt (bad header, field or checksum), written
 * by a newer format, or recorded by another session. The replicator does not touch such a target;
 * the operator repairs or removes the state file (removing it makes the next run a full
 * synchronisation).
 */
public final class GeoStateException extends IOException {
    GeoStateException(String message) {
        super(message);
    }
}
