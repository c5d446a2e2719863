package io.holdfast.testing;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.PreInterruptCallback;
import org.junit.jupiter.api.extension.PreInterruptContext;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;

/**
 * A JUnit Jupiter extension that says where a test that ran past its timeout was stuck: just
 * before JUnit interrupts the test's thread ({@code junit.jupiter.execution.timeout.default},
 * set by the build), it takes the stacks of that thread and of every busy Holdfast or Ratis
 * thread, and adds them to the test's failure, so the console report of a CI run shows them (the
 * test's own output goes to a file CI does not show). Registered for every test by JUnit's extension
 * auto-detection, as {@link SeedReporter} is.
 *
 * <p>Threads whose top frames show them idle (a pool worker waiting for a task, an event loop
 * waiting in {@code select}) are left out; each reported stack is cut at {@value #MAX_FRAMES}
 * frames or where JUnit's own frames begin, and the report at {@value #MAX_THREADS} threads.
 * Thread-safe: JUnit calls it from its timeout thread and from the test's thread, one after the
 * other, through the test's store.
 */
public final class HangReporter implements PreInterruptCallback, TestExecutionExceptionHandler {
    static final int MAX_FRAMES = 30;
    static final int MAX_THREADS = 30;
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(HangReporter.class);
    /** Frames at the top of a stack that mean the thread waits for work, not for an answer. */
    private static final Set<String> IDLE = Set.of(
            "java.util.concurrent.ThreadPoolExecutor.getTask",
            "java.util.concurrent.ForkJoinPool.awaitWork",
            "java.util.concurrent.ScheduledThreadPoolExecutor$DelayedWorkQueue.take",
            "io.netty.channel.nio.NioEventLoop.select",
            "io.netty.channel.epoll.EpollEventLoop.epollWait",
            "io.netty.channel.epoll.Native.epollWait",
            "io.netty.util.concurrent.SingleThreadEventExecutor.takeTask",
            "java.lang.ref.Reference.waitForReferencePendingList",
            "java.lang.ref.ReferenceQueue.remove");

    @Override
    public void beforeThreadInterrupt(PreInterruptContext interrupt, ExtensionContext context) {
        String report = report(interrupt.getThreadToInterrupt(), Thread.getAllStackTraces());
        context.getStore(NAMESPACE).put("report", report);
        System.out.println(context.getUniqueId() + " timed out; " + report);
    }

    @Override
    public void handleTestExecutionException(ExtensionContext context, Throwable failure) throws Throwable {
        String report = context.getStore(NAMESPACE).remove("report", String.class);
        if (report != null || failure instanceof TimeoutException) {
            failure.addSuppressed(
                    new HangInfo(report != null ? report : "no thread report (the test did not reach its interrupt)"));
        }
        throw failure;
    }

    /**
     * The stacks of {@code stuck} (first) and of every busy thread with a Holdfast frame, by name.
     */
    static String report(Thread stuck, Map<Thread, StackTraceElement[]> stacks) {
        List<Thread> shown = new ArrayList<>();
        stacks.keySet().stream()
                .filter(t -> t != stuck && t != Thread.currentThread() && busy(stacks.get(t)) && ours(stacks.get(t)))
                .sorted(Comparator.comparing(Thread::getName))
                .forEach(shown::add);
        StringBuilder b = new StringBuilder("stacks when the timeout struck (the test's thread first, then ")
                .append(shown.size())
                .append(" busy Holdfast or Ratis threads");
        if (shown.size() > MAX_THREADS - 1) {
            b.append(", the first ").append(MAX_THREADS - 1).append(" by name");
        }
        b.append("):\n");
        append(b, stuck, stacks.getOrDefault(stuck, stuck.getStackTrace()));
        shown.stream().limit(MAX_THREADS - 1).forEach(t -> append(b, t, stacks.get(t)));
        return b.toString();
    }

    /** Whether a Holdfast or a Ratis frame is on the stack (a hang in Ratis holds Ratis's threads too). */
    private static boolean ours(StackTraceElement[] stack) {
        for (StackTraceElement e : stack) {
            String c = e.getClassName();
            if (c.startsWith("io.holdfast.") || c.startsWith("org.apache.ratis.")) {
                return true;
            }
        }
        return false;
    }

    private static boolean busy(StackTraceElement[] stack) {
        for (int i = 0; i < Math.min(stack.length, 8); i++) {
            if (IDLE.contains(stack[i].getClassName() + "." + stack[i].getMethodName())) {
                return false;
            }
        }
        return stack.length > 0;
    }

    /** A thread's stack, cut at {@link #MAX_FRAMES} frames or where JUnit called the test. */
    private static void append(StringBuilder b, Thread t, StackTraceElement[] stack) {
        b.append('"').append(t.getName()).append("\" ").append(t.getState()).append('\n');
        int i = 0;
        for (; i < Math.min(stack.length, MAX_FRAMES); i++) {
            if (i > 0 && calledTheTest(stack[i])) {
                break;
            }
            b.append("    at ").append(stack[i]).append('\n');
        }
        if (i < stack.length) {
            b.append("    ... ").append(stack.length - i).append(" more\n");
        }
    }

    /** Whether {@code frame} is JUnit's (or the reflection it uses) calling the test method. */
    private static boolean calledTheTest(StackTraceElement frame) {
        String c = frame.getClassName();
        return c.startsWith("org.junit.") || c.startsWith("jdk.internal.reflect.") || c.startsWith("java.lang.invoke.");
    }

    /** Carries the thread report in a failure. */
    static final class HangInfo extends Exception {
        HangInfo(String message) {
            super(message, null, false, false);
        }
    }
}
