package io.holdfast.client.nio;

/**
 * A counter of outstanding asynchronous requests that threads can wait to drain.
 *
 * <p>Thread-safe. {@link #awaitZero()} blocks.
 */
final class Inflight {
  private int count;

  synchronized void increment() {
    count++;
  }

  synchronized void decrement() {
    assert count > 0 : "decrement below zero";
    count--;
    if (count == 0) {
      notifyAll();
    }
  }

  synchronized int count() {
    return count;
  }

  /** Blocks until no request is outstanding. */
  synchronized void awaitZero() throws InterruptedException {
    while (count > 0) {
      wait();
    }
  }
}
