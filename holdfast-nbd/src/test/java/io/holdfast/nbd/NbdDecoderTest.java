package io.holdfast.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.testing.TestSeed;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link NbdDecoder} on an {@link EmbeddedChannel} (no sockets): messages split at every byte
 * boundary, option data and write payloads over the limits skipped without being held, wrong
 * magic numbers, and random bytes, which must only ever end in a {@link NbdMessage.Violation}.
 */
class NbdDecoderTest {
    /** Collects what the decoder emits and resumes it as the session would. */
    private static final class Collector extends ChannelInboundHandlerAdapter {
        final List<NbdMessage> messages = new ArrayList<>();
        final NbdDecoder decoder;
        NbdDecoder.State next = NbdDecoder.State.OPTION;

        Collector(NbdDecoder decoder) {
            this.decoder = decoder;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            messages.add((NbdMessage) msg);
            if (msg instanceof NbdMessage.ClientFlags || msg instanceof NbdMessage.Option) {
                decoder.resume(ctx, next);
            }
        }
    }

    private final NbdDecoder decoder = new NbdDecoder();
    private final Collector collector = new Collector(decoder);
    private final EmbeddedChannel channel = new EmbeddedChannel(decoder, collector);

    /** Writes {@code bytes} one at a time, running the scheduled resumes after each. */
    private void dribble(byte[] bytes) {
        for (byte b : bytes) {
            channel.writeInbound(Unpooled.wrappedBuffer(new byte[] {b}));
            channel.runPendingTasks();
        }
    }

    private static byte[] option(int option, byte[] data) {
        return ByteBuffer.allocate(16 + data.length)
                .putLong(Nbd.IHAVEOPT)
                .putInt(option)
                .putInt(data.length)
                .put(data)
                .array();
    }

    private static byte[] request(int type, long cookie, int length, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(28 + (data == null ? 0 : data.length))
                .putInt(Nbd.REQUEST_MAGIC)
                .putShort((short) 0)
                .putShort((short) type)
                .putLong(cookie)
                .putLong(4096)
                .putInt(length);
        if (data != null) {
            b.put(data);
        }
        return b.array();
    }

    @Test
    void messagesSplitAtEveryByteAreDecodedWhole() {
        dribble(new byte[] {0, 0, 0, 3});
        dribble(option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]));
        collector.next = NbdDecoder.State.TRANSMISSION;
        dribble(option(Nbd.OPT_GO, new byte[] {0, 0, 0, 1, 'x', 0, 0}));
        dribble(request(Nbd.CMD_WRITE, 9, 5, new byte[] {1, 2, 3, 4, 5}));
        dribble(request(Nbd.CMD_READ, 10, 4096, null));
        assertThat(collector.messages).hasSize(5);
        assertThat(collector.messages.get(0)).isEqualTo(new NbdMessage.ClientFlags(3));
        NbdMessage.Option go = (NbdMessage.Option) collector.messages.get(2);
        assertThat(go.option()).isEqualTo(Nbd.OPT_GO);
        assertThat(go.data().remaining()).isEqualTo(7);
        NbdMessage.Request w = (NbdMessage.Request) collector.messages.get(3);
        assertThat(w.cookie()).isEqualTo(9);
        assertThat(w.offset()).isEqualTo(4096);
        assertThat(w.data().remaining()).isEqualTo(5);
        NbdMessage.Request r = (NbdMessage.Request) collector.messages.get(4);
        assertThat(r.type()).isEqualTo(Nbd.CMD_READ);
        assertThat(r.length()).isEqualTo(4096);
        assertThat(r.data()).isNull();
    }

    @Test
    void oversizedOptionDataAndWritePayloadsAreSkippedNotHeld() {
        channel.writeInbound(Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 1}));
        channel.runPendingTasks();
        int big = Nbd.MAX_OPTION_BYTES + 1;
        channel.writeInbound(Unpooled.wrappedBuffer(option(Nbd.OPT_INFO, new byte[big])));
        channel.runPendingTasks();
        NbdMessage.Option o = (NbdMessage.Option) collector.messages.getLast();
        assertThat(o.tooBig()).isTrue();
        assertThat(o.length()).isEqualTo(big);
        collector.next = NbdDecoder.State.TRANSMISSION;
        channel.writeInbound(Unpooled.wrappedBuffer(option(Nbd.OPT_GO, new byte[] {0, 0, 0, 0, 0, 0})));
        channel.runPendingTasks();
        // a write announcing 4 GiB - 1: its header is decoded, its payload skipped as it comes
        channel.writeInbound(Unpooled.wrappedBuffer(request(Nbd.CMD_WRITE, 1, -1, null)));
        byte[] mib = new byte[1 << 20];
        for (int i = 0; i < 8; i++) {
            channel.writeInbound(Unpooled.wrappedBuffer(mib));
        }
        assertThat(decoder.state()).isEqualTo(NbdDecoder.State.SKIPPING);
        assertThat(decoder.buffered()).as("nothing held while skipping").isZero();
        assertThat(collector.messages).noneMatch(m -> m instanceof NbdMessage.Request);
    }

    @Test
    void aWrongMagicIsAViolationAndTheRestIsDiscarded() {
        channel.writeInbound(Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 1}));
        channel.runPendingTasks();
        ByteBuf junk =
                Unpooled.buffer().writeLong(0x1234).writeInt(1).writeInt(0).writeBytes(new byte[100]);
        channel.writeInbound(junk);
        assertThat(collector.messages.getLast()).isInstanceOf(NbdMessage.Violation.class);
        assertThat(decoder.state()).isEqualTo(NbdDecoder.State.BROKEN);
        int before = collector.messages.size();
        channel.writeInbound(Unpooled.wrappedBuffer(option(Nbd.OPT_LIST, new byte[0])));
        assertThat(collector.messages).hasSize(before);
    }

    @Test
    void randomBytesNeverThrowAndEndAtMostInAViolation() {
        Random random = TestSeed.random("NbdDecoderTest");
        for (int round = 0; round < 200; round++) {
            NbdDecoder d = new NbdDecoder();
            Collector c = new Collector(d);
            c.next = random.nextBoolean() ? NbdDecoder.State.OPTION : NbdDecoder.State.TRANSMISSION;
            EmbeddedChannel ch = new EmbeddedChannel(d, c);
            byte[] junk = new byte[random.nextInt(4096)];
            random.nextBytes(junk);
            int at = 0;
            while (at < junk.length) {
                int n = Math.min(junk.length - at, 1 + random.nextInt(64));
                ch.writeInbound(Unpooled.wrappedBuffer(junk, at, n));
                ch.runPendingTasks();
                at += n;
            }
            long violations = c.messages.stream()
                    .filter(m -> m instanceof NbdMessage.Violation)
                    .count();
            assertThat(violations).isLessThanOrEqualTo(1);
            if (violations == 1) {
                assertThat(c.messages.getLast()).isInstanceOf(NbdMessage.Violation.class);
            }
            ch.finishAndReleaseAll();
        }
    }
}
