package io.holdfast.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.transport.TransportSecurity;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How {@link HoldfastClient#connect} reports a node it cannot reach, without a cluster. */
class ConnectFailureTest {
    @TempDir
    Path noCertificates;

    @Test
    void aHostThatDoesNotResolveIsNamedWithoutATlsHint() {
        // .invalid never resolves (RFC 6761); checked before the certificate directory is read
        for (Map<String, Object> env : List.<Map<String, Object>>of(
                Map.of(TransportSecurity.INSECURE_OPTION, true),
                Map.of(TransportSecurity.TLS_OPTION, noCertificates))) {
            HoldfastException e = catchThrowableOfType(
                    HoldfastException.class, () -> HoldfastClient.connect("no-such-host.invalid", 7001, env));
            assertThat(e.errno()).isEqualTo(Errno.EIO);
            assertThat(e.getMessage()).isEqualTo("EIO: cannot resolve host no-such-host.invalid");
            assertThat(e.getCause()).isInstanceOf(UnknownHostException.class).hasMessage("no-such-host.invalid");
        }
    }
}
