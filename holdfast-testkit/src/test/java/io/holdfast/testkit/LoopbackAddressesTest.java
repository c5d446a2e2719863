package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Node ports come from outside the kernel's ephemeral range and stay reserved. */
class LoopbackAddressesTest {
    @Test
    void portsAreDistinctFreeOutsideTheEphemeralRangeAndLocked() throws IOException {
        String[] range = Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range"))
                .getFirst()
                .trim()
                .split("\\s+");
        int low = Integer.parseInt(range[0]);
        int high = Integer.parseInt(range[1]);
        int[] drawn = LoopbackAddresses.drawRange();
        assumeTrue(drawn != null, "this machine's ephemeral range leaves no room: the kernel chooses");

        List<String> addresses = LoopbackAddresses.free(20);
        Set<Integer> ports = new HashSet<>();
        for (String a : addresses) {
            assertThat(a).startsWith("127.0.0.1:");
            int port = Integer.parseInt(a.substring(a.indexOf(':') + 1));
            ports.add(port);
            assertThat(port < low || port > high)
                    .as("port %d outside the ephemeral range %d-%d", port, low, high)
                    .isTrue();
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
            }
            Path lock = Path.of(System.getProperty("java.io.tmpdir"), "holdfast-test-ports", port + ".lock");
            try (FileChannel ch = FileChannel.open(lock, StandardOpenOption.WRITE)) {
                assertThatThrownBy(ch::tryLock).isInstanceOf(OverlappingFileLockException.class);
            }
        }
        assertThat(ports).hasSize(20);
    }
}
