package io.holdfast.server.scrub;

import io.holdfast.common.Pacer;
import io.holdfast.protocol.ScrubStats;
import io.holdfast.server.ScrubSettings;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.InstantSource;
import java.util.Properties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * When one member's scrub passes run: on request ({@code START}), or with a positive
 * {@link ScrubSettings#interval()} one interval after the previous pass ended (the first one
 * interval after the brick was first served). Pausing stops all scrub I/O through the
 * {@link Pacer} until started again. The times and the pause are kept in {@code scrub/state}
 * ({@link Properties} text, replaced atomically), so they hold across restarts.
 *
 * <p>Thread-safe: its own monitor guards the state; the scrubber's thread waits on it between
 * passes and {@link #requestStart}, {@link #control} and {@link #wake} notify it.
 */
final class ScrubSchedule {
    private static final Logger LOG = LoggerFactory.getLogger(ScrubSchedule.class);

    /** What {@link ScrubStats} reports of the schedule, read at once. */
    record Times(ScrubStats.State state, long lastPassStartMillis, long lastPassEndMillis, long nextPassMillis) {}

    private final Path scrubDir;
    private final String brickName;
    private final ScrubSettings settings;
    private final InstantSource clock;
    private final Pacer pacer;
    private ScrubStats.State state = ScrubStats.State.IDLE; // guarded by this
    private boolean startRequested; // guarded by this
    private boolean passActive; // guarded by this
    private long firstSeenMillis; // guarded by this
    private long lastPassStartMillis; // guarded by this
    private long lastPassEndMillis; // guarded by this

    /**
     * Loads the schedule kept in {@code scrubDir}, or starts one now.
     *
     * @throws IOException if the state file exists but cannot be read
     */
    ScrubSchedule(Path scrubDir, String brickName, ScrubSettings settings, InstantSource clock, Pacer pacer)
            throws IOException {
        this.scrubDir = scrubDir;
        this.brickName = brickName;
        this.settings = settings;
        this.clock = clock;
        this.pacer = pacer;
        load();
    }

    /**
     * Starts or pauses passes, or changes the rate.
     *
     * @param start true for START, false for PAUSE
     * @param rateBytesPerSecond the new rate for START, or 0 to keep it
     * @param quarantined whether the member is out of service (then a START starts no pass)
     */
    synchronized void control(boolean start, long rateBytesPerSecond, boolean quarantined) {
        if (start) {
            if (rateBytesPerSecond > 0) {
                pacer.setRate(rateBytesPerSecond);
            }
            pacer.resume();
            if (passActive) {
                state = ScrubStats.State.RUNNING;
            } else {
                state = ScrubStats.State.IDLE;
                startRequested = !quarantined;
            }
            notifyAll();
        } else {
            state = ScrubStats.State.PAUSED;
            pacer.pause();
        }
        saveLocked(); // a pause holds across restarts, until started again
    }

    /** Asks for a pass as soon as possible (after a rebuild). */
    synchronized void requestStart() {
        startRequested = true;
        notifyAll();
    }

    /** Wakes the scrubber's thread (on close). */
    synchronized void wake() {
        notifyAll();
    }

    /** Waits up to {@code millis} unless a pass was requested. */
    synchronized void idle(long millis) throws InterruptedException {
        if (!startRequested) {
            wait(millis);
        }
    }

    /**
     * Begins a pass if one is due and the member is neither paused nor out of service.
     *
     * @return whether a pass began (then {@link #endPass} must follow)
     */
    synchronized boolean beginPassIfDue(boolean quarantined) {
        if (quarantined || state == ScrubStats.State.PAUSED) {
            return false;
        }
        long now = clock.millis();
        boolean due = startRequested || (settings.automatic() && now >= nextPassMillis(false));
        if (!due) {
            return false;
        }
        startRequested = false;
        passActive = true;
        state = ScrubStats.State.RUNNING;
        lastPassStartMillis = now;
        return true;
    }

    /**
     * Ends the active pass, if any, and records when.
     *
     * @return whether a pass was active
     */
    boolean endPass() {
        synchronized (this) {
            if (!passActive) {
                return false;
            }
            passActive = false;
            lastPassEndMillis = clock.millis();
            if (state == ScrubStats.State.RUNNING) {
                state = ScrubStats.State.IDLE;
            }
        }
        save();
        return true;
    }

    synchronized Times times(boolean quarantined) {
        return new Times(state, lastPassStartMillis, lastPassEndMillis, nextPassMillis(quarantined));
    }

    private long nextPassMillis(boolean quarantined) {
        if (!settings.automatic() || quarantined || state == ScrubStats.State.PAUSED) {
            return 0;
        }
        return Math.max(firstSeenMillis, lastPassEndMillis)
                + settings.interval().toMillis();
    }

    private synchronized void load() throws IOException {
        Properties p = new Properties();
        Path f = scrubDir.resolve("state");
        try (InputStream in = Files.newInputStream(f)) {
            p.load(in);
            firstSeenMillis = Long.parseLong(p.getProperty("first-seen-millis", "0"));
            lastPassEndMillis = Long.parseLong(p.getProperty("last-pass-end-millis", "0"));
            lastPassStartMillis = Long.parseLong(p.getProperty("last-pass-start-millis", "0"));
            if (Boolean.parseBoolean(p.getProperty("paused", "false"))) {
                state = ScrubStats.State.PAUSED;
                pacer.pause();
            }
        } catch (NoSuchFileException | NumberFormatException e) {
            firstSeenMillis = clock.millis();
            saveLocked();
        }
    }

    private synchronized void save() {
        saveLocked();
    }

    private void saveLocked() {
        Properties p = new Properties();
        p.setProperty("first-seen-millis", Long.toString(firstSeenMillis));
        p.setProperty("last-pass-start-millis", Long.toString(lastPassStartMillis));
        p.setProperty("last-pass-end-millis", Long.toString(lastPassEndMillis));
        p.setProperty("paused", Boolean.toString(state == ScrubStats.State.PAUSED));
        Path tmp = scrubDir.resolve("state.tmp");
        try (OutputStream out = Files.newOutputStream(tmp)) {
            p.store(out, "holdfast scrub schedule of this brick");
            out.flush();
        } catch (IOException e) {
            LOG.warn("{}: could not save the scrub schedule: {}", brickName, e.getMessage());
            return;
        }
        try {
            Files.move(
                    tmp,
                    scrubDir.resolve("state"),
                    StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            LOG.warn("{}: could not save the scrub schedule: {}", brickName, e.getMessage());
        }
    }
}
