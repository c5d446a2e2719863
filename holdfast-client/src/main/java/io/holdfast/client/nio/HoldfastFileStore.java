package io.holdfast.client.nio;

import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.attribute.FileOwnerAttributeView;
import java.nio.file.attribute.FileStoreAttributeView;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserDefinedFileAttributeView;

/** The one {@link FileStore} of a Holdfast volume; space figures come from {@code StatFs}. */
final class HoldfastFileStore extends FileStore {
    private final HoldfastFileSystem fs;

    HoldfastFileStore(HoldfastFileSystem fs) {
        this.fs = fs;
    }

    private Response.FsStats stats() throws IOException {
        Response r = fs.query(new Request.StatFs());
        if (r instanceof Response.FsStats s) {
            return s;
        }
        Errors.ok(r, fs.volume(), null);
        throw Errors.unexpected(r, fs.volume());
    }

    @Override
    public String name() {
        return fs.volume();
    }

    @Override
    public String type() {
        return "holdfast";
    }

    /**
     * Whether the volume is exported read-only to this client (asks the volume; statvfs's
     * {@code ST_RDONLY}). False if the volume cannot be asked: writes then report the error.
     */
    @Override
    public boolean isReadOnly() {
        try {
            return stats().readOnly();
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public long getTotalSpace() throws IOException {
        return stats().totalBytes();
    }

    @Override
    public long getUsableSpace() throws IOException {
        return stats().freeBytes();
    }

    @Override
    public long getUnallocatedSpace() throws IOException {
        return stats().freeBytes();
    }

    @Override
    public boolean supportsFileAttributeView(Class<? extends FileAttributeView> type) {
        return type == BasicFileAttributeView.class
                || type == PosixFileAttributeView.class
                || type == FileOwnerAttributeView.class
                || type == UserDefinedFileAttributeView.class;
    }

    @Override
    public boolean supportsFileAttributeView(String name) {
        return Attributes.VIEWS.contains(name);
    }

    @Override
    public <V extends FileStoreAttributeView> V getFileStoreAttributeView(Class<V> type) {
        return null;
    }

    @Override
    public Object getAttribute(String attribute) throws IOException {
        return switch (attribute) {
            case "totalSpace" -> getTotalSpace();
            case "usableSpace" -> getUsableSpace();
            case "unallocatedSpace" -> getUnallocatedSpace();
            default -> throw new UnsupportedOperationException("'" + attribute + "' not recognized");
        };
    }

    @Override
    public String toString() {
        return fs.volume() + " (" + fs + ")";
    }
}
