package io.holdfast.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

class LeaderWatchTest {
    private static final long MIN = TimeUnit.SECONDS.toNanos(1);
    private static final long T0 = 1_000_000_000_000L;

    private final List<String> dialed = new ArrayList<>();

    private Predicate<String> refusing(boolean refuses) {
        return address -> {
            dialed.add(address);
            return refuses;
        };
    }

    private static LeaderWatch.View follower(long term, long rpcElapsedMillis, int rank) {
        return new LeaderWatch.View(term, "L", "10.0.0.1:7001", rpcElapsedMillis, 0, rank);
    }

    private static long ms(long millis) {
        return TimeUnit.MILLISECONDS.toNanos(millis);
    }

    @Test
    void standsOnlyAfterTheMinimumTimeoutOfSilenceAndOnlyWhenTheLeaderRefusesConnections() {
        LeaderWatch.Tracker t = new LeaderWatch.Tracker(MIN);
        assertThat(t.step(T0, follower(3, 0, 0), refusing(true))).isFalse();
        // silent for 0.99 s: the leader is not even dialed
        assertThat(t.step(T0 + ms(990), follower(3, 990, 0), refusing(true))).isFalse();
        assertThat(dialed).isEmpty();
        // silent for 1 s but the leader accepts connections (slow, not dead): Ratis's timer decides
        assertThat(t.step(T0 + ms(1000), follower(3, 1000, 0), refusing(false))).isFalse();
        assertThat(dialed).containsExactly("10.0.0.1:7001");
        assertThat(t.step(T0 + ms(1100), follower(3, 1100, 0), refusing(true))).isTrue();
    }

    @Test
    void aHeartbeatStartsTheSilenceAgain() {
        LeaderWatch.Tracker t = new LeaderWatch.Tracker(MIN);
        t.step(T0, follower(3, 0, 0), refusing(true));
        assertThat(t.step(T0 + ms(900), follower(3, 900, 0), refusing(true))).isFalse();
        // heard 100 ms ago
        assertThat(t.step(T0 + ms(1200), follower(3, 100, 0), refusing(true))).isFalse();
        assertThat(t.step(T0 + ms(2050), follower(3, 950, 0), refusing(true))).isFalse();
        assertThat(t.step(T0 + ms(2150), follower(3, 1050, 0), refusing(true))).isTrue();
    }

    @Test
    void followersStandInTurnByRank() {
        LeaderWatch.Tracker second = new LeaderWatch.Tracker(MIN);
        second.step(T0, follower(3, 0, 1), refusing(true));
        assertThat(second.step(T0 + ms(1200), follower(3, 1200, 1), refusing(true)))
                .isFalse();
        assertThat(second.step(T0 + ms(1300), follower(3, 1300, 1), refusing(true)))
                .isTrue();
    }

    @Test
    void aMemberBusyAppendingDoesNotStand() {
        LeaderWatch.Tracker t = new LeaderWatch.Tracker(MIN);
        t.step(T0, follower(3, 0, 0), refusing(true));
        LeaderWatch.View busy = new LeaderWatch.View(3, "L", "10.0.0.1:7001", 1500, 1, 0);
        assertThat(t.step(T0 + ms(1500), busy, refusing(true))).isFalse();
    }

    @Test
    void afterAFailedPreVoteTheSilenceIsKeptAndTheMemberStandsAgainAfterThePause() {
        LeaderWatch.Tracker t = new LeaderWatch.Tracker(MIN);
        t.step(T0, follower(3, 0, 0), refusing(true));
        assertThat(t.step(T0 + ms(1000), follower(3, 1000, 0), refusing(true))).isTrue();
        // its pre-vote was refused: a follower again, with no leader and a fresh timer
        LeaderWatch.View noLeader = new LeaderWatch.View(3, null, null, 50, 0, 0);
        assertThat(t.step(T0 + ms(1100), noLeader, refusing(true))).isFalse(); // too soon
        dialed.clear();
        assertThat(t.step(T0 + ms(1300), new LeaderWatch.View(3, null, null, 250, 0, 0), refusing(true)))
                .isTrue();
        assertThat(dialed).containsExactly("10.0.0.1:7001"); // the last leader known is dialed
        assertThat(t.stands).isEqualTo(2); // the second is logged at DEBUG
    }

    @Test
    void aNewTermWithoutALeaderMeansAnElectionIsUnderWayAndANewLeaderIsWatchedAfresh() {
        LeaderWatch.Tracker t = new LeaderWatch.Tracker(MIN);
        t.step(T0, follower(3, 0, 0), refusing(true));
        LeaderWatch.View voting = new LeaderWatch.View(4, null, null, 1500, 0, 0);
        assertThat(t.step(T0 + ms(1500), voting, refusing(true))).isFalse();
        assertThat(dialed).isEmpty();
        LeaderWatch.View newLeader = new LeaderWatch.View(4, "M", "10.0.0.2:7001", 0, 0, 0);
        assertThat(t.step(T0 + ms(1600), newLeader, refusing(true))).isFalse();
        assertThat(t.step(T0 + ms(2600), new LeaderWatch.View(4, "M", "10.0.0.2:7001", 1000, 0, 0), refusing(true)))
                .isTrue();
        assertThat(dialed).containsExactly("10.0.0.2:7001");
    }

    @Test
    void aMemberThatNeverHadALeaderNeverStands() {
        LeaderWatch.Tracker t = new LeaderWatch.Tracker(MIN);
        assertThat(t.step(T0 + ms(5000), new LeaderWatch.View(0, null, null, 5000, 0, 0), refusing(true)))
                .isFalse();
        assertThat(dialed).isEmpty();
    }

    @Test
    void aClosedPortRefusesAndAListeningOneDoesNot() throws IOException {
        InetAddress loopback = InetAddress.getLoopbackAddress();
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, loopback)) {
            closed = s.getLocalPort();
            assertThat(LeaderWatch.refusesConnections("127.0.0.1:" + closed)).isFalse();
        }
        assertThat(LeaderWatch.refusesConnections("127.0.0.1:" + closed)).isTrue();
        assertThat(LeaderWatch.refusesConnections("no-port")).isFalse();
    }
}
