package io.holdfast.client.nio;

import io.holdfast.common.Errno;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.FileType;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * A tiny in-memory volume for client tests that must not depend on the brick: one flat
 * directory of regular files under {@code /}. Answers Create, GetAttr, GetAttrByInode, Write,
 * Read, Truncate, Unlink and DropOrphan; everything else is {@link Errno#ENOTSUP}.
 */
class MemoryVolume implements VolumeService {
    private final Map<String, Long> names = new HashMap<>();
    private final Map<Long, byte[]> data = new HashMap<>();
    private long nextInode = 2;

    private static Attr dirAttr() {
        return new Attr(1, FileType.DIRECTORY, 0755, 2, 0, 0, 0, 0, 0, 0);
    }

    private Attr fileAttr(long inode) {
        return new Attr(
                inode, FileType.FILE, 0644, names.containsValue(inode) ? 1 : 0, 0, 0, data.get(inode).length, 0, 0, 0);
    }

    @Override
    public synchronized CompletableFuture<Response> submit(Request.Mutation m) {
        return CompletableFuture.completedFuture(apply(m));
    }

    private Response apply(Request.Mutation m) {
        switch (m) {
            case Request.Create c -> {
                Long ino = names.get(c.path());
                if (ino != null) {
                    return c.exclusive() ? new Response.Error(Errno.EEXIST, c.path()) : attr(ino);
                }
                long i = nextInode++;
                names.put(c.path(), i);
                data.put(i, new byte[0]);
                return attr(i);
            }
            case Request.Write w -> {
                byte[] d = data.get(w.inode());
                if (d == null) {
                    return new Response.Error(Errno.ESTALE, "inode " + w.inode());
                }
                if (Checksums.crc32c(w.data()) != w.crc32c()) {
                    return new Response.Error(Errno.EIO, "bad crc");
                }
                long end = w.offset() + w.data().length;
                if (end > d.length) {
                    d = Arrays.copyOf(d, (int) end);
                }
                System.arraycopy(w.data(), 0, d, (int) w.offset(), w.data().length);
                data.put(w.inode(), d);
                return attr(w.inode());
            }
            case Request.Truncate t -> {
                data.put(t.inode(), Arrays.copyOf(data.get(t.inode()), (int) t.size()));
                return attr(t.inode());
            }
            case Request.Unlink u -> {
                Long ino = names.remove(u.path());
                if (ino == null) {
                    return new Response.Error(Errno.ENOENT, u.path());
                }
                Response r = attr(ino);
                if (!u.keepOrphan()) {
                    data.remove(ino);
                }
                return r;
            }
            case Request.DropOrphan d -> {
                data.remove(d.inode());
                return new Response.Ok();
            }
            default -> {
                return new Response.Error(Errno.ENOTSUP, m.toString());
            }
        }
    }

    private Response attr(long inode) {
        return new Response.AttrReply(fileAttr(inode));
    }

    @Override
    public synchronized CompletableFuture<Response> query(Request.Query q) {
        Response r = switch (q) {
            case Request.GetAttr g when g.path().equals("/") -> new Response.AttrReply(dirAttr());
            case Request.GetAttr g -> {
                Long ino = names.get(g.path());
                yield ino == null ? new Response.Error(Errno.ENOENT, g.path()) : attr(ino);
            }
            case Request.GetAttrByInode g ->
                data.containsKey(g.inode()) ? attr(g.inode()) : new Response.Error(Errno.ESTALE, "inode " + g.inode());
            case Request.Read rd -> {
                byte[] d = data.get(rd.inode());
                if (d == null) {
                    yield new Response.Error(Errno.ESTALE, "inode " + rd.inode());
                }
                int from = (int) Math.min(rd.offset(), d.length);
                int to = (int) Math.min((long) from + rd.length(), d.length);
                byte[] out = Arrays.copyOfRange(d, from, to);
                yield new Response.Data(out, Checksums.crc32c(out));
            }
            default -> new Response.Error(Errno.ENOTSUP, q.toString());
        };
        return CompletableFuture.completedFuture(r);
    }

    /** Whether an inode's data still exists (not dropped). */
    synchronized boolean hasInode(long inode) {
        return data.containsKey(inode);
    }

    @Override
    public void close() {}
}
