package io.holdfast.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.testing.TestSeed;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link StripeLayout} and {@link StripedDevice}: the RAID-0 mapping against a flat model. */
class StripedDeviceTest {
    private static final int UNIT = 64 << 10;

    /** A member in memory: bytes, with a hole map at 4 KiB granularity, counting flushes. */
    static final class MemoryDevice implements BlockDevice {
        final byte[] data;
        final boolean[] allocated;
        int flushes;
        boolean closed;

        MemoryDevice(long size) {
            data = new byte[(int) size];
            allocated = new boolean[(int) (size / 4096)];
        }

        @Override
        public String name() {
            return "mem";
        }

        @Override
        public long size() {
            return data.length;
        }

        @Override
        public boolean readOnly() {
            return false;
        }

        @Override
        public void read(ByteBuffer dst, long offset) {
            dst.put(data, (int) offset, dst.remaining());
        }

        @Override
        public void write(ByteBuffer src, long offset) {
            int n = src.remaining();
            src.get(data, (int) offset, n);
            mark(offset, n, true);
        }

        private void mark(long offset, long length, boolean value) {
            for (long b = offset / 4096; b * 4096 < offset + length; b++) {
                allocated[(int) b] = value;
            }
        }

        @Override
        public void flush() {
            flushes++;
        }

        @Override
        public void trim(long offset, long length) {
            Arrays.fill(data, (int) offset, (int) (offset + length), (byte) 0);
            mark(offset, length, false); // tests trim whole 4 KiB blocks only
        }

        @Override
        public boolean zero(long offset, long length, boolean mayDeallocate, boolean fastOnly) {
            if (fastOnly && !mayDeallocate) {
                return false;
            }
            trim(offset, length);
            return true;
        }

        @Override
        public List<Extent> extents(long offset, long length, int maxExtents) {
            List<Extent> out = new ArrayList<>();
            long o = offset;
            while (o < offset + length && out.size() < maxExtents) {
                boolean a = allocated[(int) (o / 4096)];
                long end = Math.min(offset + length, (o / 4096 + 1) * 4096);
                while (end < offset + length && allocated[(int) (end / 4096)] == a) {
                    end = Math.min(offset + length, end + 4096);
                }
                out.add(new Extent(end - o, !a, !a));
                o = end;
            }
            return out;
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    private static StripeLayout layout(long size, int members) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < members; i++) {
            names.add("v" + i + "/disk.img.stripe" + i);
        }
        return new StripeLayout(size, UNIT, names);
    }

    private static List<MemoryDevice> members(StripeLayout l) {
        List<MemoryDevice> out = new ArrayList<>();
        for (int i = 0; i < l.members().size(); i++) {
            out.add(new MemoryDevice(l.memberSize()));
        }
        return out;
    }

    @Test
    void unitsGoRoundRobinOverTheMembers() throws IOException {
        StripeLayout l = layout(10L * UNIT + 100, 3);
        assertThat(l.memberSize())
                .as("4 rows of units cover 10 units + 100 bytes")
                .isEqualTo(4L * UNIT);
        assertThat(l.pieces(UNIT - 10, 20))
                .containsExactly(new StripeLayout.Piece(0, UNIT - 10, 10), new StripeLayout.Piece(1, 0, 10));
        assertThat(l.pieces(7L * UNIT + 5, 10)).containsExactly(new StripeLayout.Piece(1, 2L * UNIT + 5, 10));
        List<MemoryDevice> m = members(l);
        StripedDevice d = new StripedDevice("v0/disk.img", l, List.copyOf(m));
        byte[] unit3 = new byte[UNIT];
        Arrays.fill(unit3, (byte) 3);
        d.write(ByteBuffer.wrap(unit3), 3L * UNIT);
        assertThat(Arrays.copyOfRange(m.get(0).data, UNIT, 2 * UNIT))
                .as("unit 3 is the second unit of member 0")
                .containsOnly(3);
        assertThat(m.get(1).data).containsOnly(0);
        assertThat(m.get(2).data).containsOnly(0);
        assertThatThrownBy(() -> l.pieces(l.size() - 1, 2)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void randomRequestsMatchAFlatModel() throws IOException {
        Random random = TestSeed.random();
        for (int round = 0; round < 20; round++) {
            int n = 2 + random.nextInt(4);
            long size = (long) UNIT * (1 + random.nextInt(4 * n)) + random.nextInt(UNIT);
            StripeLayout l = layout(size, n);
            List<MemoryDevice> m = members(l);
            StripedDevice d = new StripedDevice("s", l, List.copyOf(m));
            byte[] model = new byte[(int) size];
            for (int op = 0; op < 200; op++) {
                long off = random.nextLong(size);
                int len = (int) Math.min(size - off, 1 + random.nextInt(3 * UNIT));
                switch (random.nextInt(4)) {
                    case 0, 1 -> {
                        byte[] b = new byte[len];
                        random.nextBytes(b);
                        d.write(ByteBuffer.wrap(b), off);
                        System.arraycopy(b, 0, model, (int) off, len);
                    }
                    case 2 -> {
                        // whole 4 KiB blocks, as the volume punches them
                        long a = off / 4096 * 4096;
                        long e = Math.min(size / 4096 * 4096, (off + len) / 4096 * 4096);
                        if (e > a) {
                            assertThat(d.zero(a, e - a, true, true)).isTrue();
                            Arrays.fill(model, (int) a, (int) e, (byte) 0);
                        }
                    }
                    default -> {
                        ByteBuffer got = ByteBuffer.allocate(len);
                        d.read(got, off);
                        assertThat(got.position()).isEqualTo(len);
                        assertThat(got.array())
                                .as("round %d op %d: read %d + %d", round, op, off, len)
                                .isEqualTo(Arrays.copyOfRange(model, (int) off, (int) off + len));
                    }
                }
            }
            ByteBuffer all = ByteBuffer.allocate((int) size);
            d.read(all, 0);
            assertThat(all.array()).isEqualTo(model);
            // extents cover the range exactly, and report data wherever the model has non-zero bytes
            long covered = 0;
            for (BlockDevice.Extent e : d.extents(0, size, Integer.MAX_VALUE)) {
                if (e.hole()) {
                    for (long i = covered; i < covered + e.length(); i++) {
                        assertThat(model[(int) i]).as("byte %d in a hole", i).isZero();
                    }
                }
                covered += e.length();
            }
            assertThat(covered).isEqualTo(size);
        }
    }

    @Test
    void extentsStopAtTheLimitWithoutGapsAndMergeAcrossUnits() throws IOException {
        StripeLayout l = layout(8L * UNIT, 2);
        List<MemoryDevice> m = members(l);
        StripedDevice d = new StripedDevice("s", l, List.copyOf(m));
        d.write(ByteBuffer.wrap(new byte[2 * UNIT]), 0); // units 0 and 1: data on both members
        List<BlockDevice.Extent> all = d.extents(0, l.size(), 100);
        assertThat(all)
                .containsExactly(
                        new BlockDevice.Extent(2L * UNIT, false, false), new BlockDevice.Extent(6L * UNIT, true, true));
        assertThat(d.extents(0, l.size(), 1)).containsExactly(new BlockDevice.Extent(2L * UNIT, false, false));
    }

    @Test
    void flushReachesEveryMemberAndCloseClosesThem() throws IOException {
        StripeLayout l = layout(4L * UNIT, 3);
        List<MemoryDevice> m = members(l);
        StripedDevice d = new StripedDevice("s", l, List.copyOf(m));
        d.write(ByteBuffer.wrap(new byte[10]), 0);
        d.flush();
        assertThat(m).allSatisfy(x -> assertThat(x.flushes).isEqualTo(1));
        assertThat(d.zero(0, UNIT, false, true))
                .as("NO_HOLE + FAST_ZERO: not fast, nothing done")
                .isFalse();
        d.close();
        assertThat(m).allSatisfy(x -> assertThat(x.closed).isTrue());
    }

    @Test
    void descriptorsRoundTripAndBadOnesAreRefused() {
        StripeLayout l = new StripeLayout(1L << 30, 4L << 20, List.of("a/d.img.stripe0", "b/d.img.stripe1"));
        assertThat(StripeLayout.decode(l.encode())).isEqualTo(l);
        String good = new String(l.encode(), StandardCharsets.UTF_8);
        for (String bad : List.of(
                "",
                "holdfast-nbd-stripe 2\nsize 1\nunit 65536\nmember a/x\nmember b/x\n",
                good.replace("unit 4194304", "unit 4194305"),
                good.replace("unit 4194304", "unit 1024"),
                good.replace("size 1073741824", "size -1"),
                good.replace("size 1073741824", "size x"),
                good + "size 5\n",
                good + "color blue\n",
                good.replace("member b/d.img.stripe1", "member a/d.img.stripe0"),
                good.replace("member b/d.img.stripe1\n", ""),
                good.replace("member b/d.img.stripe1", "member b/../x"),
                good.replace("size 1073741824\n", ""))) {
            assertThatThrownBy(() -> StripeLayout.decode(bad.getBytes(StandardCharsets.UTF_8)))
                    .as(bad)
                    .isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> StripeLayout.decode(new byte[StripeLayout.MAX_DESCRIPTOR_BYTES + 1]))
                .hasMessageContaining("at most");
        assertThatThrownBy(() -> StripeLayout.decode(new byte[] {(byte) 0xff, (byte) 0xfe}))
                .hasMessageContaining("UTF-8");
        StringBuilder many = new StringBuilder(StripeLayout.MAGIC + "\nsize 1\nunit 65536\n");
        for (int i = 0; i < 17; i++) {
            many.append("member v/x").append(i).append('\n');
        }
        assertThatThrownBy(() -> StripeLayout.decode(many.toString().getBytes(StandardCharsets.UTF_8)))
                .hasMessageContaining("over 16");
    }
}
