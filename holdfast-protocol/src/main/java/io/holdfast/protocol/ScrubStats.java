package io.holdfast.protocol;

import io.holdfast.common.WireCode;
import io.holdfast.common.WireCodes;
import java.util.Objects;

/**
 * What the scrubber of one volume member has done: its state, the current pass's progress,
 * and counters since the node started (they restart at zero with the node, as Prometheus
 * counters do). Sent by a member in {@link Response.ScrubStatus}; a node's own API returns it
 * too.
 *
 * @param state what the scrubber is doing now
 * @param quarantine empty while the member serves reads; otherwise why the scrubber took it
 *     out of service (at most {@link Limits#MAX_SCRUB_TEXT_BYTES} UTF-8 bytes on the wire)
 * @param passes passes completed since the node started
 * @param passBytesDone content bytes verified so far in the current pass (or the last one, when
 *     idle)
 * @param passBytesTotal content bytes the current (or last) pass set out to verify, as
 *     estimated when it started; 0 if no pass has started
 * @param bytesVerified content bytes read and checked against their CRC32C since start
 * @param blocksVerified 64 KiB blocks and inline contents checked since start
 * @param badBlocks blocks found failing their CRC32C since start
 * @param repairedBlocks bad blocks rewritten with a healthy member's bytes since start
 * @param unrepairableBlocks bad blocks for which no member offered bytes matching this member's
 *     stored CRC32C, since start
 * @param divergentDirectories directories (and the volume-wide counters) in which this member's
 *     state differed from the majority at the last comparison; 0 if it agreed
 * @param lastMark log index of the last scrub mark at which this member compared digests; 0 if
 *     none
 * @param lastPassStartMillis when the last pass started, milliseconds since the epoch; 0 if never
 * @param lastPassEndMillis when the last pass ended, milliseconds since the epoch; 0 if never
 * @param nextPassMillis when the next automatic pass is due, milliseconds since the epoch; 0 if
 *     none is scheduled
 * @param rateBytesPerSecond the pace the scrubber reads at, bytes per second
 * @param lastProblem the last thing the scrubber found wrong (here or on another member), or
 *     empty (at most {@link Limits#MAX_SCRUB_TEXT_BYTES} UTF-8 bytes on the wire)
 */
public record ScrubStats(
        State state,
        String quarantine,
        long passes,
        long passBytesDone,
        long passBytesTotal,
        long bytesVerified,
        long blocksVerified,
        long badBlocks,
        long repairedBlocks,
        long unrepairableBlocks,
        long divergentDirectories,
        long lastMark,
        long lastPassStartMillis,
        long lastPassEndMillis,
        long nextPassMillis,
        long rateBytesPerSecond,
        String lastProblem) {

    /** What a scrubber is doing. Wire codes are stable: never renumber. */
    public enum State implements WireCode {
        /** No pass is running; the next one starts on schedule or on request. */
        IDLE(0),
        /** A pass is running. */
        RUNNING(1),
        /** Paused by the operator: no scrub I/O until started again. */
        PAUSED(2);

        private static final WireCodes<State> CODES = WireCodes.of(State.class, "scrub state");

        private final int code;

        State(int code) {
            this.code = code;
        }

        /** The wire code. */
        @Override
        public int code() {
            return code;
        }

        /**
         * The state with a wire code.
         *
         * @throws IllegalArgumentException for an unknown code
         */
        public static State fromCode(int code) {
            return CODES.fromCode(code);
        }
    }

    /**
     * Checks the fields.
     *
     * @throws NullPointerException if the state or a text is null
     */
    public ScrubStats {
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(quarantine, "quarantine");
        Objects.requireNonNull(lastProblem, "lastProblem");
    }

    /** Whether the scrubber took this member out of service. */
    public boolean quarantined() {
        return !quarantine.isEmpty();
    }

    /**
     * How far the current (or last) pass got, from 0 to 1: 1 when no pass has started yet or the
     * estimate was exceeded (files grew during the pass).
     */
    public double progress() {
        if (passBytesTotal <= 0) {
            return state == State.RUNNING ? 0 : 1;
        }
        return Math.min(1.0, Math.max(0.0, (double) passBytesDone / passBytesTotal));
    }
}
