package io.holdfast.overlay;

import java.io.IOException;

/** A call that may fail with an {@link IOException}, for wrappers that map its failure. */
@FunctionalInterface
interface IoCall<T> {
    /**
     * Makes the call.
     *
     * @throws IOException as the call does
     */
    T run() throws IOException;
}
