package io.holdfast.server.scrub;

import java.util.concurrent.atomic.AtomicLong;

/**
 * What one member's scrubber has found so far: the counters and the last problem it reports in
 * {@link io.holdfast.protocol.ScrubStats}. Counters restart at zero with the node.
 *
 * <p>Thread-safe: the scrubber's thread writes, Ratis's query threads read.
 */
final class Findings {
    final AtomicLong passes = new AtomicLong();
    final AtomicLong bytesVerified = new AtomicLong();
    final AtomicLong blocksVerified = new AtomicLong();
    final AtomicLong badBlocks = new AtomicLong();
    final AtomicLong repairedBlocks = new AtomicLong();
    final AtomicLong unrepairableBlocks = new AtomicLong();
    private volatile String lastProblem = "";
    private volatile long divergentDirectories;
    private volatile long lastMark;

    /** Records {@code what} as the last thing worth reporting. */
    void problem(String what) {
        lastProblem = what;
    }

    String lastProblem() {
        return lastProblem;
    }

    void divergentDirectories(long count) {
        divergentDirectories = count;
    }

    long divergentDirectories() {
        return divergentDirectories;
    }

    void lastMark(long mark) {
        lastMark = mark;
    }

    long lastMark() {
        return lastMark;
    }
}
