package io.holdfast.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * An export striped over several member devices as a {@link StripeLayout} says (RAID-0): every
 * READ, WRITE, TRIM, WRITE_ZEROES and BLOCK_STATUS is cut at stripe-unit boundaries and each
 * piece goes to its member, in order; FLUSH flushes every member and reports the first failure
 * after trying all, so it returns only when every write answered before it is durable on every
 * volume. The members are shared (leased) images, so connections to one striped export share
 * their durability point as with a single image.
 *
 * <p>A failure of a piece fails the request; pieces done before it stay done (as a short write
 * on a disk would: the client's error tells it the range is undefined). WRITE_ZEROES with
 * {@code fastOnly} asks the first piece first: the members are the same kind of device, so if
 * that one cannot be fast none can, and nothing was changed. Thread-safe as the members are.
 */
final class StripedDevice implements BlockDevice {
    private final String name;
    private final StripeLayout layout;
    private final List<BlockDevice> members;

    /**
     * @param members the open members, in layout order; closed with this device
     * @throws IllegalArgumentException if there are not as many as the layout names
     */
    StripedDevice(String name, StripeLayout layout, List<BlockDevice> members) {
        if (members.size() != layout.members().size()) {
            throw new IllegalArgumentException(
                    "stripe of " + layout.members().size() + " members opened with " + members.size());
        }
        this.name = name;
        this.layout = layout;
        this.members = List.copyOf(members);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long size() {
        return layout.size();
    }

    @Override
    public boolean readOnly() {
        for (BlockDevice m : members) {
            if (m.readOnly()) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void read(ByteBuffer dst, long offset) throws IOException {
        for (StripeLayout.Piece p : layout.pieces(offset, dst.remaining())) {
            ByteBuffer slice = dst.slice(dst.position(), (int) p.length());
            members.get(p.member()).read(slice, p.memberOffset());
            dst.position(dst.position() + (int) p.length());
        }
    }

    @Override
    public void write(ByteBuffer src, long offset) throws IOException {
        for (StripeLayout.Piece p : layout.pieces(offset, src.remaining())) {
            ByteBuffer slice = src.slice(src.position(), (int) p.length());
            members.get(p.member()).write(slice, p.memberOffset());
            src.position(src.position() + (int) p.length());
        }
    }

    @Override
    public void flush() throws IOException {
        onEveryMember(BlockDevice::flush);
    }

    @Override
    public void trim(long offset, long length) throws IOException {
        for (StripeLayout.Piece p : layout.pieces(offset, length)) {
            members.get(p.member()).trim(p.memberOffset(), p.length());
        }
    }

    @Override
    public boolean zero(long offset, long length, boolean mayDeallocate, boolean fastOnly) throws IOException {
        boolean first = true;
        for (StripeLayout.Piece p : layout.pieces(offset, length)) {
            boolean done = members.get(p.member()).zero(p.memberOffset(), p.length(), mayDeallocate, fastOnly);
            if (!done) {
                if (first) {
                    return false; // nothing changed: the members are alike, none would be fast
                }
                throw new IOException("zeroing was fast on one stripe member and not on another");
            }
            first = false;
        }
        return true;
    }

    @Override
    public List<Extent> extents(long offset, long length, int maxExtents) throws IOException {
        List<Extent> out = new ArrayList<>();
        for (StripeLayout.Piece p : layout.pieces(offset, length)) {
            List<Extent> part = members.get(p.member()).extents(p.memberOffset(), p.length(), maxExtents);
            long covered = 0;
            for (Extent e : part) {
                long len = Math.min(e.length(), p.length() - covered);
                if (len <= 0) {
                    break;
                }
                covered += len;
                Extent last = out.isEmpty() ? null : out.getLast();
                if (last != null && last.hole() == e.hole() && last.zero() == e.zero()) {
                    out.set(out.size() - 1, new Extent(last.length() + len, e.hole(), e.zero()));
                } else if (out.size() == maxExtents) {
                    return out;
                } else {
                    out.add(new Extent(len, e.hole(), e.zero()));
                }
            }
            if (covered < p.length()) {
                return out; // the member stopped at its limit: the next piece would leave a gap
            }
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        onEveryMember(BlockDevice::close);
    }

    @FunctionalInterface
    private interface MemberAction {
        void run(BlockDevice member) throws IOException;
    }

    /** Runs {@code action} on every member, even after one failed; throws the first failure, the rest suppressed. */
    private void onEveryMember(MemberAction action) throws IOException {
        IOException first = null;
        for (BlockDevice m : members) {
            try {
                action.run(m);
            } catch (IOException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    @Override
    public String toString() {
        return "striped export " + name + " over " + layout.members();
    }
}
