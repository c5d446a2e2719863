package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import sun.misc.Signal;
import sun.misc.SignalHandler;

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
    Signal term = new Signal("TERM");
    SignalHandler before = Signal.handle(term, SignalHandler.SIG_DFL);
    Signal.handle(term, before);
    Recording served = new Recording() {
      @Override
      public synchronized void ready() {
        super.ready();
        Signal.raise(term); // the handler is in place once ready is called
      }
    };
    assertThat(Serve.run("test-hook", served)).isTrue();
    assertThat(served.calls).containsExactly("ready", "stopping SIGNAL", "close");
    // sun.misc.Signal wraps handlers anew on each call: the same handler shows as the same text
    assertThat(Signal.handle(term, before)).as("the handler before run").hasToString(before.toString());
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
