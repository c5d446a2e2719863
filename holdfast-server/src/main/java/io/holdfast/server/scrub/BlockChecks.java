package io.holdfast.server.scrub;

import io.holdfast.common.Errno;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.storage.Brick;
import io.holdfast.storage.ScrubPass;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.ratis.protocol.RaftPeer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The block step of a pass, as the scrubber sees it: where a bad block's copies come from (every
 * other member, {@link Request.ScrubRead}; a member answers only from a copy that passes its own
 * CRC32C), and what the {@link ScrubPass} found: counted in {@link Findings}, and a block no
 * member can repair quarantines this member.
 *
 * <p>Thread-safety: called on the scrubber's thread; the counters are atomic.
 */
final class BlockChecks implements ScrubPass.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(BlockChecks.class);

    private final String brickName;
    private final ScrubGroup group;
    private final Quarantine quarantine;
    private final Findings findings;

    BlockChecks(String brickName, ScrubGroup group, Quarantine quarantine, Findings findings) {
        this.brickName = brickName;
        this.group = group;
        this.quarantine = quarantine;
        this.findings = findings;
    }

    /** The other members' copies of a block (the {@link ScrubPass.RepairSource}). */
    ScrubPass.Offers offers(long inode, long block) {
        List<byte[]> copies = new ArrayList<>();
        List<String> unreachable = new ArrayList<>();
        List<RaftPeer> others;
        try {
            others = group.others();
        } catch (IOException e) {
            return new ScrubPass.Offers(List.of(), List.of("the group (" + e.getMessage() + ")"));
        }
        for (RaftPeer p : others) {
            try {
                Response r = group.peers.ask(p, new Request.ScrubRead(inode, block));
                if (r instanceof Response.Data d && Checksums.crc32c(d.bytes()) == d.crc32c()) {
                    copies.add(d.bytes());
                } else if (r instanceof Response.Error e && e.errno() == Errno.EACCES) {
                    unreachable.add(p.getAddress() + " (" + e.message() + ")");
                }
            } catch (IOException e) {
                unreachable.add(p.getAddress());
            }
        }
        return new ScrubPass.Offers(copies, unreachable);
    }

    @Override
    public void checked(long inode, long block, int bytes) {
        findings.blocksVerified.incrementAndGet();
        findings.bytesVerified.addAndGet(bytes);
    }

    @Override
    public void bad(long inode, long block, String problem, ScrubPass.Outcome outcome, String detail) {
        findings.badBlocks.incrementAndGet();
        String what = (block == Brick.INLINE ? "inline content" : "block " + block) + " of inode " + inode;
        switch (outcome) {
            case REPAIRED -> {
                findings.repairedBlocks.incrementAndGet();
                findings.problem("repaired " + what + " from another member (" + problem + ")");
                LOG.warn("{}: repaired {} from another member ({})", brickName, what, problem);
            }
            case OVERWRITTEN ->
                LOG.info("{}: bad {} was overwritten by the volume's own writes meanwhile", brickName, what);
            case DEFERRED -> {
                findings.problem("bad " + what + " not repaired yet: " + detail);
                LOG.warn("{}: bad {} not repaired yet: {}", brickName, what, detail);
            }
            case UNREPAIRABLE -> {
                findings.unrepairableBlocks.incrementAndGet();
                quarantine.enter(what + " is corrupt (" + problem + ") and cannot be repaired: " + detail);
            }
        }
    }
}
