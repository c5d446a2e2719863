package io.holdfast.server;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Access;
import io.holdfast.protocol.AclRule;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.transport.Peer;
import io.holdfast.transport.Role;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.Test;

/** Export ACL decisions: first match wins, deny by default, ro refuses writes only. */
class AccessControlTest {
    private final UUID group = UUID.randomUUID();
    private final AccessControl access = new AccessControl();

    private void rules(AclRule... rules) {
        ClusterMap.Volume v = new ClusterMap.Volume("mail", group, List.of("a:1"), 0, List.of(rules));
        access.update(new ClusterMap(1, UUID.randomUUID(), List.of("a:1"), Map.of("mail", v)));
    }

    private void denied(Peer p, boolean write, Errno errno) {
        assertThatThrownBy(() -> access.check(p, group, write))
                .isInstanceOf(HoldfastException.class)
                .satisfies(e ->
                        Assertions.assertThat(((HoldfastException) e).errno()).isEqualTo(errno));
    }

    @Test
    void noRuleMeansNoAccess() {
        rules();
        denied(new Peer("mail-01", Role.CLIENT, "10.0.0.5"), false, Errno.EACCES);
        denied(new Peer("mail-01", Role.CLIENT, "10.0.0.5"), true, Errno.EACCES);
    }

    @Test
    void theFirstMatchingRuleDecides() throws HoldfastException {
        rules(
                new AclRule("mail-02", "*", Access.NONE),
                new AclRule("mail-*", "10.0.0.0/8", Access.READ_WRITE),
                new AclRule("*", "*", Access.READ_ONLY));
        access.check(new Peer("mail-01", Role.CLIENT, "10.9.8.7"), group, true);
        denied(new Peer("mail-02", Role.CLIENT, "10.9.8.7"), false, Errno.EACCES);
        // outside 10/8 the third rule applies: reads yes, writes EROFS
        access.check(new Peer("mail-01", Role.CLIENT, "192.168.1.1"), group, false);
        denied(new Peer("mail-01", Role.CLIENT, "192.168.1.1"), true, Errno.EROFS);
        denied(new Peer("mail-01", Role.CLIENT, "fd00::1"), true, Errno.EROFS);
    }

    @Test
    void adminNodesAndPlaintextPeersAreNotSubjectToAcls() {
        rules();
        for (Role r : List.of(Role.ADMIN, Role.NODE, Role.ANONYMOUS)) {
            assertThatCode(() -> access.check(new Peer("x", r, "1.2.3.4"), group, true))
                    .doesNotThrowAnyException();
        }
        assertThatThrownBy(() -> AccessControl.checkAdmin(new Peer("mail-01", Role.CLIENT, "")))
                .hasMessageContaining("admin");
        assertThatCode(() -> AccessControl.checkAdmin(new Peer("ops", Role.ADMIN, "")))
                .doesNotThrowAnyException();
    }

    @Test
    void aVolumeThisNodeDoesNotKnowIsDenied() {
        rules(new AclRule("*", "*", Access.READ_WRITE));
        assertThatThrownBy(() -> access.check(new Peer("c", Role.CLIENT, "1.1.1.1"), UUID.randomUUID(), false))
                .isInstanceOf(HoldfastException.class);
    }
}
