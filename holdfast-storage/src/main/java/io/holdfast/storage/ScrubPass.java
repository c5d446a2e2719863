package io.holdfast.storage;

import io.holdfast.common.Pacer;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Objects;

/**
 * One scrub pass over a brick's content: every 64 KiB block of every data file and every
 * inline content is read and checked against its stored CRC32C, at the pace of a
 * {@link Pacer}; a bad block is rewritten with a copy offered by a healthy member, which the
 * brick accepts only if it matches the stored CRC32C ({@link BlockRepair#repairBlock}).
 *
 * <p>The pass is a cursor: each {@link #step()} checks one block (and repairs it if bad), so
 * the caller can stop, pause, or interleave other work between steps. Files are taken in inode
 * order from {@link BlockRepair#contentAfter}; files created after the cursor passed their inode are
 * left for the next pass, and files that change meanwhile are checked as they are when reached.
 *
 * <p>A bad block is tried up to {@link #REPAIR_ROUNDS} times, {@link #RETRY_PAUSE_NANOS} apart:
 * the members offering copies may be at another applied index, and their bytes then fail the
 * judge until they catch up. Then the outcome is one of {@link Outcome}.
 *
 * <p>Not thread-safe: one thread drives a pass. Reading the progress
 * ({@link #bytesDone()}, {@link #bytesTotal()}) from another thread is safe.
 */
public final class ScrubPass {
    /** Rounds of asking for copies before a bad block is given up on, in one pass. */
    public static final int REPAIR_ROUNDS = 3;
    /** Pause between two rounds of repair of the same block: 1 s. */
    public static final long RETRY_PAUSE_NANOS = 1_000_000_000L;

    /**
     * Copies of one block offered by other members.
     *
     * @param copies the bytes of every member whose own copy passed its CRC32C; may be empty
     * @param unreachable the members that could not be asked (down, or failed); empty if every
     *     other member answered
     */
    public record Offers(List<byte[]> copies, List<String> unreachable) {
        public Offers {
            copies = List.copyOf(copies);
            unreachable = List.copyOf(unreachable);
        }
    }

    /** Where good copies come from: the other members of the volume. */
    @FunctionalInterface
    public interface RepairSource {
        /**
         * Asks the other members for their copy of one block.
         *
         * @param block a block number, or {@link Brick#INLINE}
         * @throws InterruptedException if interrupted while asking
         */
        Offers offers(long inode, long block) throws InterruptedException;
    }

    /** What became of a bad block. */
    public enum Outcome {
        /** Rewritten with a member's copy that matched the stored CRC32C. */
        REPAIRED,
        /** Replaced by the volume's own writes (or removed) while being repaired; nothing to do. */
        OVERWRITTEN,
        /** Every other member answered, and none offered bytes matching the stored CRC32C. */
        UNREPAIRABLE,
        /** Not every member could be asked and none of those asked had a matching copy: try again later. */
        DEFERRED
    }

    /** Hears what a pass finds. Called on the pass's thread. */
    public interface Listener {
        /** A block was checked ({@code bytes} read), good or not. */
        default void checked(long inode, long block, int bytes) {}

        /**
         * A bad block was found and handled.
         *
         * @param problem what was wrong with it
         * @param outcome what became of it
         * @param detail for {@link Outcome#UNREPAIRABLE} and {@link Outcome#DEFERRED}, why
         */
        default void bad(long inode, long block, String problem, Outcome outcome, String detail) {}
    }

    private final BlockRepair blocks;
    private final Pacer pacer;
    private final RepairSource source;
    private final Listener listener;
    private final Pacer.Sleeper sleeper;
    private final ArrayDeque<BlockRepair.Content> files = new ArrayDeque<>();
    private long after;
    private boolean listed;
    private BlockRepair.Content current;
    private long nextIndex;
    private boolean done;
    private volatile long bytesDone;
    private volatile long bytesTotal;

    /**
     * A pass from the first file.
     *
     * @param sleeper how to wait between repair rounds ({@link Pacer.Sleeper#SYSTEM} outside tests)
     */
    public ScrubPass(Brick brick, Pacer pacer, RepairSource source, Listener listener, Pacer.Sleeper sleeper) {
        this.blocks = Objects.requireNonNull(brick, "brick").blocks();
        this.pacer = Objects.requireNonNull(pacer, "pacer");
        this.source = Objects.requireNonNull(source, "source");
        this.listener = Objects.requireNonNull(listener, "listener");
        this.sleeper = Objects.requireNonNull(sleeper, "sleeper");
    }

    /**
     * Sums the sizes of the files with content now, as the pass's total for
     * {@link #bytesTotal()}. Reads metadata only (not paced). Optional.
     *
     * @return the total, in bytes
     * @throws IOException if the brick fails
     */
    public long estimate() throws IOException {
        long total = 0;
        long from = 0;
        BlockRepair.ContentPage page;
        do {
            page = blocks.contentAfter(from);
            for (BlockRepair.Content c : page.files()) {
                total += c.size();
            }
            from = page.next();
        } while (!page.done());
        bytesTotal = total;
        return total;
    }

    /**
     * Checks the next block, repairing it if it is bad.
     *
     * @return false if the pass is complete (nothing was checked)
     * @throws IOException if the brick fails
     * @throws InterruptedException if interrupted while pacing or asking for copies
     */
    public boolean step() throws IOException, InterruptedException {
        while (current == null || nextIndex >= current.blocks()) {
            current = nextFile();
            nextIndex = 0;
            if (current == null) {
                done = true;
                return false;
            }
        }
        long index = nextIndex++;
        long block = current.inline() ? Brick.INLINE : index;
        BlockRepair.BlockCheck check = blocks.verifyBlock(current.inode(), block);
        pacer.acquire(check.bytes());
        bytesDone += current.length(index);
        listener.checked(current.inode(), block, check.bytes());
        if (check.status() == BlockRepair.BlockCheck.Status.BAD) {
            repair(current.inode(), block, check.problem());
        } else if (check.status() == BlockRepair.BlockCheck.Status.GONE) {
            nextIndex = current.blocks(); // the file changed shape: the rest is for the next pass
        }
        return true;
    }

    /**
     * Runs the pass to its end ({@link #step()} until it returns false).
     *
     * @throws IOException if the brick fails
     * @throws InterruptedException if interrupted
     */
    public void runToEnd() throws IOException, InterruptedException {
        while (step()) {
            // each step checks one block
        }
    }

    private BlockRepair.Content nextFile() throws IOException {
        while (files.isEmpty() && !listed) {
            BlockRepair.ContentPage page = blocks.contentAfter(after);
            files.addAll(page.files());
            after = page.next();
            listed = page.done();
        }
        return files.poll();
    }

    private void repair(long inode, long block, String problem) throws IOException, InterruptedException {
        Offers last = null;
        for (int round = 0; round < REPAIR_ROUNDS; round++) {
            if (round > 0) {
                sleeper.sleepNanos(RETRY_PAUSE_NANOS);
            }
            last = source.offers(inode, block);
            for (byte[] copy : last.copies()) {
                BlockRepair.RepairOutcome o = block == Brick.INLINE
                        ? blocks.repairInline(inode, copy)
                        : blocks.repairBlock(inode, block, copy);
                switch (o) {
                    case REPAIRED -> {
                        listener.bad(inode, block, problem, Outcome.REPAIRED, "");
                        return;
                    }
                    case ALREADY_GOOD, GONE -> {
                        listener.bad(inode, block, problem, Outcome.OVERWRITTEN, "");
                        return;
                    }
                    case MISMATCH -> {} // from another applied index, or wrong: try the next copy
                }
            }
            BlockRepair.BlockCheck now = blocks.verifyBlock(inode, block);
            if (now.status() != BlockRepair.BlockCheck.Status.BAD) {
                listener.bad(inode, block, problem, Outcome.OVERWRITTEN, "");
                return;
            }
        }
        String copies = last.copies().isEmpty()
                ? "no other member has a good copy"
                : last.copies().size() + " copies offered, none matching this member's stored CRC32C";
        if (last.unreachable().isEmpty()) {
            listener.bad(inode, block, problem, Outcome.UNREPAIRABLE, copies);
        } else {
            listener.bad(
                    inode,
                    block,
                    problem,
                    Outcome.DEFERRED,
                    copies + "; could not ask " + String.join(", ", last.unreachable()));
        }
    }

    /** Whether the pass is complete. */
    public boolean done() {
        return done;
    }

    /** Content bytes of the blocks checked so far. */
    public long bytesDone() {
        return bytesDone;
    }

    /** The {@link #estimate()} (0 before it is made). */
    public long bytesTotal() {
        return bytesTotal;
    }
}
