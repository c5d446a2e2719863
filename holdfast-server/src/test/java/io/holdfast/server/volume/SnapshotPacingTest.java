package io.holdfast.server.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SnapshotPacingTest {
    private static final long GIB = 1L << 30;
    private static final long THRESHOLD = 20_000;

    @Test
    void aSmallBrickOrNoSnapshotYetIsSnapshottedEveryThreshold() {
        SnapshotPacing p = new SnapshotPacing(THRESHOLD);
        assertFalse(p.defer(THRESHOLD), "no snapshot known yet");
        p.written(SnapshotPacing.LARGE_BRICK_BYTES - 1);
        assertFalse(p.defer(THRESHOLD), "below the large-brick size");
    }

    @Test
    void aLargeBrickWaitsForHalfItsSizeOfLog() {
        SnapshotPacing p = new SnapshotPacing(THRESHOLD);
        p.written(GIB);
        for (int i = 0; i < 20_000; i++) {
            p.applied(4_200); // a 4 KiB block write
        }
        assertTrue(p.defer(THRESHOLD), "84 MB of log against a 1 GiB brick");
        assertTrue(p.firstWait());
        assertFalse(p.firstWait(), "logged once per snapshot");
        p.applied(GIB / 2 - p.logBytes());
        assertFalse(p.defer(THRESHOLD + 1), "half the brick's size of log");
        p.frozen();
        assertEquals(0, p.logBytes());
        assertTrue(p.defer(THRESHOLD), "counted again from the freeze");
        assertTrue(p.firstWait(), "the next wait is logged again");
    }

    @Test
    void theWaitIsBoundedByEntriesAndByLogBytes() {
        SnapshotPacing p = new SnapshotPacing(THRESHOLD);
        p.written(100 * GIB);
        p.applied(GIB);
        assertTrue(p.defer(THRESHOLD));
        assertFalse(p.defer(SnapshotPacing.MAX_THRESHOLDS * THRESHOLD), "at most ten thresholds of entries");
        assertEquals(SnapshotPacing.MAX_LOG_BYTES, SnapshotPacing.due(100 * GIB));
        p.applied(SnapshotPacing.MAX_LOG_BYTES - GIB);
        assertFalse(p.defer(THRESHOLD), "at most 2 GiB of log");
    }

    @Test
    void anExplicitRequestNeverWaitsAndIsConsumedByTheFreeze() {
        SnapshotPacing p = new SnapshotPacing(THRESHOLD);
        p.written(GIB);
        p.request();
        assertFalse(p.defer(1));
        p.frozen();
        assertTrue(p.defer(THRESHOLD), "the next automatic one is paced again");
    }

    @Test
    void aThresholdBelowOneIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new SnapshotPacing(0));
    }
}
