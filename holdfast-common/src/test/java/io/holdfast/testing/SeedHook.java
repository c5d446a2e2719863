package io.holdfast.testing;

import net.jqwik.api.lifecycle.AroundPropertyHook;
import net.jqwik.api.lifecycle.PropagationMode;
import net.jqwik.api.lifecycle.PropertyExecutionResult;
import net.jqwik.api.lifecycle.PropertyExecutor;
import net.jqwik.api.lifecycle.PropertyLifecycleContext;

/**
 * A jqwik hook that runs every property with a seed derived from the run's seed
 * ({@link TestSeed}) and the property's name, unless the property names a seed of its own,
 * and names the run's seed when a property fails. Registered for every property through
 * {@code META-INF/services/net.jqwik.api.lifecycle.LifecycleHook}.
 */
public final class SeedHook implements AroundPropertyHook {
    @Override
    public PropagationMode propagateTo() {
        return PropagationMode.ALL_DESCENDANTS;
    }

    @Override
    public PropertyExecutionResult aroundProperty(PropertyLifecycleContext context, PropertyExecutor property) {
        if (context.attributes().seed().filter(s -> !s.isEmpty()).isEmpty()) {
            String name = context.targetMethod().getDeclaringClass().getName() + "#"
                    + context.targetMethod().getName();
            context.attributes().setSeed(Long.toString(TestSeed.derive(name)));
        }
        PropertyExecutionResult result = property.execute();
        if (result.status() == PropertyExecutionResult.Status.FAILED) {
            String info = context.containerClass().getName() + "#" + context.label() + " ran with " + TestSeed.replay();
            result.throwable().ifPresent(t -> t.addSuppressed(new SeedReporter.SeedInfo(info)));
            System.out.println(info);
        }
        return result;
    }
}
