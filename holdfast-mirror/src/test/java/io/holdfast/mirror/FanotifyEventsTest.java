package io.holdfast.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.mirror.FanotifyEvents.Event;
import io.holdfast.mirror.FanotifyEvents.Handle;
import io.holdfast.mirror.FanotifyEvents.Info;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The decoder against buffers laid out as fanotify(7) describes, built here byte by byte. */
class FanotifyEventsTest {
    private static final byte[] DIR_HANDLE = {2, 0, 0, 0, 9, 9, 9, 9};
    private static final byte[] FILE_HANDLE = {(byte) 0x34, (byte) 0x12, 0, 0, 1, 0, 0, 0};

    /** One info record: header, fsid, struct file_handle, optional NUL-terminated name, padded to 4. */
    private static byte[] fid(int type, int handleType, byte[] handle, String name) {
        byte[] nameBytes = name == null ? new byte[0] : (name + "\0").getBytes(StandardCharsets.UTF_8);
        int len = (4 + 8 + 8 + handle.length + nameBytes.length + 3) & ~3;
        ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.nativeOrder());
        b.put((byte) type).put((byte) 0).putShort((short) len);
        b.putInt(0x11).putInt(0x22);
        b.putInt(handle.length).putInt(handleType).put(handle).put(nameBytes);
        return b.array();
    }

    private static byte[] event(long mask, byte[]... infos) {
        int len = 24;
        for (byte[] i : infos) {
            len += i.length;
        }
        ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.nativeOrder());
        b.putInt(len).put((byte) 3).put((byte) 0).putShort((short) 24);
        b.putLong(mask).putInt(-1).putInt(4242);
        for (byte[] i : infos) {
            b.put(i);
        }
        return b.array();
    }

    private static ByteBuffer concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return ByteBuffer.wrap(out.toByteArray());
    }

    @Test
    void decodesCreateRenameAndOverflowEvents() throws IOException {
        ByteBuffer buf = concat(
                event(
                        NotifyNative.FAN_CREATE | NotifyNative.FAN_ONDIR,
                        fid(FanotifyEvents.INFO_DFID_NAME, 1, DIR_HANDLE, "new dir"),
                        fid(FanotifyEvents.INFO_FID, 1, FILE_HANDLE, null)),
                event(
                        NotifyNative.FAN_RENAME,
                        fid(FanotifyEvents.INFO_OLD_DFID_NAME, 1, DIR_HANDLE, "été"),
                        fid(FanotifyEvents.INFO_NEW_DFID_NAME, 1, DIR_HANDLE, "b"),
                        fid(FanotifyEvents.INFO_FID, 1, FILE_HANDLE, null)),
                event(NotifyNative.FAN_Q_OVERFLOW));
        List<Event> events = FanotifyEvents.decode(buf);
        assertThat(buf.hasRemaining()).isFalse();
        assertThat(events).hasSize(3);

        Event create = events.get(0);
        assertThat(create.mask()).isEqualTo(NotifyNative.FAN_CREATE | NotifyNative.FAN_ONDIR);
        assertThat(create.pid()).isEqualTo(4242);
        Info named = create.info(FanotifyEvents.INFO_DFID_NAME);
        assertThat(named.name()).isEqualTo("new dir");
        assertThat(named.fsid()).isEqualTo(0x22_0000_0011L);
        assertThat(named.handle()).isEqualTo(new Handle(1, DIR_HANDLE));
        assertThat(create.info(FanotifyEvents.INFO_FID).handle().inode()).isEqualTo(0x1234);
        assertThat(create.info(FanotifyEvents.INFO_FID).name()).isNull();

        Event rename = events.get(1);
        assertThat(rename.info(FanotifyEvents.INFO_OLD_DFID_NAME).name()).isEqualTo("été");
        assertThat(rename.info(FanotifyEvents.INFO_NEW_DFID_NAME).name()).isEqualTo("b");

        assertThat(events.get(2).infos()).isEmpty();
        assertThat(events.get(2).info(FanotifyEvents.INFO_FID)).isNull();
    }

    @Test
    void skipsInfoTypesItDoesNotKnow() throws IOException {
        byte[] pidfd = ByteBuffer.allocate(8)
                .order(ByteOrder.nativeOrder())
                .put((byte) 4)
                .put((byte) 0)
                .putShort((short) 8)
                .putInt(17)
                .array();
        List<Event> events = FanotifyEvents.decode(
                concat(event(NotifyNative.FAN_ATTRIB, pidfd, fid(FanotifyEvents.INFO_DFID_NAME, 1, DIR_HANDLE, "."))));
        assertThat(events.getFirst().infos()).extracting(Info::type).containsExactly(FanotifyEvents.INFO_DFID_NAME);
    }

    @Test
    void inodeNumbersComeFromTheHandleTypesThatStartWithThem() {
        byte[] eight = {1, 2, 3, 4, 5, 6, 7, 8};
        assertThat(new Handle(1, eight).inode())
                .isEqualTo(ByteBuffer.wrap(eight).order(ByteOrder.nativeOrder()).getInt(0));
        assertThat(new Handle(0x81, eight).inode())
                .isEqualTo(ByteBuffer.wrap(eight).order(ByteOrder.nativeOrder()).getLong(0));
        assertThat(new Handle(0x4d, eight).inode()).isNotZero();
        assertThat(new Handle(3, eight).inode()).isZero();
        assertThat(new Handle(1, new byte[2]).inode()).isZero();
    }

    @Test
    void handlesAreEqualByContent() {
        assertThat(new Handle(1, new byte[] {1, 2})).isEqualTo(new Handle(1, new byte[] {1, 2}));
        assertThat(new Handle(1, new byte[] {1, 2}).hashCode()).isEqualTo(new Handle(1, new byte[] {1, 2}).hashCode());
        assertThat(new Handle(1, new byte[] {1, 2})).isNotEqualTo(new Handle(2, new byte[] {1, 2}));
        assertThat(new Handle(1, new byte[] {1, 2})).isNotEqualTo(new Handle(1, new byte[] {1, 3}));
    }

    @Test
    void refusesBrokenLayouts() {
        byte[] good = event(NotifyNative.FAN_CREATE, fid(FanotifyEvents.INFO_DFID_NAME, 1, DIR_HANDLE, "x"));
        // a read that ends inside an event
        assertThatThrownBy(() -> FanotifyEvents.decode(ByteBuffer.wrap(good, 0, good.length - 4)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("bytes with");
        assertThatThrownBy(() -> FanotifyEvents.decode(ByteBuffer.wrap(good, 0, 10)))
                .hasMessageContaining("inside an event header");
        // another metadata version
        byte[] version = good.clone();
        version[4] = 4;
        assertThatThrownBy(() -> FanotifyEvents.decode(ByteBuffer.wrap(version)))
                .hasMessageContaining("version 4");
        // an event length below the header
        byte[] shortLen = good.clone();
        ByteBuffer.wrap(shortLen).order(ByteOrder.nativeOrder()).putInt(0, 8);
        assertThatThrownBy(() -> FanotifyEvents.decode(ByteBuffer.wrap(shortLen)))
                .isInstanceOf(IOException.class);
        // a handle longer than MAX_HANDLE_SZ or than its record
        byte[] bigHandle = good.clone();
        ByteBuffer.wrap(bigHandle).order(ByteOrder.nativeOrder()).putInt(24 + 12, 129);
        assertThatThrownBy(() -> FanotifyEvents.decode(ByteBuffer.wrap(bigHandle)))
                .hasMessageContaining("file handle of 129 bytes");
        byte[] longHandle = good.clone();
        ByteBuffer.wrap(longHandle).order(ByteOrder.nativeOrder()).putInt(24 + 12, 64);
        assertThatThrownBy(() -> FanotifyEvents.decode(ByteBuffer.wrap(longHandle)))
                .hasMessageContaining("file handle of 64 bytes");
        // a name without its NUL
        byte[] noNul = good.clone();
        for (int i = 24 + 20 + DIR_HANDLE.length; i < noNul.length; i++) {
            noNul[i] = 'y';
        }
        assertThatThrownBy(() -> FanotifyEvents.decode(ByteBuffer.wrap(noNul))).hasMessageContaining("NUL");
        // an info record longer than its event
        byte[] longInfo = good.clone();
        ByteBuffer.wrap(longInfo).order(ByteOrder.nativeOrder()).putShort(24 + 2, (short) 200);
        assertThatThrownBy(() -> FanotifyEvents.decode(ByteBuffer.wrap(longInfo)))
                .hasMessageContaining("info record of 200 bytes");
    }
}
