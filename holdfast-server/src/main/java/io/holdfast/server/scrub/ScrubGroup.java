package io.holdfast.server.scrub;

import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.server.RaftServer;

/**
 * The replica group as one member's scrubber sees it: its Raft division (looked up when needed,
 * since it is created after the state machine) and the clients to the other members, which
 * follow the group's membership.
 *
 * <p>Thread-safe as far as {@link ScrubPeers} is; used by the scrubber's thread.
 */
final class ScrubGroup {
    private final Scrubber.DivisionLookup division;
    final ScrubPeers peers;

    ScrubGroup(Scrubber.DivisionLookup division, ScrubPeers peers) {
        this.division = division;
        this.peers = peers;
    }

    /**
     * This member's Raft division.
     *
     * @throws IOException if this member is not (yet, or any more) part of the group
     */
    RaftServer.Division division() throws IOException {
        return division.get();
    }

    /** The other members of the group, as this member knows it now. */
    List<RaftPeer> others() throws IOException {
        RaftServer.Division d = division.get();
        peers.use(d.getGroup());
        List<RaftPeer> out = new ArrayList<>();
        for (RaftPeer p : d.getGroup().getPeers()) {
            if (!p.getId().equals(d.getId())) {
                out.add(p);
            }
        }
        return out;
    }

    /** The other members that answer and are not quarantined. */
    List<RaftPeer> inServiceOthers() throws IOException {
        List<RaftPeer> out = new ArrayList<>();
        for (RaftPeer p : others()) {
            try {
                if (peers.ask(p, new Request.ScrubControl(Request.ScrubControl.Action.STATUS, 0))
                                instanceof Response.ScrubStatus s
                        && !s.stats().quarantined()) {
                    out.add(p);
                }
            } catch (IOException e) {
                // down: not in service
            }
        }
        return out;
    }
}
