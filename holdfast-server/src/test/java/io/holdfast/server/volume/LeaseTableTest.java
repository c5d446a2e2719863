package io.holdfast.server.volume;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class LeaseTableTest {
    private static final long LEASE_MILLIS = 300;
    private static final long TERM = 4;
    private final LeaseTable table = new LeaseTable(LEASE_MILLIS, System::nanoTime);
    private final UUID a = UUID.randomUUID();
    private final UUID b = UUID.randomUUID();

    @AfterEach
    void close() {
        table.close();
    }

    /** Waits out the grace of a new term (a mutation applied in it is held that long). */
    private void pastGrace() throws Exception {
        long started = System.nanoTime();
        CompletableFuture<Void> first = table.afterMutation(null, TERM);
        assertThat(first).isNotDone();
        first.get(10, TimeUnit.SECONDS);
        assertThat(System.nanoTime() - started).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(LEASE_MILLIS));
    }

    /** Grants a lease to a session: renew, acknowledge its first number, renew again. */
    private Response.Lease grant(UUID session) {
        Response.Lease first = (Response.Lease) table.renew(session, TERM);
        assertThat(first.grantedMillis())
                .as("the first answer drops the cache, grants nothing")
                .isZero();
        Response.Lease polled =
                (Response.Lease) table.poll(new Request.LeasePoll(session, first.epoch(), first.seq(), 0), TERM)
                        .join();
        assertThat(polled.seq()).isEqualTo(first.seq());
        Response.Lease granted = (Response.Lease) table.renew(session, TERM);
        assertThat(granted.grantedMillis()).isEqualTo(LEASE_MILLIS);
        return granted;
    }

    @Test
    void aNewTermHoldsMutationRepliesForALease() throws Exception {
        pastGrace();
        assertThat(table.afterMutation(null, TERM)).isDone();
    }

    @Test
    void aMutationWaitsUntilEveryOtherSessionDroppedItsCache() throws Exception {
        pastGrace();
        Response.Lease la = grant(a);
        Response.Lease lb = grant(b);
        CompletableFuture<Response> heldPoll = table.poll(new Request.LeasePoll(b, lb.epoch(), lb.seq(), 5_000), TERM);
        assertThat(heldPoll).isNotDone();

        CompletableFuture<Void> reply = table.afterMutation(a, TERM);
        // b is told at once through its held poll; a (the mutator) is not
        Response.Lease told = (Response.Lease) heldPoll.get(5, TimeUnit.SECONDS);
        assertThat(told.seq()).isGreaterThan(lb.seq());
        assertThat(reply).isNotDone();
        assertThat(table.revocations()).isEqualTo(1);
        // a renewal before the acknowledgement grants nothing
        assertThat(((Response.Lease) table.renew(b, TERM)).grantedMillis()).isZero();
        // the mutator's own poll does not release it
        table.poll(new Request.LeasePoll(a, la.epoch(), la.seq(), 0), TERM).join();
        assertThat(reply).isNotDone();

        table.poll(new Request.LeasePoll(b, told.epoch(), told.seq(), 0), TERM).join();
        reply.get(5, TimeUnit.SECONDS);
        assertThat(((Response.Lease) table.renew(b, TERM)).grantedMillis()).isEqualTo(LEASE_MILLIS);
    }

    @Test
    void aSessionThatNeverAcknowledgesHoldsAMutationOnlyUntilItsLeaseRunsOut() throws Exception {
        pastGrace();
        grant(b);
        long started = System.nanoTime();
        CompletableFuture<Void> reply = table.afterMutation(a, TERM);
        assertThat(reply).isNotDone();
        reply.get(10, TimeUnit.SECONDS);
        long waited = System.nanoTime() - started;
        assertThat(waited).isLessThan(TimeUnit.MILLISECONDS.toNanos(LEASE_MILLIS + LeaseTable.MARGIN_MILLIS + 5_000));
        assertThat(table.sessions()).isZero();
        // its next poll learns that its session is gone
        Response.Lease gone = (Response.Lease)
                table.poll(new Request.LeasePoll(b, table.epoch(), 99, 0), TERM).join();
        assertThat(gone.seq()).isEqualTo(-1);
    }

    @Test
    void aNewTermForgetsSessionsAndChangesTheEpoch() throws Exception {
        pastGrace();
        Response.Lease lb = grant(b);
        CompletableFuture<Response> heldPoll = table.poll(new Request.LeasePoll(b, lb.epoch(), lb.seq(), 5_000), TERM);
        CompletableFuture<Void> reply = table.afterMutation(a, TERM + 1);
        assertThat(heldPoll.get(5, TimeUnit.SECONDS)).isInstanceOf(Response.Lease.class);
        assertThat(table.epoch()).isNotEqualTo(lb.epoch());
        assertThat(reply).as("held for the new term's grace").isNotDone();
        reply.get(10, TimeUnit.SECONDS);
        Response.Lease after = (Response.Lease) table.poll(new Request.LeasePoll(b, lb.epoch(), lb.seq(), 0), TERM + 1)
                .join();
        assertThat(after.seq()).isEqualTo(-1);
    }

    /**
     * A poll held when this member starts a new term (re-elected while clients still polled it) is
     * told that its session is gone, not the session's old number under the new epoch: numbers
     * start from 1 again, and a client told the old, higher number would take the new session's
     * numbers up to it as acknowledged already, and acknowledge them without dropping its cache.
     */
    @Test
    void aPollHeldWhenANewTermStartsIsToldItsSessionIsGone() throws Exception {
        pastGrace();
        Response.Lease lb = grant(b);
        for (int i = 0; i < 5; i++) {
            table.afterMutation(a, TERM);
        }
        Response.Lease told = (Response.Lease) table.poll(new Request.LeasePoll(b, lb.epoch(), lb.seq(), 0), TERM)
                .join();
        assertThat(told.seq()).isEqualTo(lb.seq() + 5);
        CompletableFuture<Response> heldPoll =
                table.poll(new Request.LeasePoll(b, told.epoch(), told.seq(), 5_000), TERM);
        assertThat(heldPoll).isNotDone();

        assertThat(table.leading(TERM + 1).get(5, TimeUnit.SECONDS)).isTrue();
        Response.Lease answer = (Response.Lease) heldPoll.get(5, TimeUnit.SECONDS);
        assertThat(answer.epoch()).isEqualTo(table.epoch()).isNotEqualTo(lb.epoch());
        assertThat(answer.seq()).as("the session is gone in the new term").isEqualTo(-1);
        Response.Lease renewed = (Response.Lease) table.renew(b, TERM + 1);
        assertThat(renewed.seq()).as("the new session's first number").isEqualTo(1);
    }

    @Test
    void anAcknowledgementFromAnotherEpochCountsForNothing() throws Exception {
        pastGrace();
        Response.Lease lb = grant(b);
        CompletableFuture<Void> reply = table.afterMutation(a, TERM);
        table.poll(new Request.LeasePoll(b, lb.epoch() + 1, Long.MAX_VALUE, 0), TERM)
                .join();
        assertThat(reply).isNotDone();
        table.poll(new Request.LeasePoll(b, lb.epoch(), lb.seq() + 1, 0), TERM).join();
        reply.get(5, TimeUnit.SECONDS);
    }

    @Test
    void aPollWithNothingNewIsAnsweredAfterItsWait() throws Exception {
        pastGrace();
        Response.Lease lb = grant(b);
        long started = System.nanoTime();
        Response.Lease r = (Response.Lease) table.poll(new Request.LeasePoll(b, lb.epoch(), lb.seq(), 100), TERM)
                .get(5, TimeUnit.SECONDS);
        assertThat(System.nanoTime() - started).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(100));
        assertThat(r.seq()).isEqualTo(lb.seq());
    }

    @Test
    void theGraceOfATermRunsFromTheElectionNotFromItsFirstMutation() throws Exception {
        AtomicLong now = new AtomicLong(1_000_000_000L);
        try (LeaseTable t = new LeaseTable(LEASE_MILLIS, now::get)) {
            assertThat(t.leading(TERM).get(5, TimeUnit.SECONDS)).isTrue();
            long epoch = t.epoch();
            assertThat(epoch).as("the term started at the election").isNotZero();
            assertThat(t.afterMutation(null, TERM)).as("held during the grace").isNotDone();
            now.addAndGet(TimeUnit.MILLISECONDS.toNanos(LEASE_MILLIS + LeaseTable.MARGIN_MILLIS));
            // a lease + margin after the election: the first mutation of the term is not held again
            assertThat(t.afterMutation(null, TERM)).isDone();
            assertThat(t.epoch()).isEqualTo(epoch);
        }
    }

    @Test
    void withoutTheElectionNoticeTheGraceRunsFromTheFirstUse() throws Exception {
        AtomicLong now = new AtomicLong(1_000_000_000L);
        try (LeaseTable t = new LeaseTable(LEASE_MILLIS, now::get)) {
            now.addAndGet(TimeUnit.MILLISECONDS.toNanos(LEASE_MILLIS + LeaseTable.MARGIN_MILLIS));
            assertThat(t.afterMutation(null, TERM)).isNotDone();
        }
    }

    @Test
    void aStaleOrRepeatedElectionNoticeChangesNothing() throws Exception {
        pastGrace();
        Response.Lease lb = grant(b);
        assertThat(table.leading(TERM).get(5, TimeUnit.SECONDS)).isFalse();
        assertThat(table.leading(TERM - 1).get(5, TimeUnit.SECONDS)).isFalse();
        assertThat(table.epoch()).isEqualTo(lb.epoch());
        assertThat(table.sessions()).isEqualTo(1);
        assertThat(((Response.Lease) table.renew(b, TERM)).grantedMillis()).isEqualTo(LEASE_MILLIS);
    }

    @Test
    void aMutationOfAnOlderTermRevokesTheCurrentSessionsAndStartsNothing() throws Exception {
        pastGrace();
        Response.Lease lb = grant(b);
        CompletableFuture<Void> reply = table.afterMutation(a, TERM - 1);
        assertThat(table.epoch()).as("no new epoch").isEqualTo(lb.epoch());
        assertThat(table.revocations()).isEqualTo(1);
        assertThat(reply).as("held until b dropped its cache").isNotDone();
        Response.Lease told = (Response.Lease) table.poll(new Request.LeasePoll(b, lb.epoch(), lb.seq(), 0), TERM)
                .join();
        assertThat(told.seq()).isGreaterThan(lb.seq());
        table.poll(new Request.LeasePoll(b, told.epoch(), told.seq(), 0), TERM).join();
        reply.get(5, TimeUnit.SECONDS);
    }

    @Test
    void anElectionNoticeAfterCloseIsIgnored() throws Exception {
        table.close();
        assertThat(table.leading(TERM).get(5, TimeUnit.SECONDS)).isFalse();
        assertThat(table.epoch()).isZero();
    }
}
