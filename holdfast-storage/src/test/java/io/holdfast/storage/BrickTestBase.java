package io.holdfast.storage;

import static io.holdfast.storage.TestBrick.errno;

import io.holdfast.common.Errno;
import io.holdfast.protocol.Request;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/** The setup the brick tests share: a fresh {@link TestBrick} in a temporary directory per test. */
abstract class BrickTestBase {
    @TempDir
    Path tmp;

    TestBrick b;

    @BeforeEach
    void open() throws Exception {
        b = new TestBrick(tmp.resolve("brick"));
    }

    @AfterEach
    void close() {
        b.close();
    }

    /** Applies {@code m} and gives its errno ({@link Errno#OK} on success). */
    Errno ap(Request.Mutation m) {
        return errno(b.apply(m));
    }
}
