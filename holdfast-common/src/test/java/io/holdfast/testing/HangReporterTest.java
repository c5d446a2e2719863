package io.holdfast.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Events;

class HangReporterTest {
    /** Run only from the test below (surefire leaves nested classes out). */
    static class Stuck {
        @Test
        @Timeout(value = 300, unit = TimeUnit.MILLISECONDS)
        void waitsForALatchNobodyOpens() throws InterruptedException {
            waitForever(new CountDownLatch(1));
        }

        private static void waitForever(CountDownLatch never) throws InterruptedException {
            never.await();
        }
    }

    @Test
    void aTestThatTimesOutFailsWithItsThreadsStack() {
        Events failed = EngineTestKit.engine("junit-jupiter")
                .configurationParameter("junit.jupiter.extensions.autodetection.enabled", "true")
                .selectors(selectClass(Stuck.class))
                .execute()
                .testEvents()
                .failed();
        assertThat(failed.count()).isEqualTo(1);
        Throwable failure = failed.stream()
                .findFirst()
                .orElseThrow()
                .getRequiredPayload(TestExecutionResult.class)
                .getThrowable()
                .orElseThrow();
        assertThat(failure).isInstanceOf(TimeoutException.class);
        assertThat(failure.getSuppressed())
                .filteredOn(s -> s instanceof HangReporter.HangInfo)
                .singleElement()
                .satisfies(s -> assertThat(s.getMessage())
                        .contains("the test's thread first")
                        .contains("HangReporterTest$Stuck.waitForever"));
    }

    @Test
    void idleAndForeignThreadsAreLeftOutOfTheReport() {
        Thread stuck = new Thread(() -> {}, "stuck-test");
        Thread idle = new Thread(() -> {}, "idle-pool-worker");
        Thread foreign = new Thread(() -> {}, "someone-elses");
        Thread busy = new Thread(() -> {}, "holdfast-apply");
        StackTraceElement ours = new StackTraceElement("io.holdfast.server.Apply", "run", "Apply.java", 10);
        Map<Thread, StackTraceElement[]> stacks = Map.of(
                stuck,
                new StackTraceElement[] {new StackTraceElement("org.example.T", "t", "T.java", 1)},
                idle,
                new StackTraceElement[] {
                    new StackTraceElement("java.util.concurrent.ThreadPoolExecutor", "getTask", "T.java", 1), ours
                },
                foreign,
                new StackTraceElement[] {new StackTraceElement("org.example.Other", "run", "O.java", 1)},
                busy,
                new StackTraceElement[] {
                    new StackTraceElement("java.util.concurrent.CompletableFuture", "get", "C.java", 1), ours
                });
        String report = HangReporter.report(stuck, stacks);
        assertThat(report)
                .contains("\"stuck-test\"", "\"holdfast-apply\"", "1 busy Holdfast or Ratis threads")
                .doesNotContain("idle-pool-worker", "someone-elses");
        assertThat(report.indexOf("stuck-test")).isLessThan(report.indexOf("holdfast-apply"));
    }
}
