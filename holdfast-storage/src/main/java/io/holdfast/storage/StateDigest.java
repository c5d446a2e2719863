package io.holdfast.storage;

import static io.holdfast.storage.ContentStore.BLOCK_BYTES;

import io.holdfast.protocol.FileType;
import io.holdfast.protocol.Response;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import org.rocksdb.RocksIterator;

/**
 * The digest of a brick's whole logical state at its applied index ({@link Brick#digest()}, the
 * {@code GetDigest} query): SHA-256 over every key and value but checksums, indexes and redo
 * records, and over every file's content as read and CRC-verified, with its hole layout. Members
 * that applied the same entries have the same digest, whatever their checkpoints.
 */
final class StateDigest {
    private final BrickState state;
    private final ContentStore content;

    StateDigest(BrickState state, ContentStore content) {
        this.state = state;
        this.content = content;
    }

    /** See {@link Brick#digest()}; the caller holds the read lock of an open brick. */
    Response.Digest digest() throws IOException {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        long applied = state.appliedIndex;
        sha.update("HFDIGEST1".getBytes(StandardCharsets.US_ASCII));
        sha.update(Keys.long8(applied));
        try (RocksIterator it = state.db.newIterator()) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                byte[] k = it.key();
                byte p = k[0];
                if (p == Keys.INLINE
                        || p == Keys.BLOCK_CRC
                        || p == Keys.REDO
                        || Keys.isChangeFeed(p)
                        || Arrays.equals(k, Keys.APPLIED)
                        || Arrays.equals(k, Keys.CHECKPOINT)) {
                    continue;
                }
                byte[] v = it.value();
                sha.update(Keys.int4(k.length));
                sha.update(k);
                sha.update(Keys.int4(v.length));
                sha.update(v);
                if (p == Keys.INODE) {
                    Node n = Node.decode(v);
                    if (n.type == FileType.FILE) {
                        long id = Keys.idOf(k);
                        sha.update(Keys.long8(n.size));
                        if (!n.inFile) {
                            sha.update(content.inlineContent(state.kv, id, n));
                        } else {
                            for (long b = 0; b * BLOCK_BYTES < n.size; b++) {
                                sha.update(content.blockVerified(state.kv, id, n.size, b));
                                sha.update((byte)
                                        (state.kv.get(Keys.blockCrc(id, b)) == null
                                                ? 0
                                                : 1)); // holes: what SEEK_HOLE reports
                            }
                        }
                    }
                }
            }
        }
        return new Response.Digest(applied, sha.digest());
    }
}
