package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.client.nio.HoldfastFileSystem;
import io.holdfast.client.nio.HoldfastFileSystemProvider;
import io.holdfast.common.Caller;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.storage.Brick;
import io.holdfast.storage.LocalVolumeService;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.ClosedFileSystemException;
import java.nio.file.FileSystem;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.InstantSource;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The contract against a Holdfast volume over one brick, through the provider. */
class HoldfastVolumeContractTest extends FileSystemContract {
    @TempDir
    Path brickDir;

    private Brick brick;
    private LocalVolumeService service;
    private FileSystem fs;

    @Override
    protected void openFileSystem() throws IOException {
        brick = Brick.open(brickDir);
        service = new LocalVolumeService(brick, InstantSource.system());
        fs = TestVolumes.open(service, Map.of(HoldfastFileSystemProvider.ENV_CALLER, Caller.ROOT));
    }

    @Override
    protected void closeFileSystem() throws IOException {
        try {
            fs.close();
        } finally {
            service.close();
            brick.close();
        }
    }

    @Override
    protected Path root() {
        return fs.getPath("/");
    }

    @Override
    protected boolean isHoldfast() {
        return true;
    }

    @Test
    public void pathsRoundTripThroughUris() throws IOException {
        Path f = Files.writeString(dir.resolve("u"), "x");
        URI uri = f.toUri();
        assertThat(uri.getScheme()).isEqualTo("holdfast");
        assertThat(Path.of(uri)).isEqualTo(f);
        assertThat(Files.readString(Path.of(uri))).isEqualTo("x");
        assertThat(Files.getFileStore(f).name()).isEqualTo("vol");
        assertThat(Files.getFileStore(f).type()).isEqualTo("holdfast");
    }

    @Test
    public void orphanIsDroppedWhenLastChannelCloses() throws IOException {
        Path f = Files.writeString(dir.resolve("o"), "orphan");
        long inode = (Long) Files.getAttribute(f, "unix:ino");
        FileChannel a = FileChannel.open(f, StandardOpenOption.READ);
        FileChannel b = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE);
        Files.delete(f);
        a.close();
        b.write(ByteBuffer.wrap("O".getBytes()), 0);
        ByteBuffer buf = ByteBuffer.allocate(6);
        b.read(buf, 0);
        assertThat(new String(buf.array())).isEqualTo("Orphan");
        b.close();
        assertThat(service.query(new Request.GetAttrByInode(inode)).join()).isInstanceOf(Response.Error.class);
    }

    @Test
    public void callersArePermissionChecked() throws Exception {
        Path d = Files.createDirectory(
                dir.resolve("private"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path secret = Files.writeString(d.resolve("s"), "s");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        Caller alice = new Caller(1000, 1000, new int[0]);
        assertThatThrownBy(() -> HoldfastFileSystem.withCaller(alice, () -> Files.createFile(d.resolve("mine"))))
                .isInstanceOf(AccessDeniedException.class);
        assertThatThrownBy(() -> HoldfastFileSystem.withCaller(alice, () -> Files.readString(secret)))
                .isInstanceOf(AccessDeniedException.class);
        Path open = Files.createDirectory(
                dir.resolve("open"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxrwxrwx")));
        Path mine = HoldfastFileSystem.withCaller(alice, () -> Files.writeString(open.resolve("mine"), "hi"));
        assertThat(Files.getAttribute(mine, "unix:uid")).isEqualTo(1000);
        assertThat(Files.getAttribute(mine, "unix:gid")).isEqualTo(1000);
    }

    @Test
    public void bindingsNestAndRestore() throws Exception {
        HoldfastFileSystem hfs = (HoldfastFileSystem) fs;
        Caller bob = new Caller(2000, 2000, new int[] {5});
        Caller carol = new Caller(3000, 3000, new int[0]);
        assertThat(hfs.currentCaller()).isEqualTo(Caller.ROOT);
        try (var outer = HoldfastFileSystem.bindCaller(bob)) {
            assertThat(hfs.currentCaller()).isEqualTo(bob);
            HoldfastFileSystem.withCaller(carol, () -> {
                assertThat(hfs.currentCaller()).isEqualTo(carol);
                return null;
            });
            assertThat(hfs.currentCaller()).isEqualTo(bob);
        }
        assertThat(hfs.currentCaller()).isEqualTo(Caller.ROOT);
    }

    @Test
    public void fuseAttributeNamesAreReadable() throws IOException {
        Path f = Files.writeString(dir.resolve("fuse"), "12345");
        Map<String, Object> m = Files.readAttributes(
                f,
                "unix:mode,ino,nlink,uid,gid,size,rdev,lastAccessTime,lastModifiedTime,ctime",
                LinkOption.NOFOLLOW_LINKS);
        assertThat(m).hasSize(10);
        assertThat(m.get("size")).isEqualTo(5L);
        assertThat(m.get("nlink")).isEqualTo(1);
        assertThat((Integer) m.get("mode") & 0170000).isEqualTo(0100000);
        Files.setAttribute(f, "unix:uid", 54321, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(f, "unix:gid", 43, LinkOption.NOFOLLOW_LINKS);
        assertThat(Files.getAttribute(f, "unix:uid")).isEqualTo(54321);
        assertThat(Files.getAttribute(f, "unix:gid")).isEqualTo(43);
        assertThat(Files.getOwner(f).getName()).isEqualTo("54321");
        Files.setAttribute(f, "unix:ids", new int[] {777, 888}, LinkOption.NOFOLLOW_LINKS);
        assertThat(Files.readAttributes(f, "unix:uid,gid", LinkOption.NOFOLLOW_LINKS))
                .containsEntry("uid", 777)
                .containsEntry("gid", 888);
        assertThatThrownBy(() -> Files.setAttribute(f, "unix:ids", new int[] {1}, LinkOption.NOFOLLOW_LINKS))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(Files.getAttribute(f, "unix:uid")).isEqualTo(777);
    }

    @Test
    public void closedFileSystemRefusesWork() throws IOException {
        Path f = dir.resolve("c");
        FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        ch.write(ByteBuffer.wrap(new byte[100]));
        fs.close();
        assertThat(ch.isOpen()).isFalse();
        assertThat(fs.isOpen()).isFalse();
        assertThatThrownBy(() -> Files.exists(f)).isInstanceOf(ClosedFileSystemException.class);
        fs = TestVolumes.open(service);
        assertThat(Files.size(fs.getPath(f.toString()))).isEqualTo(100);
    }
}
