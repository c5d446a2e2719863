package io.holdfast.storage;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.protocol.Attr;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.LogEntry;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.testing.TestSeed;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** A brick plus helpers that apply mutations as consecutive log entries with a fake clock. */
final class TestBrick implements AutoCloseable {
    static final Caller ROOT = Caller.ROOT;

    final Path dir;
    Brick brick;
    long timeNanos = 1_000_000_000L;
    /** Every entry applied through this helper, index i+1 at position i (starting at index 1). */
    final List<LogEntry> log = new ArrayList<>();

    TestBrick(Path dir) throws IOException {
        this.dir = dir;
        this.brick = Brick.open(dir);
    }

    Response apply(Request.Mutation m) {
        LogEntry e = new LogEntry(timeNanos += 1000, m);
        return applyEntry(e);
    }

    Response applyEntry(LogEntry e) {
        try {
            long index = brick.appliedIndex() + 1;
            log.add(e);
            return brick.apply(index, e);
        } catch (IOException ex) {
            throw new UncheckedIOException(ex);
        }
    }

    Response query(Request.Query q) {
        return brick.query(q);
    }

    static Attr attr(Response r) {
        assertThat(r).isInstanceOf(Response.AttrReply.class);
        return ((Response.AttrReply) r).attr();
    }

    static Errno errno(Response r) {
        return r instanceof Response.Error e ? e.errno() : Errno.OK;
    }

    Attr mkdir(String path, int mode) {
        return attr(apply(new Request.Mkdir(ROOT, path, mode)));
    }

    Attr mkdir(String path) {
        return mkdir(path, 0755);
    }

    Attr create(String path) {
        return attr(apply(new Request.Create(ROOT, path, 0644, true)));
    }

    Attr write(long inode, long offset, byte[] data) {
        return attr(apply(write(ROOT, inode, offset, data)));
    }

    static Request.Write write(Caller c, long inode, long offset, byte[] data) {
        return new Request.Write(c, inode, offset, data, Checksums.crc32c(data));
    }

    byte[] read(long inode, long offset, int length) {
        Response r = query(new Request.Read(inode, offset, length));
        assertThat(r).isInstanceOf(Response.Data.class);
        Response.Data d = (Response.Data) r;
        assertThat(Checksums.crc32c(d.bytes())).isEqualTo(d.crc32c());
        return d.bytes();
    }

    Attr stat(String path) {
        return attr(query(new Request.GetAttr(path, false)));
    }

    Errno statErrno(String path) {
        return errno(query(new Request.GetAttr(path, false)));
    }

    Response.Digest digest() {
        try {
            return brick.digest();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void reopen() throws IOException {
        brick.close();
        brick = Brick.open(dir);
    }

    static byte[] bytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(TestSeed.derive("TestBrick.bytes") ^ seed).nextBytes(b);
        return b;
    }

    @Override
    public void close() {
        brick.close();
    }
}
