package io.holdfast.server;

import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.util.LifeCycle;

/**
 * The lifecycle Ratis expects of a state machine that can install a snapshot from the leader:
 * RUNNING after {@code initialize}; {@link #pause()} (RUNNING → PAUSED) before the snapshot
 * files are replaced; {@link #resume()} (PAUSED → RUNNING) at the end of {@code reinitialize}.
 * Ratis refuses to reload a state machine that is not PAUSED and then shuts the member down.
 */
abstract class LifecycleStateMachine extends BaseStateMachine {

  @Override
  public void pause() {
    if (getLifeCycleState() == LifeCycle.State.RUNNING) {
      getLifeCycle().transition(LifeCycle.State.PAUSING);
      getLifeCycle().transition(LifeCycle.State.PAUSED);
    }
  }

  /** Back to RUNNING after a snapshot was loaded in {@code reinitialize}. */
  protected final void resume() {
    if (getLifeCycleState() == LifeCycle.State.PAUSED) {
      getLifeCycle().transition(LifeCycle.State.STARTING);
      getLifeCycle().transition(LifeCycle.State.RUNNING);
    }
  }
}
