package io.holdfast.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server's protocol handling, driven over a loopback socket by a hand-written client that
 * also sends what no real client would: malformed options, oversized lengths, unknown commands
 * and flags, garbage. After each misbehaviour the test checks what the protocol prescribes (an
 * error reply and a connection that goes on, or a closed connection) and that the server still
 * serves the next client.
 */
class NbdServerTest {
    private static final int SIZE = 1 << 20;

    @TempDir
    Path dir;

    private NbdServer server;

    @BeforeEach
    void start() throws IOException {
        Files.write(dir.resolve("disk"), new byte[SIZE]);
        server = NbdServer.start(
                NbdServer.Config.defaults(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                        .withHandshakeTimeout(Duration.ofSeconds(2))
                        .withMaxConnections(8),
                new LocalExports(dir, false));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private RawClient client() throws IOException {
        return new RawClient((InetSocketAddress) server.address());
    }

    /**
     * The server's side of a connection has TCP keepalive with the gateway's idle time, as the
     * kernel reports it ({@code ss -o}: {@code timer:(keepalive,59sec,0)}; without the option
     * there is no keepalive timer, and with the kernel's default idle time it shows minutes).
     */
    @Test
    void connectionsHaveTcpKeepalive() throws Exception {
        assumeTrue(NbdToolsTest.installed("ss"), "ss (iproute2) is not installed");
        try (RawClient c = client().greet()) {
            c.go("disk");
            // while a reply is unacknowledged the retransmission timer shows instead: wait for a quiet line
            Pattern keepalive = Pattern.compile("timer:\\(keepalive,[0-9.]+(ms|sec),");
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            String out;
            do {
                out = NbdToolsTest.run("ss", "-tnoH", "state", "established", "( sport = :" + server.port() + " )");
            } while (!keepalive.matcher(out).find() && System.nanoTime() < deadline);
            assertThat(out).as("ss output").containsPattern(keepalive);
        }
        serverStillServes();
    }

    /** A fresh client gets through the handshake and reads: the server is still fine. */
    private void serverStillServes() throws IOException {
        try (RawClient c = client().greet()) {
            long[] export = c.go("disk");
            assertThat(export[0]).isEqualTo(SIZE);
            c.request(0, Nbd.CMD_READ, 7, 0, 512, null);
            RawClient.Simple r = c.simple(512);
            assertThat(r.error()).isZero();
            assertThat(r.cookie()).isEqualTo(7);
        }
    }

    @Test
    void goReportsTheSizeFlagsAndBlockSizes() throws IOException {
        try (RawClient c = client().greet()) {
            assertThat(c.handshakeFlags).isEqualTo(Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES);
            c.option(Nbd.OPT_GO, RawClient.goData("disk", Nbd.INFO_BLOCK_SIZE, Nbd.INFO_NAME));
            List<RawClient.OptReply> replies = c.replies();
            assertThat(replies.getLast().type()).isEqualTo(Nbd.REP_ACK);
            boolean sawExport = false;
            boolean sawBlockSize = false;
            for (RawClient.OptReply r : replies.subList(0, replies.size() - 1)) {
                assertThat(r.type()).isEqualTo(Nbd.REP_INFO);
                ByteBuffer d = ByteBuffer.wrap(r.data());
                switch (d.getShort()) {
                    case Nbd.INFO_EXPORT -> {
                        sawExport = true;
                        assertThat(d.getLong()).isEqualTo(SIZE);
                        int flags = Short.toUnsignedInt(d.getShort());
                        assertThat(flags & Nbd.FLAG_HAS_FLAGS).isNotZero();
                        assertThat(flags & Nbd.FLAG_SEND_FLUSH).isNotZero();
                        assertThat(flags & Nbd.FLAG_CAN_MULTI_CONN).isNotZero();
                        assertThat(flags & Nbd.FLAG_READ_ONLY).isZero();
                        assertThat(flags & Nbd.FLAG_SEND_DF)
                                .as("DF without structured replies")
                                .isZero();
                    }
                    case Nbd.INFO_BLOCK_SIZE -> {
                        sawBlockSize = true;
                        assertThat(d.getInt()).isEqualTo(1);
                        assertThat(d.getInt()).isEqualTo(4096);
                        assertThat(d.getInt()).isEqualTo(32 << 20);
                    }
                    case Nbd.INFO_NAME ->
                        assertThat(new String(d.array(), 2, d.remaining(), StandardCharsets.UTF_8))
                                .isEqualTo("disk");
                    default -> {}
                }
            }
            assertThat(sawExport).isTrue();
            assertThat(sawBlockSize).isTrue();
            c.request(0, Nbd.CMD_DISC, 1, 0, 0, null);
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void writesAreReadBackAndFlushSucceeds() throws IOException {
        byte[] data = new byte[8192];
        new Random(1).nextBytes(data);
        try (RawClient c = client().greet()) {
            c.go("disk");
            c.request(Nbd.CMD_FLAG_FUA, Nbd.CMD_WRITE, 1, 4096, data.length, data);
            assertThat(c.simple(0).error()).isZero();
            c.request(0, Nbd.CMD_FLUSH, 2, 0, 0, null);
            assertThat(c.simple(0).error()).isZero();
            c.request(0, Nbd.CMD_READ, 3, 4096, data.length, null);
            RawClient.Simple r = c.simple(data.length);
            assertThat(r.cookie()).isEqualTo(3);
            assertThat(r.data()).isEqualTo(data);
        }
        byte[] onDisk = Files.readAllBytes(dir.resolve("disk"));
        assertThat(Arrays.copyOfRange(onDisk, 4096, 4096 + data.length)).isEqualTo(data);
    }

    @Test
    void requestsOutOfBoundsOrWithBadFlagsGetErrorsAndTheConnectionGoesOn() throws IOException {
        try (RawClient c = client().greet()) {
            c.go("disk");
            c.request(0, Nbd.CMD_READ, 1, SIZE - 10, 20, null);
            assertThat(c.simple(20).error()).isEqualTo(Nbd.EINVAL);
            c.request(0, Nbd.CMD_WRITE, 2, SIZE - 1, 2, new byte[2]);
            assertThat(c.simple(0).error()).isEqualTo(Nbd.ENOSPC);
            c.request(0, Nbd.CMD_READ, 3, -1L, 1, null); // offset 2^64 - 1
            assertThat(c.simple(1).error()).isEqualTo(Nbd.EINVAL);
            c.request(0, 42, 4, 0, 0, null);
            assertThat(c.simple(0).error()).as("unknown command").isEqualTo(Nbd.EINVAL);
            c.request(1 << 9, Nbd.CMD_READ, 5, 0, 1, null);
            assertThat(c.simple(1).error()).as("unknown flag").isEqualTo(Nbd.EINVAL);
            c.request(Nbd.CMD_FLAG_DF, Nbd.CMD_READ, 6, 0, 1, null);
            assertThat(c.simple(1).error()).as("DF without structured replies").isEqualTo(Nbd.EINVAL);
            c.request(0, Nbd.CMD_READ, 7, 0, (33L << 20), null);
            assertThat(c.simple(0).error()).as("read over 32 MiB").isEqualTo(Nbd.EINVAL);
            c.request(0, Nbd.CMD_BLOCK_STATUS, 8, 0, 512, null);
            assertThat(c.simple(0).error()).as("block status without a context").isEqualTo(Nbd.EINVAL);
            c.request(0, Nbd.CMD_FLUSH, 9, 1, 0, null);
            assertThat(c.simple(0).error()).as("flush with an offset").isEqualTo(Nbd.EINVAL);
            c.request(Nbd.CMD_FLAG_FAST_ZERO, Nbd.CMD_WRITE_ZEROES, 10, 0, 4096, null);
            assertThat(c.simple(0).error()).as("fast zero on a local file").isEqualTo(Nbd.ENOTSUP);
            c.request(0, Nbd.CMD_READ, 11, 0, 4, null);
            RawClient.Simple ok = c.simple(4);
            assertThat(ok.error()).isZero();
            assertThat(ok.cookie()).isEqualTo(11);
        }
    }

    @Test
    void aWriteOverThirtyTwoMebibytesIsSkippedAndRefused() throws IOException {
        int len = (32 << 20) + 4096;
        try (RawClient c = client().greet()) {
            c.go("disk");
            c.request(0, Nbd.CMD_WRITE, 1, 0, len, new byte[len]);
            assertThat(c.simple(0).error()).isEqualTo(Nbd.EINVAL);
            c.request(0, Nbd.CMD_READ, 2, 0, 16, null);
            RawClient.Simple r = c.simple(16);
            assertThat(r.error()).isZero();
            assertThat(r.cookie()).isEqualTo(2);
        }
    }

    @Test
    void structuredRepliesCarryDataErrorsAndMessages() throws IOException {
        try (RawClient c = client().greet()) {
            c.option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
            assertThat(c.reply().type()).isEqualTo(Nbd.REP_ACK);
            long[] export = c.go("disk");
            assertThat(export[1] & Nbd.FLAG_SEND_DF).isNotZero();
            byte[] data = "hello, block device".getBytes(StandardCharsets.UTF_8);
            c.request(0, Nbd.CMD_WRITE, 1, 100, data.length, data);
            RawClient.Chunk done = c.chunk();
            assertThat(done.type()).isEqualTo(Nbd.REPLY_TYPE_NONE);
            assertThat(done.flags()).isEqualTo(Nbd.REPLY_FLAG_DONE);
            c.request(Nbd.CMD_FLAG_DF, Nbd.CMD_READ, 2, 100, data.length, null);
            RawClient.Chunk read = c.chunk();
            assertThat(read.type()).isEqualTo(Nbd.REPLY_TYPE_OFFSET_DATA);
            assertThat(read.flags() & Nbd.REPLY_FLAG_DONE).isNotZero();
            ByteBuffer p = ByteBuffer.wrap(read.payload());
            assertThat(p.getLong()).isEqualTo(100);
            assertThat(Arrays.copyOfRange(read.payload(), 8, read.payload().length))
                    .isEqualTo(data);
            c.request(0, Nbd.CMD_READ, 3, SIZE, 1, null);
            RawClient.Chunk err = c.chunk();
            assertThat(err.type()).isEqualTo(Nbd.REPLY_TYPE_ERROR);
            assertThat(err.error()).isEqualTo(Nbd.EINVAL);
            ByteBuffer e = ByteBuffer.wrap(err.payload());
            e.getInt();
            int msgLen = Short.toUnsignedInt(e.getShort());
            assertThat(new String(err.payload(), 6, msgLen, StandardCharsets.UTF_8))
                    .contains("beyond");
        }
    }

    @Test
    void metaContextsAreListedAndSelectedAndBlockStatusAnswers() throws IOException {
        try (RawClient c = client().greet()) {
            c.option(Nbd.OPT_SET_META_CONTEXT, RawClient.metaData("disk", Nbd.BASE_ALLOCATION));
            assertThat(c.reply().type()).as("before structured replies").isEqualTo(Nbd.REP_ERR_INVALID);
            c.option(Nbd.OPT_STRUCTURED_REPLY, new byte[0]);
            assertThat(c.reply().type()).isEqualTo(Nbd.REP_ACK);
            c.option(Nbd.OPT_LIST_META_CONTEXT, RawClient.metaData("disk"));
            List<RawClient.OptReply> listed = c.replies();
            assertThat(listed).hasSize(2);
            assertThat(listed.getFirst().type()).isEqualTo(Nbd.REP_META_CONTEXT);
            assertThat(new String(
                            listed.getFirst().data(), 4, listed.getFirst().data().length - 4, StandardCharsets.UTF_8))
                    .isEqualTo(Nbd.BASE_ALLOCATION);
            c.option(Nbd.OPT_SET_META_CONTEXT, RawClient.metaData("disk", "qemu:dirty-bitmap:x", Nbd.BASE_ALLOCATION));
            List<RawClient.OptReply> set = c.replies();
            assertThat(set).extracting(RawClient.OptReply::type).containsExactly(Nbd.REP_META_CONTEXT, Nbd.REP_ACK);
            int id = ByteBuffer.wrap(set.getFirst().data()).getInt();
            c.go("disk");
            c.request(0, Nbd.CMD_BLOCK_STATUS, 5, 0, SIZE, null);
            RawClient.Chunk bs = c.chunk();
            assertThat(bs.type()).isEqualTo(Nbd.REPLY_TYPE_BLOCK_STATUS);
            ByteBuffer p = ByteBuffer.wrap(bs.payload());
            assertThat(p.getInt()).isEqualTo(id);
            assertThat(Integer.toUnsignedLong(p.getInt())).isEqualTo(SIZE); // a local file: all data
            assertThat(p.getInt()).isZero();
        }
    }

    @Test
    void malformedOptionsGetErrorRepliesAndTheHandshakeGoesOn() throws IOException {
        try (RawClient c = client().greet()) {
            c.option(99, new byte[] {1, 2, 3});
            assertThat(c.reply().type()).isEqualTo(Nbd.REP_ERR_UNSUP);
            c.option(Nbd.OPT_STARTTLS, new byte[0]);
            assertThat(c.reply().type()).isEqualTo(Nbd.REP_ERR_POLICY);
            c.option(Nbd.OPT_LIST, new byte[] {0});
            assertThat(c.reply().type()).as("LIST with data").isEqualTo(Nbd.REP_ERR_INVALID);
            c.option(
                    Nbd.OPT_GO,
                    ByteBuffer.allocate(6).putInt(1000).putShort((short) 0).array());
            assertThat(c.reply().type()).as("name longer than the data").isEqualTo(Nbd.REP_ERR_INVALID);
            c.option(
                    Nbd.OPT_GO,
                    ByteBuffer.allocate(8)
                            .putInt(0)
                            .putShort((short) 0)
                            .putShort((short) 0)
                            .array());
            assertThat(c.reply().type()).as("bytes left over").isEqualTo(Nbd.REP_ERR_INVALID);
            byte[] notUtf8 = {0, 0, 0, 2, (byte) 0xC3, (byte) 0x28, 0, 0};
            c.option(Nbd.OPT_GO, notUtf8);
            assertThat(c.reply().type()).as("name not UTF-8").isEqualTo(Nbd.REP_ERR_INVALID);
            c.option(Nbd.OPT_GO, RawClient.goData("no-such-disk"));
            RawClient.OptReply unknown = c.reply();
            assertThat(unknown.type()).isEqualTo(Nbd.REP_ERR_UNKNOWN);
            assertThat(unknown.text()).contains("no-such-disk");
            c.option(Nbd.OPT_INFO, new byte[200_000]);
            assertThat(c.reply().type()).as("option data over 64 KiB").isEqualTo(Nbd.REP_ERR_TOO_BIG);
            c.option(Nbd.OPT_LIST, new byte[0]);
            List<RawClient.OptReply> list = c.replies();
            assertThat(list).extracting(RawClient.OptReply::type).containsExactly(Nbd.REP_SERVER, Nbd.REP_ACK);
            assertThat(c.go("disk")[0]).isEqualTo(SIZE);
        }
    }

    @Test
    void abortIsAcknowledgedAndClosed() throws IOException {
        try (RawClient c = client().greet()) {
            c.option(Nbd.OPT_ABORT, new byte[0]);
            assertThat(c.reply().type()).isEqualTo(Nbd.REP_ACK);
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void violationsCloseTheConnectionButNotTheServer() throws IOException {
        try (RawClient c = client().greet(1 << 7)) {
            assertThat(c.closedByServer()).as("unknown client flag").isTrue();
        }
        try (RawClient c = client().greet()) {
            c.out.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            c.out.flush();
            assertThat(c.closedByServer()).as("garbage instead of an option").isTrue();
        }
        try (RawClient c = client().greet()) {
            c.go("disk");
            byte[] junk = new byte[4096];
            new Random(2).nextBytes(junk);
            c.out.write(junk);
            c.out.flush();
            assertThat(c.closedByServer()).as("garbage instead of a request").isTrue();
        }
        try (RawClient c = client().greet()) {
            c.out.writeLong(Nbd.IHAVEOPT);
            c.out.writeInt(Nbd.OPT_GO);
            c.out.writeInt(-1); // 4 GiB of option data announced, then the client goes away
            c.out.flush();
        }
        try (RawClient c = client()) {
            // says nothing at all: the handshake timeout (2 s here) ends it
            assertThat(c.in.readLong()).isEqualTo(Nbd.INIT_PASSWD);
            assertThat(c.closedByServer()).isTrue();
        }
        serverStillServes();
    }

    @Test
    void exportNameEntersTransmissionOrClosesForAnUnknownExport() throws IOException {
        try (RawClient c = client().greet(Nbd.FLAG_C_FIXED_NEWSTYLE)) {
            c.option(Nbd.OPT_EXPORT_NAME, "disk".getBytes(StandardCharsets.UTF_8));
            assertThat(c.in.readLong()).isEqualTo(SIZE);
            c.in.readUnsignedShort();
            c.in.readFully(new byte[124]); // no NO_ZEROES: the zeros come
            c.request(0, Nbd.CMD_READ, 1, 0, 8, null);
            assertThat(c.simple(8).error()).isZero();
        }
        try (RawClient c = client().greet()) {
            c.option(Nbd.OPT_EXPORT_NAME, "nope".getBytes(StandardCharsets.UTF_8));
            assertThat(c.closedByServer()).isTrue();
        }
        serverStillServes();
    }

    @Test
    void readOnlyExportsRefuseWrites() throws IOException {
        try (NbdServer ro = NbdServer.start(
                        NbdServer.Config.defaults(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)),
                        new LocalExports(dir, true));
                RawClient c = new RawClient((InetSocketAddress) ro.address()).greet()) {
            long[] export = c.go("disk");
            assertThat(export[1] & Nbd.FLAG_READ_ONLY).isNotZero();
            c.request(0, Nbd.CMD_WRITE, 1, 0, 4, new byte[] {1, 2, 3, 4});
            assertThat(c.simple(0).error()).isEqualTo(Nbd.EPERM);
            c.request(0, Nbd.CMD_TRIM, 2, 0, 4096, null);
            assertThat(c.simple(0).error()).isEqualTo(Nbd.EPERM);
            c.request(0, Nbd.CMD_WRITE_ZEROES, 3, 0, 4096, null);
            assertThat(c.simple(0).error()).isEqualTo(Nbd.EPERM);
        }
        assertThat(Files.readAllBytes(dir.resolve("disk"))).isEqualTo(new byte[SIZE]);
    }

    @Test
    void manyRequestsInFlightAreAllAnswered() throws IOException {
        try (RawClient c = client().greet()) {
            c.go("disk");
            int n = 500;
            for (int i = 0; i < n; i++) {
                byte[] d = new byte[512];
                Arrays.fill(d, (byte) i);
                c.request(0, Nbd.CMD_WRITE, i, (long) i * 512, 512, d);
            }
            boolean[] seen = new boolean[n];
            for (int i = 0; i < n; i++) {
                RawClient.Simple r = c.simple(0);
                assertThat(r.error()).isZero();
                seen[(int) r.cookie()] = true;
            }
            for (boolean s : seen) {
                assertThat(s).isTrue();
            }
            c.request(0, Nbd.CMD_READ, 9999, 499 * 512, 512, null);
            byte[] expected = new byte[512];
            Arrays.fill(expected, (byte) 499);
            assertThat(c.simple(512).data()).isEqualTo(expected);
        }
    }
}
