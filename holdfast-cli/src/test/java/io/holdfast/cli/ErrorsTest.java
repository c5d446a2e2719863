package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import java.net.UnknownHostException;
import org.junit.jupiter.api.Test;

/** One line per failure, in the user's words. */
class ErrorsTest {
    @Test
    void anUnknownHostIsOneLineWithoutStackTraceOrTlsHint() {
        Cli ls = Cli.run("ls", "--cluster=no-such-host.invalid:7001", "vol:/");
        assertThat(ls.exit()).isEqualTo(1);
        assertThat(ls.out()).isEmpty();
        assertThat(ls.err())
                .isEqualTo("holdfast ls: cannot resolve host no-such-host.invalid" + System.lineSeparator());

        Cli status = Cli.run("cluster", "status", "--cluster=no-such-host.invalid:7001");
        assertThat(status.exit()).isEqualTo(1);
        assertThat(status.err())
                .isEqualTo("holdfast: cannot resolve host no-such-host.invalid" + System.lineSeparator());
    }

    @Test
    void describesHostsThatDoNotResolve() {
        UnknownHostException named = new UnknownHostException("db1.example");
        assertThat(Errors.describe(new HoldfastException(Errno.EIO, "cannot resolve host db1.example", named)))
                .isEqualTo("cannot resolve host db1.example");
        assertThat(Errors.describe(named)).isEqualTo("cannot resolve host db1.example");
        assertThat(Errors.describe(new HoldfastException(Errno.EIO, "cannot reach a:7001: is the node running")))
                .isEqualTo("EIO: cannot reach a:7001: is the node running");
    }
}
