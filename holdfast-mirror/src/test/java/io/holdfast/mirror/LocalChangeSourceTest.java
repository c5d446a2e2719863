package io.holdfast.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.mirror.InotifyChangeSource.RawEvent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalChangeSourceTest {
    @TempDir
    Path temp;

    @Test
    void opensFanotifyWhereItWorksElseTheInotifyFallback() throws IOException {
        boolean fanotify;
        try (FanotifyChangeSource probe = FanotifyChangeSource.open(temp, 1, Clock.systemUTC())) {
            fanotify = true;
        } catch (ChangeCaptureUnavailableException e) {
            fanotify = false;
        }
        try (LocalChangeSource source = LocalChangeSource.open(temp)) {
            assertThat(source).isInstanceOf(fanotify ? FanotifyChangeSource.class : InotifyChangeSource.class);
            assertThat(source.root()).isEqualTo(temp.toRealPath());
        }
    }

    private static byte[] inotifyEvent(int wd, int mask, int cookie, String name, int padded) {
        byte[] n = name == null ? new byte[0] : name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(16 + padded).order(ByteOrder.nativeOrder());
        b.putInt(wd).putInt(mask).putInt(cookie).putInt(padded).put(n);
        return b.array();
    }

    @Test
    void decodesInotifyEventsAndRefusesBrokenOnes() throws IOException {
        byte[] a = inotifyEvent(1, NotifyNative.IN_MOVED_FROM, 77, "été", 16);
        byte[] b = inotifyEvent(2, NotifyNative.IN_ATTRIB, 0, null, 0);
        ByteBuffer both = ByteBuffer.allocate(a.length + b.length).put(a).put(b).flip();
        assertThat(InotifyChangeSource.decode(both))
                .containsExactly(
                        new RawEvent(1, NotifyNative.IN_MOVED_FROM, 77, "été"),
                        new RawEvent(2, NotifyNative.IN_ATTRIB, 0, null));
        assertThatThrownBy(() -> InotifyChangeSource.decode(ByteBuffer.wrap(a, 0, 20)))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("name of 16 bytes");
        assertThatThrownBy(() -> InotifyChangeSource.decode(ByteBuffer.wrap(a, 0, 10)))
                .hasMessageContaining("inside an event header");
    }
}
