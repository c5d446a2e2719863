package io.holdfast.mirror;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.mirror.FanotifyEvents.Event;
import io.holdfast.mirror.FanotifyEvents.Handle;
import io.holdfast.mirror.FanotifyEvents.Info;
import io.holdfast.protocol.Change;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Translation with a fake resolver standing for open_by_handle_at: what is kept, and how names follow. */
class EventTranslatorTest {
    private final Map<Handle, String> fileSystem = new HashMap<>();
    private final List<Handle> resolved = new ArrayList<>();
    private final EventTranslator translator = new EventTranslator(
            "/srv/mail",
            h -> {
                resolved.add(h);
                return fileSystem.get(h);
            },
            1000);

    private static Handle handle(int n) {
        return new Handle(1, new byte[] {(byte) n, 0, 0, 0, 0, 0, 0, 0});
    }

    private static Info named(int type, Handle dir, String name) {
        return new Info(type, 0, dir, name);
    }

    private static Event event(long mask, Handle dir, String name, Handle target) {
        List<Info> infos = new ArrayList<>();
        infos.add(named(FanotifyEvents.INFO_DFID_NAME, dir, name));
        if (target != null) {
            infos.add(new Info(FanotifyEvents.INFO_FID, 0, target, null));
        }
        return new Event(mask, 1, infos);
    }

    private static Event rename(boolean dir, Handle from, String fromName, Handle to, String toName, Handle target) {
        return new Event(
                NotifyNative.FAN_RENAME | (dir ? NotifyNative.FAN_ONDIR : 0),
                1,
                List.of(
                        named(FanotifyEvents.INFO_OLD_DFID_NAME, from, fromName),
                        named(FanotifyEvents.INFO_NEW_DFID_NAME, to, toName),
                        new Info(FanotifyEvents.INFO_FID, 0, target, null)));
    }

    private List<String> translate(Event e) throws IOException {
        return translator.translate(e).stream()
                .map(FanotifyChangeSourceTest::describe)
                .toList();
    }

    private static final long MKDIR = NotifyNative.FAN_CREATE | NotifyNative.FAN_ONDIR;

    @Test
    void keepsOnlyEventsInsideTheRoot() throws IOException {
        fileSystem.put(handle(1), "/srv/mail");
        fileSystem.put(handle(2), "/srv");
        fileSystem.put(handle(3), "/srv/mail2");
        assertThat(translate(event(NotifyNative.FAN_CREATE, handle(1), "a", handle(9))))
                .containsExactly("CREATE /a");
        assertThat(translate(event(NotifyNative.FAN_CREATE, handle(2), "other", handle(9))))
                .isEmpty();
        assertThat(translate(event(NotifyNative.FAN_CREATE, handle(3), "a", handle(9))))
                .isEmpty();
        // the root itself, as its own event ("." names the directory the handle is)
        assertThat(translate(event(NotifyNative.FAN_ATTRIB | NotifyNative.FAN_ONDIR, handle(1), ".", handle(1))))
                .containsExactly("SETATTR /");
    }

    @Test
    void aMergedEventIsReportedInTheOrderItsBitsCanHaveHappened() throws IOException {
        fileSystem.put(handle(1), "/srv/mail");
        long all = NotifyNative.FAN_DELETE
                | NotifyNative.FAN_ATTRIB
                | NotifyNative.FAN_MODIFY
                | NotifyNative.FAN_CLOSE_WRITE
                | NotifyNative.FAN_CREATE;
        assertThat(translate(event(all, handle(1), "tmp", handle(9))))
                .containsExactly("CREATE /tmp", "WRITE /tmp", "SETATTR /tmp", "UNLINK /tmp");
        // a directory has no WRITE
        assertThat(translate(event(all | NotifyNative.FAN_ONDIR, handle(1), "d", handle(8))))
                .containsExactly("MKDIR /d", "SETATTR /d", "RMDIR /d");
    }

    @Test
    void directoriesAreFollowedInEventOrderWithoutAskingTheFileSystem() throws IOException {
        fileSystem.put(handle(1), "/srv/mail");
        assertThat(translate(event(MKDIR, handle(1), "a", handle(2)))).containsExactly("MKDIR /a");
        assertThat(translate(event(MKDIR, handle(2), "b", handle(3)))).containsExactly("MKDIR /a/b");
        assertThat(translate(rename(true, handle(1), "a", handle(1), "c", handle(2))))
                .containsExactly("RENAME /a -> /c");
        // the file system now calls them something else again: the events still read in order
        fileSystem.put(handle(3), "/srv/mail/elsewhere");
        assertThat(translate(event(NotifyNative.FAN_CREATE, handle(3), "f", handle(9))))
                .containsExactly("CREATE /c/b/f");
        assertThat(resolved).containsExactly(handle(1));
    }

    @Test
    void aRemovedDirectoryIsForgottenWithEverythingUnderIt() throws IOException {
        fileSystem.put(handle(1), "/srv/mail");
        translate(event(MKDIR, handle(1), "a", handle(2)));
        translate(event(MKDIR, handle(2), "b", handle(3)));
        assertThat(translate(event(NotifyNative.FAN_DELETE | NotifyNative.FAN_ONDIR, handle(1), "a", handle(2))))
                .containsExactly("RMDIR /a");
        // an event queued earlier in the removed directory: it has no name any more
        assertThat(translate(event(NotifyNative.FAN_CREATE, handle(3), "late", handle(9))))
                .isEmpty();
        assertThat(translator.unresolved()).isEqualTo(1);
        assertThat(resolved).containsExactly(handle(1), handle(3));
    }

    @Test
    void movesAcrossTheRootBecomeCreatesAndRemovals() throws IOException {
        fileSystem.put(handle(1), "/srv/mail");
        fileSystem.put(handle(2), "/tmp");
        assertThat(translate(rename(false, handle(2), "x", handle(1), "x", handle(9))))
                .containsExactly("CREATE /x");
        assertThat(translate(rename(true, handle(2), "d", handle(1), "d", handle(8))))
                .containsExactly("MKDIR /d");
        assertThat(translate(rename(false, handle(1), "x", handle(2), "y", handle(9))))
                .containsExactly("UNLINK /x");
        assertThat(translate(rename(true, handle(1), "d", handle(2), "d", handle(8))))
                .containsExactly("RMDIR /d");
        assertThat(translate(rename(false, handle(2), "p", handle(2), "q", handle(9))))
                .isEmpty();
        // the directory moved out is followed there: its events are outside now
        assertThat(translate(event(NotifyNative.FAN_CREATE, handle(8), "f", handle(7))))
                .isEmpty();
    }

    @Test
    void movingOrRemovingTheRootStopsTranslation() {
        fileSystem.put(handle(1), "/srv/mail");
        fileSystem.put(handle(2), "/srv");
        fileSystem.put(handle(3), "/");
        assertThatThrownBy(() -> translator.translate(rename(true, handle(2), "mail", handle(2), "old", handle(1))))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("/srv/mail was moved");
        assertThatThrownBy(() -> translator.translate(rename(true, handle(3), "srv", handle(3), "s", handle(2))))
                .hasMessageContaining("was moved (through /srv)");
        assertThatThrownBy(() -> translator.translate(
                        event(NotifyNative.FAN_DELETE | NotifyNative.FAN_ONDIR, handle(2), "mail", handle(1))))
                .hasMessageContaining("/srv/mail was removed");
    }

    @Test
    void theCacheIsBounded() throws IOException {
        EventTranslator small = new EventTranslator("/r", h -> "/r/" + h.bytes()[0], 3);
        for (int i = 0; i < 10; i++) {
            small.translate(event(NotifyNative.FAN_CREATE, handle(i), "f", handle(100)));
        }
        assertThat(small.cached()).isEqualTo(3);
        assertThatThrownBy(() -> new EventTranslator("/r", h -> null, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aWatchedFileSystemRootKeepsAbsolutePaths() throws IOException {
        EventTranslator whole = new EventTranslator("/", h -> "/", 10);
        List<Change> changes = whole.translate(event(NotifyNative.FAN_CREATE, handle(1), "etc", handle(9)));
        assertThat(changes).extracting(Change::path).containsExactly("/etc");
    }
}
