package io.holdfast.storage;

import java.io.IOException;

/** Point reads of a brick's keys: the open database ({@link BrickState#kv}), or an entry's {@link Txn}. */
interface Kv {
    /** The value of {@code key}, or null if absent. */
    byte[] get(byte[] key) throws IOException;
}
