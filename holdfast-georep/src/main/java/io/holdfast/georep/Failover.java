package io.holdfast.georep;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Objects;
import java.util.Optional;

/**
 * Failover and failback of a geo-replication session (issue 15, item 4): the copy at the
 * disaster-recovery site becomes the writable primary ({@link #promote}), its changes go back to
 * the old primary as a delta ({@link #reverse}), and forward replication is re-based without a full
 * copy ({@link #failback}). Everything is recorded in the target's state directory, {@code
 * TARGET/.holdfast-georep/}: the state file ({@link StateFile}, version 2 while promoted), the
 * baseline manifest ({@link Manifest}), a reverse pass's plan and progress, and its reports.
 *
 * <p><b>Promote.</b> Refused (nothing changed) when the target has no recorded position, belongs to
 * another session or is in use by a worker, and — unless {@code force} — when the old primary
 * still answers ({@link PrimaryReachableException}). Otherwise scans the target (no content read)
 * into a baseline manifest {@code baseline-1}, then records in the state file, atomically and
 * durably, that the target is promoted: when, the split point (the feed index the target holds and
 * its commit time) and the manifest's name. From then on a worker refuses the target ({@link
 * GeoStateException}: the worker must never overwrite writes made at the DR site). Promoting a
 * promoted target changes nothing and says so.
 *
 * <p><b>Reverse.</b> Brings the changes made at the promoted copy since the base index (the split,
 * later where the previous pass ended) to the old primary as a delta:
 *
 * <ul>
 *   <li>the copy's changes: the target tree compared with the baseline manifest (inode, type,
 *       size, mode, owner, modification and status-change times, link target) — new, modified and
 *       deleted paths; an inode with one name in the baseline and one other, new name now is one
 *       rename (a directory with its contents);
 *   <li>the old primary's changes: every path its change feed names after the base index; if the
 *       feed no longer has that history (or names a write it cannot place), its tree compared with
 *       the manifest instead (type, mode, size, modification time);
 *   <li>a path changed on both sides is a conflict: the copy's version wins at the path; the old
 *       primary's version, if it still has one and it differs, is first renamed beside it to {@code
 *       PATH.conflict-primary-BASEINDEX} ({@code -2}, {@code -3}... appended if that name exists on
 *       either side), a directory with everything in it. A directory changed on both sides is not a
 *       conflict (its entries are merged); a path both sides deleted, or changed to equal content,
 *       is none either. Every conflict is in the {@link ReverseReport}, also written at the target
 *       as {@code reverse-N.txt} and {@code reverse-N.json};
 *   <li>the plan is recorded at the target before anything is applied, and progress while it is:
 *       a pass killed half way is finished by the next run as planned; operations are applied in
 *       order — renames (with conflict copies made first), deletes, then new and changed entries
 *       parents first — each file arriving atomically (temporary name, then rename, as the worker
 *       does); at the end the copy as planned becomes the new baseline and the base index moves to
 *       the old primary's applied index, so a rerun with nothing changed applies nothing.
 * </ul>
 *
 * <p><b>Failback.</b> With the copy quiesced: a last reverse pass, then the state file is re-based
 * at the split index, not promoted: the next worker start replays the old primary's feed from the
 * split, which brings the primary's own changes since the split and the conflict copies to the
 * copy; the changes the reverse wrote are found equal and do not travel. No full copy, unless the
 * feed has trimmed the history since the split (then the worker's paced full synchronisation).
 *
 * <p>Thread safety: each call that changes something takes the target's lock ({@link TargetLock})
 * for its duration, so a second call on the same target (or a worker) fails with {@link
 * GeoStateException} instead of interleaving; calls on different targets are independent.
 */
public final class Failover {
    private Failover() {}

    /** Whether the old primary answers; null if it does not, else what it said. */
    @FunctionalInterface
    public interface PrimaryProbe {
        /**
         * @return a description of the answer if the primary is reachable, null if not
         */
        String reachable();
    }

    /**
     * A probe that asks {@code feed} for its applied index: reachable if it answers.
     *
     * @param feed the old primary's change feed (with a short timeout: it is asked once)
     */
    public static PrimaryProbe feedProbe(ChangeSource feed) {
        Objects.requireNonNull(feed, "feed");
        return () -> {
            try {
                return "its change feed answered (applied index "
                        + feed.changes(0, 1, 0).appliedIndex() + ")";
            } catch (IOException | RuntimeException e) {
                return null;
            }
        };
    }

    /**
     * Whether a worker or another georep command holds {@code target}'s lock now (always false for
     * a target not on the local file system, which is not locked).
     *
     * @throws IOException if the lock file cannot be made
     */
    public static boolean inUse(Path target) throws IOException {
        TargetLock l = TargetLock.tryAcquire(target, "a check");
        if (l == null) {
            return true;
        }
        l.close();
        return false;
    }

    /**
     * A target's promotion.
     *
     * @param session the session
     * @param splitIndex the source feed index the target held when promoted
     * @param splitCommitNanos that index's commit time, nanoseconds since the epoch
     * @param promotedNanos when it was promoted, nanoseconds since the epoch
     * @param baseIndex where the next reverse pass starts (the split until a pass completes)
     * @param baselineEntries entries of the current baseline manifest (-1 if not read)
     * @param already whether the target was promoted before this call (nothing was changed)
     */
    public record Promotion(
            String session,
            long splitIndex,
            long splitCommitNanos,
            long promotedNanos,
            long baseIndex,
            long baselineEntries,
            boolean already) {}

    /**
     * The promotion recorded at {@code target}, if it is promoted.
     *
     * @throws GeoStateException if the state file is corrupt or too new
     * @throws IOException if it cannot be read
     */
    public static Optional<Promotion> promotion(Path target) throws IOException {
        StateFile.State s = new StateFile(target, false).read();
        if (s == null || s.promoted() == null) {
            return Optional.empty();
        }
        return Optional.of(of(s, -1, true));
    }

    private static Promotion of(StateFile.State s, long entries, boolean already) {
        StateFile.Promoted p = s.promoted();
        return new Promotion(
                s.session(), p.splitIndex(), p.splitCommitNanos(), p.promotedNanos(), p.baseIndex(), entries, already);
    }

    /**
     * Makes the copy at {@code target} the writable primary (see the class notes).
     *
     * @param session the session the target must belong to
     * @param probe asked whether the old primary still answers; not asked with {@code force}
     * @param force promote even if the old primary answers (the operator has fenced it)
     * @param fsync whether the manifest and state are forced to stable storage
     * @param clock the time recorded
     * @throws PrimaryReachableException if the old primary answers and not {@code force}
     * @throws GeoStateException if the target has no position (nothing was replicated), belongs to
     *     another session, has a corrupt state file, or a worker runs on it
     * @throws IOException if the target cannot be read or written; the target is then not promoted
     */
    public static Promotion promote(
            Path target, String session, PrimaryProbe probe, boolean force, boolean fsync, InstantSource clock)
            throws IOException {
        GeoOptions.defaults(session); // checks the name
        try (TargetLock lock = TargetLock.acquire(target, "promote")) {
            StateFile stateFile = new StateFile(target, fsync);
            StateFile.State s = checked(target, stateFile, session);
            if (s.promoted() != null) {
                return of(s, -1, true);
            }
            if (!force) {
                String answer = probe.reachable();
                if (answer != null) {
                    throw new PrimaryReachableException("the old primary is still reachable: " + answer
                            + "; promoting now would make two writable primaries. Stop or fence it, or promote"
                            + " with --force if its clients can no longer reach it. Nothing was changed.");
                }
            }
            Manifest m = Manifest.scan(target);
            String name = Manifest.fileName(1);
            Path dir = target.resolve(StateFile.DIR);
            m.write(dir.resolve(name), fsync);
            Files.deleteIfExists(dir.resolve(ReversePlan.NAME));
            long now = nanos(clock.instant());
            StateFile.State promoted = new StateFile.State(
                    s.session(),
                    s.index(),
                    s.commitNanos(),
                    now,
                    s.compareTree(),
                    new StateFile.Promoted(now, s.index(), s.commitNanos(), s.index(), name));
            stateFile.write(promoted);
            return of(promoted, m.entries().size(), false);
        }
    }

    private static StateFile.State checked(Path target, StateFile stateFile, String session) throws IOException {
        if (!Files.isDirectory(target)) {
            throw new NotDirectoryException(target + " (the target must be an existing directory)");
        }
        StateFile.State s = stateFile.read();
        if (s == null) {
            throw new GeoStateException(target + " has no recorded position: nothing was replicated to it yet");
        }
        if (!s.session().equals(session)) {
            throw new GeoStateException(
                    stateFile.path() + " belongs to session '" + s.session() + "', not '" + session + "'");
        }
        return s;
    }

    /** The exception a worker throws for a promoted target. */
    static GeoStateException promotedRefusal(Path target, StateFile.State s) {
        return new GeoStateException(target + " was promoted to primary at "
                + Instant.ofEpochSecond(0, s.promoted().promotedNanos()) + " (split at source index "
                + s.promoted().splitIndex() + "): replicating into it would overwrite what was written there."
                + " 'holdfast georep reverse' brings those changes back to the old primary, and"
                + " 'holdfast georep reverse --finish' re-bases the session so that it can start again.");
    }

    /**
     * One reverse pass (see the class notes): the promoted copy's changes since the base index go to
     * the old primary; conflicts are resolved and reported. Finishes an interrupted pass first.
     *
     * @param feed the old primary's change feed
     * @param primaryRoot the old primary's tree (the volume's root)
     * @param target the promoted copy
     * @param options the session name, fsync, bandwidth, owner keeping (as for the worker)
     * @param dryRun plan and report only: nothing is written anywhere
     * @throws GeoStateException if the target is not promoted, is another session's, its manifest
     *     or plan is corrupt, or a worker runs on it
     * @throws IOException if the feed, the copy or the old primary fail; a rerun goes on where the
     *     pass stopped
     */
    public static ReverseReport reverse(
            ChangeSource feed, Path primaryRoot, Path target, GeoOptions options, boolean dryRun) throws IOException {
        try (TargetLock lock = TargetLock.acquire(target, "reverse")) {
            return reverseLocked(new ReversePass(feed, primaryRoot, target, options), target, options, dryRun);
        }
    }

    static ReverseReport reverseLocked(ReversePass pass, Path target, GeoOptions options, boolean dryRun)
            throws IOException {
        StateFile stateFile = new StateFile(target, options.fsync());
        StateFile.State s = checked(target, stateFile, options.session());
        StateFile.Promoted p = s.promoted();
        if (p == null) {
            throw new GeoStateException(target + " is not promoted ('holdfast georep promote' first)");
        }
        Path dir = target.resolve(StateFile.DIR);
        Path planFile = dir.resolve(ReversePlan.NAME);
        ReversePlan plan = ReversePlan.read(planFile);
        if (plan != null && !plan.baseline().equals(p.baseline())) {
            plan = null; // a finished pass's plan whose removal a crash interrupted
            if (!dryRun) {
                Files.deleteIfExists(planFile);
            }
        }
        boolean resumed = plan != null;
        if (plan == null) {
            plan = pass.plan(p);
            if (!dryRun) {
                pass.writeNextBaseline(plan);
                plan.write(planFile, options.fsync());
            }
        }
        if (dryRun) {
            return report(s, p, plan, 0, true, resumed);
        }
        Path progress = dir.resolve(ReversePlan.PROGRESS);
        Counters done = pass.apply(plan, ReversePlan.progress(progress, plan.next()));
        ReverseReport report = report(s, p, plan, (int) done.errors.get(), false, resumed);
        long after = pass.appliedIndexAfter(plan.primaryIndex());
        String n = plan.next().substring(Manifest.PREFIX.length());
        ReversePlan.writeAtomically(dir.resolve("reverse-" + n + ".txt"), report.toText(), options.fsync());
        ReversePlan.writeAtomically(dir.resolve("reverse-" + n + ".json"), report.toJson() + "\n", options.fsync());
        stateFile.write(new StateFile.State(
                s.session(),
                s.index(),
                s.commitNanos(),
                nanos(options.clock().instant()),
                s.compareTree(),
                new StateFile.Promoted(p.promotedNanos(), p.splitIndex(), p.splitCommitNanos(), after, plan.next())));
        Files.deleteIfExists(dir.resolve(p.baseline()));
        Files.deleteIfExists(planFile);
        Files.deleteIfExists(progress);
        return report;
    }

    private static ReverseReport report(
            StateFile.State s, StateFile.Promoted p, ReversePlan plan, int skipped, boolean dryRun, boolean resumed) {
        return new ReverseReport(
                s.session(),
                p.splitIndex(),
                plan.baseIndex(),
                plan.primaryIndex(),
                plan.primarySource(),
                plan.primaryChanged(),
                plan.count(ReversePlan.Kind.RENAME),
                plan.count(ReversePlan.Kind.DELETE),
                plan.count(ReversePlan.Kind.PUT),
                plan.conflicts(),
                skipped,
                dryRun,
                resumed);
    }

    /**
     * The outcome of {@link #failback}.
     *
     * @param lastPass the final reverse pass
     * @param rebasedAt the feed index the session now resumes from (the split index)
     */
    public record Failback(ReverseReport lastPass, long rebasedAt) {}

    /**
     * Fails back (see the class notes): a last reverse pass with the copy quiesced, then the session
     * is re-based at the split index and no longer promoted, so that the next worker start replays
     * the old primary's changes since the split into the copy (no full copy).
     *
     * @throws GeoStateException as {@link #reverse}
     * @throws IOException as {@link #reverse}; the target stays promoted
     */
    public static Failback failback(ChangeSource feed, Path primaryRoot, Path target, GeoOptions options)
            throws IOException {
        try (TargetLock lock = TargetLock.acquire(target, "reverse --finish")) {
            ReverseReport last =
                    reverseLocked(new ReversePass(feed, primaryRoot, target, options), target, options, false);
            StateFile stateFile = new StateFile(target, options.fsync());
            StateFile.State s = stateFile.read();
            StateFile.Promoted p = s.promoted();
            stateFile.write(new StateFile.State(
                    s.session(),
                    p.splitIndex(),
                    p.splitCommitNanos(),
                    nanos(options.clock().instant()),
                    false));
            Path dir = target.resolve(StateFile.DIR);
            Files.deleteIfExists(dir.resolve(p.baseline()));
            ReversePlan.writeAtomically(
                    dir.resolve("failback.txt"),
                    "failed back at " + options.clock().instant() + ": re-based at source index " + p.splitIndex()
                            + " (the split); the worker replays the old primary's changes since then\n",
                    options.fsync());
            return new Failback(last, p.splitIndex());
        }
    }

    /** The last reverse report written at {@code target}, as text, if any. */
    public static Optional<String> lastReport(Path target, boolean json) throws IOException {
        Path dir = target.resolve(StateFile.DIR);
        if (!Files.isDirectory(dir)) {
            return Optional.empty();
        }
        Path best = null;
        long bestN = -1;
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                String name = f.getFileName().toString();
                String ext = json ? ".json" : ".txt";
                if (name.startsWith("reverse-") && name.endsWith(ext)) {
                    try {
                        long n = Long.parseLong(name.substring("reverse-".length(), name.length() - ext.length()));
                        if (n > bestN) {
                            bestN = n;
                            best = f;
                        }
                    } catch (NumberFormatException e) {
                        // not a report
                    }
                }
            }
        }
        return best == null ? Optional.empty() : Optional.of(Files.readString(best, UTF_8));
    }

    static long nanos(Instant t) {
        return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
    }
}
