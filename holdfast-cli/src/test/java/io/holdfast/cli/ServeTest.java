package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The shared foreground lifecycle of the serving commands. */
class ServeTest {
    /** Records the calls, in order. */
    private static class Recording implements Serve.Served {
        final List<String> calls = new ArrayList<>();
        final AtomicInteger closes = new AtomicInteger();
        volatile boolean ended;

        @Override
        public synchronized void ready() {
            calls.add("ready");
        }

        @Override
        public boolean ended() {
            return ended;
        }

        @Override
        public synchronized void stopping(Serve.Reason why) {
            calls.add("stopping " + why);
        }

        @Override
        public synchronized void close() throws Exception {
            calls.add("close");
            closes.incrementAndGet();
        }
    }

    @Test
    void somethingThatEndsByItselfIsClosedOnceAndTheCommandSucceeds() throws Exception {
        Recording served = new Recording() {
            @Override
            public synchronized void ready() {
                super.ready();
                ended = true; // e.g. unmounted from outside right away
            }
        };
        assertThat(Serve.run("test-hook", served)).isTrue();
        assertThat(served.calls).containsExactly("ready", "stopping ENDED", "close");
    }

    @Test
    void sigtermAsksForACleanStopAndTheEarlierHandlerIsRestored() throws Exception {
        CountDownLatch earlier = new CountDownLatch(1);
        Object before = Signals.handle("TERM", earlier::countDown);
        try {
            Recording served = new Recording() {
                @Override
                public synchronized void ready() {
                    super.ready();
                    Signals.raise("TERM"); // the handler is in place once ready is called
                }
            };
            assertThat(Serve.run("test-hook", served)).isTrue();
            assertThat(served.calls).containsExactly("ready", "stopping SIGNAL", "close");
            assertThat(earlier.getCount())
                    .as("the earlier handler ran while Serve's was in place")
                    .isEqualTo(1);
            // the earlier handler is back: a SIGTERM now reaches it (and does not end the JVM)
            Signals.raise("TERM");
            assertThat(earlier.await(30, TimeUnit.SECONDS))
                    .as("the earlier handler runs again")
                    .isTrue();
        } finally {
            Signals.restore("TERM", before);
        }
    }

    @Test
    void aFailedCloseMakesTheCommandFail() throws Exception {
        Recording served = new Recording() {
            @Override
            public synchronized void ready() {
                super.ready();
                ended = true;
            }

            @Override
            public synchronized void close() throws Exception {
                super.close();
                throw new IOException("disk on fire");
            }
        };
        assertThat(Serve.run("test-hook", served)).isFalse();
        assertThat(served.closes).hasValue(1);
    }
}
