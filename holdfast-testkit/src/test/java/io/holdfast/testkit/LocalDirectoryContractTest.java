package io.holdfast.testkit;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The contract against the default file system, the reference behaviour. */
class LocalDirectoryContractTest extends FileSystemContract {
    @TempDir
    Path temp;

    @Override
    protected Path root() {
        return temp;
    }
}
