package io.holdfast.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.protocol.Access;
import io.holdfast.protocol.AclRule;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.transport.Peer;
import io.holdfast.transport.Role;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** {@link ClusterAccess}: the export ACL of a map, evaluated for NBD clients' identities. */
class ClusterAccessTest {
    private static ClusterMap map(List<AclRule> rules) {
        ClusterMap.Volume v = new ClusterMap.Volume("vms", UUID.randomUUID(), List.of("a", "b", "c"), 0, rules);
        return new ClusterMap(1, UUID.randomUUID(), List.of("a", "b", "c"), Map.of("vms", v));
    }

    private static Peer client(String name, String address) {
        return new Peer(name, Role.CLIENT, address);
    }

    private static final List<AclRule> RULES = List.of(
            new AclRule("writer", "127.0.0.0/8", Access.READ_WRITE),
            new AclRule("reader", "*", Access.READ_ONLY),
            new AclRule("lab-*", "10.0.0.0/8", Access.READ_ONLY));

    @Test
    void firstMatchingRuleDecidesAndNoRuleDenies() throws IOException {
        ClusterAccess a = new ClusterAccess(() -> map(RULES), true, "admin", Duration.ofSeconds(1), System::nanoTime);
        assertThat(a.access("vms", client("writer", "127.0.0.1"))).isEqualTo(Access.READ_WRITE);
        assertThat(a.access("vms", client("writer", "192.168.1.5"))).isEqualTo(Access.NONE);
        assertThat(a.access("vms", client("reader", "192.168.1.5"))).isEqualTo(Access.READ_ONLY);
        assertThat(a.access("vms", client("lab-7", "10.1.2.3"))).isEqualTo(Access.READ_ONLY);
        assertThat(a.access("vms", client("stranger", "127.0.0.1"))).isEqualTo(Access.NONE);
        assertThat(a.access("other", client("writer", "127.0.0.1")))
                .as("a volume the map does not have")
                .isEqualTo(Access.NONE);
    }

    @Test
    void adminAndNodeCertificatesAreNotSubjectToAcls() throws IOException {
        ClusterAccess a =
                new ClusterAccess(() -> map(List.of()), true, "admin", Duration.ofSeconds(1), System::nanoTime);
        assertThat(a.access("vms", new Peer("admin", Role.ADMIN, "127.0.0.1"))).isEqualTo(Access.READ_WRITE);
        assertThat(a.access("vms", new Peer("n1", Role.NODE, "127.0.0.1"))).isEqualTo(Access.READ_WRITE);
        assertThat(a.access("vms", client("admin", "127.0.0.1")))
                .as("a client certificate named admin is still a client")
                .isEqualTo(Access.NONE);
    }

    @Test
    void aGatewayThatCannotReadAclsRefusesEveryClientWithTheReason() {
        ClusterAccess a = new ClusterAccess(
                () -> map(RULES), false, "client \"gw\" from 127.0.0.1", Duration.ofSeconds(1), System::nanoTime);
        assertThat(a.canReadAcls()).isFalse();
        assertThatThrownBy(() -> a.access("vms", client("writer", "127.0.0.1")))
                .isInstanceOf(AccessDeniedException.class)
                .hasMessageContaining("may not read export ACLs")
                .hasMessageContaining("admin certificate");
        assertThat(ClusterAccess.mayReadAcls("client \"gw\" from 127.0.0.1")).isFalse();
        assertThat(ClusterAccess.mayReadAcls("admin \"admin\" from 127.0.0.1")).isTrue();
        assertThat(ClusterAccess.mayReadAcls("anonymous \"anonymous\" from 127.0.0.1"))
                .isTrue();
    }

    @Test
    void theMapIsReadAgainOnceItIsOlderThanTheMaximumAge() throws IOException {
        AtomicReference<ClusterMap> current = new AtomicReference<>(map(RULES));
        AtomicInteger reads = new AtomicInteger();
        AtomicLong now = new AtomicLong();
        ClusterAccess a = new ClusterAccess(
                () -> {
                    reads.incrementAndGet();
                    return current.get();
                },
                true,
                "admin",
                Duration.ofSeconds(1),
                now::get);
        Peer reader = client("reader", "127.0.0.1");
        assertThat(a.access("vms", reader)).isEqualTo(Access.READ_ONLY);
        current.set(map(List.of(new AclRule("reader", "*", Access.READ_WRITE))));
        now.addAndGet(Duration.ofMillis(999).toNanos());
        assertThat(a.access("vms", reader)).as("the copy is still fresh").isEqualTo(Access.READ_ONLY);
        assertThat(reads).hasValue(1);
        now.addAndGet(Duration.ofMillis(1).toNanos());
        assertThat(a.access("vms", reader)).as("read again after 1 s").isEqualTo(Access.READ_WRITE);
        assertThat(reads).hasValue(2);
    }

    @Test
    void aMapThatCannotBeReadRefusesTheClient() {
        ClusterAccess a = new ClusterAccess(
                () -> {
                    throw new IOException("cluster unreachable");
                },
                true,
                "admin",
                Duration.ofSeconds(1),
                System::nanoTime);
        assertThatThrownBy(() -> a.access("vms", client("writer", "127.0.0.1")))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("unreachable");
    }
}
