package io.holdfast.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/** A hand-written NBD client over a plain socket, for tests: sends what it is told, even nonsense. */
final class RawClient implements AutoCloseable {
    Socket socket;
    DataInputStream in;
    DataOutputStream out;
    int handshakeFlags;

    RawClient(InetSocketAddress address) throws IOException {
        socket = new Socket(address.getAddress(), address.getPort());
        socket.setSoTimeout(20_000);
        in = new DataInputStream(socket.getInputStream());
        out = new DataOutputStream(socket.getOutputStream());
    }

    /** Reads the greeting and sends client flags. */
    RawClient greet(int clientFlags) throws IOException {
        assertThat(in.readLong()).isEqualTo(Nbd.INIT_PASSWD);
        assertThat(in.readLong()).isEqualTo(Nbd.IHAVEOPT);
        handshakeFlags = in.readUnsignedShort();
        out.writeInt(clientFlags);
        out.flush();
        return this;
    }

    RawClient greet() throws IOException {
        return greet(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES);
    }

    void option(int option, byte[] data) throws IOException {
        out.writeLong(Nbd.IHAVEOPT);
        out.writeInt(option);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    /** One option reply. */
    record OptReply(int option, int type, byte[] data) {
        String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    OptReply reply() throws IOException {
        assertThat(in.readLong()).isEqualTo(Nbd.OPTION_REPLY_MAGIC);
        int option = in.readInt();
        int type = in.readInt();
        int len = in.readInt();
        assertThat(len).isBetween(0, 1 << 20);
        byte[] d = new byte[len];
        in.readFully(d);
        return new OptReply(option, type, d);
    }

    /** Replies up to and including the first ACK or error. */
    List<OptReply> replies() throws IOException {
        List<OptReply> all = new ArrayList<>();
        while (true) {
            OptReply r = reply();
            all.add(r);
            if (r.type() == Nbd.REP_ACK || r.type() < 0) {
                return all;
            }
        }
    }

    static byte[] goData(String name, int... infos) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(4 + n.length + 2 + 2 * infos.length);
        b.putInt(n.length).put(n).putShort((short) infos.length);
        for (int i : infos) {
            b.putShort((short) i);
        }
        return b.array();
    }

    static byte[] metaData(String name, String... queries) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        int len = 4 + n.length + 4;
        for (String q : queries) {
            len += 4 + q.getBytes(StandardCharsets.UTF_8).length;
        }
        ByteBuffer b = ByteBuffer.allocate(len);
        b.putInt(n.length).put(n).putInt(queries.length);
        for (String q : queries) {
            byte[] qb = q.getBytes(StandardCharsets.UTF_8);
            b.putInt(qb.length).put(qb);
        }
        return b.array();
    }

    /** Sends NBD_OPT_GO and returns the export size and transmission flags from NBD_INFO_EXPORT. */
    long[] go(String name) throws IOException {
        option(Nbd.OPT_GO, goData(name, Nbd.INFO_BLOCK_SIZE));
        long[] export = null;
        for (OptReply r : replies()) {
            assertThat(r.type()).as("reply to GO: %s", r.text()).isGreaterThan(0);
            ByteBuffer d = ByteBuffer.wrap(r.data());
            if (r.type() == Nbd.REP_INFO && d.getShort() == Nbd.INFO_EXPORT) {
                export = new long[] {d.getLong(), Short.toUnsignedInt(d.getShort())};
            }
        }
        assertThat(export).as("NBD_INFO_EXPORT").isNotNull();
        return export;
    }

    void request(int flags, int type, long cookie, long offset, long length, byte[] data) throws IOException {
        out.writeInt(Nbd.REQUEST_MAGIC);
        out.writeShort(flags);
        out.writeShort(type);
        out.writeLong(cookie);
        out.writeLong(offset);
        out.writeInt((int) length);
        if (data != null) {
            out.write(data);
        }
        out.flush();
    }

    /** A simple reply: error and cookie; {@code dataLength} bytes follow on success. */
    record Simple(int error, long cookie, byte[] data) {}

    Simple simple(int dataLength) throws IOException {
        assertThat(in.readInt()).isEqualTo(Nbd.SIMPLE_REPLY_MAGIC);
        int error = in.readInt();
        long cookie = in.readLong();
        byte[] d = new byte[error == 0 ? dataLength : 0];
        in.readFully(d);
        return new Simple(error, cookie, d);
    }

    /** One structured reply chunk. */
    record Chunk(int flags, int type, long cookie, byte[] payload) {
        int error() {
            return ByteBuffer.wrap(payload).getInt();
        }
    }

    Chunk chunk() throws IOException {
        assertThat(in.readInt()).isEqualTo(Nbd.STRUCTURED_REPLY_MAGIC);
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        long cookie = in.readLong();
        int len = in.readInt();
        assertThat(len).isBetween(0, 64 << 20);
        byte[] p = new byte[len];
        in.readFully(p);
        return new Chunk(flags, type, cookie, p);
    }

    /** Goes on over TLS (after the server acknowledged NBD_OPT_STARTTLS): handshakes as a client. */
    void startTls(SSLContext context) throws IOException {
        InetSocketAddress a = (InetSocketAddress) socket.getRemoteSocketAddress();
        SSLSocket s = (SSLSocket) context.getSocketFactory().createSocket(socket, a.getHostString(), a.getPort(), true);
        s.setUseClientMode(true);
        s.startHandshake();
        socket = s;
        in = new DataInputStream(s.getInputStream());
        out = new DataOutputStream(s.getOutputStream());
    }

    /** Whether the server closed the connection (reads EOF or reset before the socket timeout). */
    boolean closedByServer() throws IOException {
        InputStream s = socket.getInputStream();
        try {
            while (true) {
                if (s.read() < 0) {
                    return true;
                }
            }
        } catch (SocketTimeoutException e) {
            return false;
        } catch (EOFException e) {
            return true;
        } catch (IOException e) {
            return true; // reset
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
