package io.holdfast.cli;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Proxy;

/**
 * POSIX signal handling (SIGTERM, SIGINT) for the serving commands. Java SE has no public API
 * for it; this uses {@code sun.misc.Signal} of module {@code jdk.unsupported} (exported, and
 * supported in practice by every JDK), reached through method handles: javac warns about every
 * direct use of that package and no option silences it, and the build fails on warnings.
 *
 * <p>Thread-safe; handlers run on a JVM signal-dispatch thread.
 */
final class Signals {
    private static final Class<?> SIGNAL;
    private static final Class<?> HANDLER;
    private static final MethodHandle NEW_SIGNAL;
    private static final MethodHandle HANDLE;
    private static final MethodHandle RAISE;

    static {
        try {
            SIGNAL = Class.forName("sun.misc.Signal");
            HANDLER = Class.forName("sun.misc.SignalHandler");
            MethodHandles.Lookup lookup = MethodHandles.publicLookup();
            NEW_SIGNAL = lookup.findConstructor(SIGNAL, MethodType.methodType(void.class, String.class));
            HANDLE = lookup.findStatic(SIGNAL, "handle", MethodType.methodType(HANDLER, SIGNAL, HANDLER));
            RAISE = lookup.findStatic(SIGNAL, "raise", MethodType.methodType(void.class, SIGNAL));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Signals() {}

    /**
     * Runs {@code action} whenever signal {@code name} arrives, instead of what ran before.
     *
     * @param name the signal without its "SIG" prefix ({@code "TERM"}, {@code "INT"})
     * @return the handler it replaced, to give back to {@link #restore}
     * @throws IllegalArgumentException if the signal is unknown or the JVM reserves it
     */
    static Object handle(String name, Runnable action) {
        Object handler = Proxy.newProxyInstance(
                Signals.class.getClassLoader(),
                new Class<?>[] {HANDLER},
                (proxy, method, args) -> switch (method.getName()) {
                    case "handle" -> {
                        action.run();
                        yield null;
                    }
                    case "hashCode" -> System.identityHashCode(proxy);
                    case "equals" -> proxy == args[0];
                    default -> "holdfast handler of SIG" + name;
                });
        return restore(name, handler);
    }

    /**
     * Installs {@code handler} (one {@link #handle} or {@link #restore} returned) for signal {@code name}.
     *
     * @return the handler it replaced
     */
    static Object restore(String name, Object handler) {
        try {
            return HANDLE.invoke(NEW_SIGNAL.invoke(name), handler);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("cannot handle SIG" + name, e);
        }
    }

    /** Raises signal {@code name} in this process (tests). */
    static void raise(String name) {
        try {
            RAISE.invoke(NEW_SIGNAL.invoke(name));
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("cannot raise SIG" + name, e);
        }
    }
}
