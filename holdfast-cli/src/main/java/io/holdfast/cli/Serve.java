package io.holdfast.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The foreground life of a command that serves something until it is stopped ({@code holdfast
 * server}, {@code holdfast mount}): SIGTERM and SIGINT ask for a clean stop, after which the
 * command closes what it serves and exits 0 (1 if closing failed), as service managers expect;
 * a shutdown hook closes it on any other way the JVM ends; and what can end by itself (a mount
 * removed from outside with {@code fusermount3 -u}) is checked every {@value
 * #CHECK_INTERVAL_MILLIS} ms.
 *
 * <p>The signal handlers and the hook are in place before {@link Served#ready} announces the
 * service, so a signal sent once the announcement is seen always stops it cleanly. The served
 * thing is closed exactly once, by whichever thread comes first (the waiting one or the hook);
 * the other waits for that close to finish. Afterwards the hook is removed and the earlier signal
 * handlers are restored.
 */
final class Serve {
    /** How often {@link Served#ended} is asked: 1 s. */
    static final long CHECK_INTERVAL_MILLIS = 1000;

    private static final List<String> SIGNALS = List.of("TERM", "INT");

    private Serve() {}

    /** Why serving stopped. */
    enum Reason {
        /** SIGTERM or SIGINT. */
        SIGNAL,
        /** {@link Served#ended} said so. */
        ENDED
    }

    /** What a serving command serves, and what it says when. */
    interface Served {
        /**
         * Announces that it serves (e.g. "running", "mounted"); called once the signal handlers and
         * the shutdown hook are in place. Default: nothing.
         */
        default void ready() {}

        /**
         * Whether it has stopped by itself (e.g. was unmounted from outside); asked every {@value
         * Serve#CHECK_INTERVAL_MILLIS} ms by the waiting thread. Default: never.
         */
        default boolean ended() {
            return false;
        }

        /** Says that it stops, and why; called on the waiting thread just before {@link #close}. Default: nothing. */
        default void stopping(Reason why) {}

        /**
         * Stops serving and releases everything. Called once.
         *
         * @throws Exception if it did not stop cleanly; {@link #run} reports it on stderr
         */
        void close() throws Exception;
    }

    /**
     * Serves in the foreground until SIGTERM, SIGINT or {@link Served#ended}, then closes.
     *
     * @param hookName the name of the shutdown hook's thread
     * @param served what is served
     * @return whether it closed cleanly (the command's exit status is then 0, else 1)
     * @throws InterruptedException if this thread is interrupted while waiting; the served thing
     *     is then left to the shutdown hook
     */
    static boolean run(String hookName, Served served) throws InterruptedException {
        CountDownLatch stopRequested = new CountDownLatch(1);
        Closer closer = new Closer(served);
        List<Object> previous = new ArrayList<>();
        for (String name : SIGNALS) {
            previous.add(Signals.handle(name, stopRequested::countDown));
        }
        Thread hook = new Thread(closer::close, hookName);
        Runtime.getRuntime().addShutdownHook(hook);
        served.ready();
        Reason why = Reason.SIGNAL;
        while (!stopRequested.await(CHECK_INTERVAL_MILLIS, TimeUnit.MILLISECONDS)) {
            if (served.ended()) {
                why = Reason.ENDED;
                break;
            }
        }
        served.stopping(why);
        boolean clean = closer.close();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is already shutting down: the hook finds it closed
        }
        for (int i = 0; i < SIGNALS.size(); i++) {
            Signals.restore(SIGNALS.get(i), previous.get(i));
        }
        return clean;
    }

    /** Closes the served thing once; a second caller waits for the first close and gets its outcome. */
    private static final class Closer {
        private final Served served;
        private boolean closed;
        private boolean clean;

        Closer(Served served) {
            this.served = served;
        }

        synchronized boolean close() {
            if (!closed) {
                closed = true;
                try {
                    served.close();
                    clean = true;
                } catch (Exception e) {
                    System.err.println("holdfast: error while stopping: " + e.getMessage());
                }
            }
            return clean;
        }
    }
}
