package io.holdfast.client.nio;

import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileSystemException;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * User-defined attributes, stored as the volume's extended attributes with the
 * {@code user.} prefix added on the wire (as the JDK's Linux provider does).
 */
final class UserView implements UserDefinedFileAttributeView {
    private static final String PREFIX = "user.";
    private final HoldfastFileSystemProvider provider;
    private final HoldfastPath path;
    private final boolean follow;

    UserView(HoldfastFileSystemProvider provider, HoldfastPath path, boolean follow) {
        this.provider = provider;
        this.path = path;
        this.follow = follow;
    }

    @Override
    public String name() {
        return "user";
    }

    private String target() throws IOException {
        return provider.attrTarget(path, follow);
    }

    @Override
    public List<String> list() throws IOException {
        Response r = path.getFileSystem().query(new Request.ListXattr(target()));
        if (r instanceof Response.Names n) {
            List<String> out = new ArrayList<>();
            for (String s : n.names()) {
                if (s.startsWith(PREFIX)) {
                    out.add(s.substring(PREFIX.length()));
                }
            }
            return out;
        }
        Errors.ok(r, path.toString(), null);
        throw Errors.unexpected(r, path.toString());
    }

    private byte[] get(String name) throws IOException {
        Response r = path.getFileSystem().query(new Request.GetXattr(target(), PREFIX + name));
        if (r instanceof Response.Data d) {
            return d.bytes();
        }
        if (r instanceof Response.Error e && e.errno() == Errno.ENODATA) {
            throw new FileSystemException(path.toString(), null, "No data available");
        }
        Errors.ok(r, path.toString(), null);
        throw Errors.unexpected(r, path.toString());
    }

    @Override
    public int size(String name) throws IOException {
        return get(name).length;
    }

    @Override
    public int read(String name, ByteBuffer dst) throws IOException {
        byte[] v = get(name);
        if (dst.remaining() < v.length) {
            throw new FileSystemException(path.toString(), null, "Numerical result out of range");
        }
        dst.put(v);
        return v.length;
    }

    @Override
    public int write(String name, ByteBuffer src) throws IOException {
        byte[] v = new byte[src.remaining()];
        src.get(v);
        HoldfastFileSystem fs = path.getFileSystem();
        String target = target();
        fs.awaitWrites();
        Errors.ok(
                fs.submit(new Request.SetXattr(fs.currentCaller(), target, PREFIX + name, v, 0)),
                path.toString(),
                null);
        return v.length;
    }

    @Override
    public void delete(String name) throws IOException {
        HoldfastFileSystem fs = path.getFileSystem();
        String target = target();
        fs.awaitWrites();
        Response r = fs.submit(new Request.RemoveXattr(fs.currentCaller(), target, PREFIX + name));
        if (r instanceof Response.Error e && e.errno() == Errno.ENODATA) {
            throw new ErrnoFileSystemException(path.toString(), null, Errno.ENODATA, "No data available");
        }
        Errors.ok(r, path.toString(), null);
    }

    Map<String, Object> readMap(String names) throws IOException {
        Map<String, Object> out = new LinkedHashMap<>();
        for (String n : names.split(",")) {
            if (n.equals("*")) {
                for (String all : list()) {
                    out.put(all, get(all));
                }
            } else {
                out.put(n, get(n));
            }
        }
        return out;
    }
}
