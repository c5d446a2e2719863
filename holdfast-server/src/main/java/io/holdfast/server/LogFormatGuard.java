package io.holdfast.server;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.LogFormat;
import io.holdfast.protocol.LogFormatException;
import java.io.IOException;
import java.util.Collection;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.TransferLeadershipRequest;
import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What one member of a Raft group does about log formats ({@link LogFormat}): the check a
 * leader makes before it logs an entry, and the halt of a member that meets an entry it cannot
 * decode (or cannot apply at all: a brick that fails mid-apply halts the member the same way).
 *
 * <ul>
 *   <li><b>Before logging</b> ({@link #checkMembers}): an entry of log format {@code f > 1} is
 *       logged only if this member and every member of the group's Raft configuration support
 *       {@code f}, per what they advertised in the cluster map; otherwise ENOTSUP (EOPNOTSUPP)
 *       naming the first member that does not. A member that has not advertised counts as
 *       supporting format 1 only.
 *   <li><b>At apply time</b> ({@link #halt}): an entry this member cannot decode (too new, an
 *       unknown kind, corrupt) stops this member's applying for good, until it is restarted with
 *       code that reads it. The entry is never skipped: a member that skipped it would diverge
 *       from those that applied it. The log is kept (no snapshot covers the entry), reads are
 *       refused with {@link #refusal}, and a halted leader steps down so the group keeps
 *       serving from members that can apply.
 * </ul>
 *
 * <p>Thread-safe: the halt is set once, on the state machine's updater thread, and read anywhere.
 */
public final class LogFormatGuard {
    /** How a halted member's refusals begin (the CLI recognises a halt by it). */
    public static final String HALTED = "HALTED: ";

    private static final Logger LOG = LoggerFactory.getLogger(LogFormatGuard.class);

    /**
     * Where a member stopped.
     *
     * @param index the log index of the entry it cannot apply
     * @param reason what it needs, for people ("entry 1234 has log format 3, this node supports 1..2: upgrade this
     * node")
     */
    public record Halt(long index, String reason) {}

    private final Supplier<String> resource;
    private final int maxFormat;
    private volatile Halt halt;

    /**
     * @param resource how messages name the group ({@code "volume mail (group 6f0c…)"}, {@code "cluster group"}),
     *     asked when a message is made (the volume's name may be learnt after start-up)
     * @param maxFormat the newest log format this member reads
     */
    public LogFormatGuard(Supplier<String> resource, int maxFormat) {
        this.resource = resource;
        this.maxFormat = maxFormat;
    }

    /** The newest log format this member reads. */
    int maxFormat() {
        return maxFormat;
    }

    /**
     * Checks, on the leader, that every member can apply an entry of log format {@code needed}.
     *
     * @param what the entry, for the message ({@code "Mknod"})
     * @param self this member's address
     * @param members the addresses of the group's members (its Raft configuration)
     * @param map the cluster map this node knows, with what each node advertised
     * @throws HoldfastException ENOTSUP naming the first member (this one included) that does
     *     not support {@code needed}
     */
    public void checkMembers(int needed, String what, String self, Collection<String> members, ClusterMap map)
            throws HoldfastException {
        if (needed <= LogFormat.MIN) {
            return; // every member reads the oldest format
        }
        if (needed > maxFormat) {
            throw unsupported(
                    needed,
                    what,
                    self,
                    "this leader supports log formats " + LogFormat.range(LogFormat.MIN, maxFormat));
        }
        for (String m : members) {
            ClusterMap.NodeInfo info = map.infoOf(m);
            if (info.maxLogFormat() < needed) {
                throw unsupported(
                        needed,
                        what,
                        m,
                        info == ClusterMap.NodeInfo.UNKNOWN
                                ? "it has not advertised its log formats yet (counted as 1..1)"
                                : "it supports log formats " + info.logFormats()
                                        + (info.version().isEmpty() ? "" : " (version " + info.version() + ")"));
            }
        }
    }

    private HoldfastException unsupported(int needed, String what, String member, String why) {
        return new HoldfastException(
                Errno.ENOTSUP,
                what + " needs log format " + needed + ", which member " + member + " of the " + resource.get()
                        + " does not support: " + why
                        + "; upgrade it (holdfast cluster status shows each node's log formats)");
    }

    /**
     * Stops this member's applying at {@code index} because its code cannot decode the entry:
     * logs what it needs, remembers it, and steps down if this member leads (see {@link #halt(long,
     * String, RaftServer, RaftGroupId)}).
     */
    public Halt halt(long index, LogFormatException e, RaftServer server, RaftGroupId group) {
        String need = switch (e.reason()) {
            case TOO_NEW, UNKNOWN_KIND -> "upgrade this node";
            case TOO_OLD ->
                "this entry was written by code too old for this node to read; restore the member from a"
                        + " snapshot of a member that applied it, or run older code";
            case CORRUPT ->
                "the entry is corrupt in this member's log; replace this member"
                        + " (holdfast volume replace-replica) so it is rebuilt from the others";
        };
        String detail = e.getMessage().replaceFirst("^[A-Z]+: ", "");
        return halt(
                index,
                "cannot be applied here (" + e.reason() + "): " + detail
                        + (detail.endsWith("upgrade this node") ? "" : "; " + need),
                server,
                group);
    }

    /**
     * Stops this member's applying at {@code index}: logs why, remembers it, and asks Ratis to
     * move leadership away if this member leads. The first halt is kept; later calls change nothing.
     *
     * @param why what happened to the entry and what the operator should do, after "entry N "
     * @param server this node's Raft server, or null if it is not known (no step-down then)
     */
    public Halt halt(long index, String why, RaftServer server, RaftGroupId group) {
        synchronized (this) {
            if (halt == null) {
                halt = new Halt(index, resource.get() + ": entry " + index + " " + why);
                LOG.error("HALTED: {}. This member stops applying and refuses reads; its log is kept", halt.reason());
            }
        }
        stepDown(server, group);
        return halt;
    }

    /** The halt, if this member has stopped. */
    public Optional<Halt> halted() {
        return Optional.ofNullable(halt);
    }

    /** Why a read or a proposal is refused here, or null if this member is not halted. */
    public String refusal() {
        Halt h = halt;
        return h == null ? null : HALTED + h.reason();
    }

    /** If this member is halted and leads its group, asks Ratis to move leadership away (best effort). */
    public void stepDown(RaftServer server, RaftGroupId group) {
        if (halt == null || server == null) {
            return;
        }
        try {
            if (!server.getDivision(group).getInfo().isLeader()) {
                return;
            }
            server.transferLeadershipAsync(new TransferLeadershipRequest(
                    ClientId.randomId(), server.getId(), group, 0, null, TimeUnit.SECONDS.toMillis(10)));
            LOG.warn("{}: halted leader steps down", resource.get());
        } catch (IOException | RuntimeException ex) {
            LOG.warn("{}: halted leader could not step down: {}", resource.get(), ex.toString());
        }
    }
}
