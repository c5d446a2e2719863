package io.holdfast.nbd;

import io.holdfast.transport.Peer;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.List;

/**
 * Finds the export a client names ({@code NBD_OPT_GO}, {@code NBD_OPT_INFO},
 * {@code NBD_OPT_EXPORT_NAME}). Thread-safe.
 */
public interface ExportProvider {
    /**
     * Opens the export called {@code name} for one connection; the connection closes it when it
     * ends. Connections to the same export share its data and its durability point: a flush on
     * one covers the writes that returned on every other (NBD_FLAG_CAN_MULTI_CONN).
     *
     * @param name the name as the client sent it (UTF-8, at most 4096 bytes, no NUL); empty for
     *     the default export
     * @throws NoSuchFileException if there is no such export (the client gets NBD_REP_ERR_UNKNOWN)
     * @throws AccessDeniedException if this gateway may not serve it (NBD_REP_ERR_POLICY)
     * @throws IllegalArgumentException if the name is malformed (NBD_REP_ERR_UNKNOWN, with the reason)
     * @throws IOException if it cannot be opened now (NBD_REP_ERR_UNKNOWN, with the reason)
     */
    BlockDevice open(String name) throws IOException;

    /** The export names to answer NBD_OPT_LIST with (possibly none). */
    List<String> list();

    /**
     * Opens the export called {@code name} for a client that presented a certificate over TLS;
     * what the export lets this client do may depend on who it is (a read-only device for a
     * read-only client). By default the identity is ignored: {@link #open(String)}.
     *
     * @param client the identity in the client's certificate and its IP address
     * @throws AccessDeniedException if this client may not use the export (NBD_REP_ERR_POLICY)
     * @throws NoSuchFileException if there is no such export (NBD_REP_ERR_UNKNOWN)
     * @throws IllegalArgumentException if the name is malformed (NBD_REP_ERR_UNKNOWN, with the reason)
     * @throws IOException if it cannot be opened now (NBD_REP_ERR_UNKNOWN, with the reason)
     */
    default BlockDevice open(String name, Peer client) throws IOException {
        return open(name);
    }

    /**
     * The export names to answer NBD_OPT_LIST with for a client that presented a certificate; by
     * default {@link #list()}.
     */
    default List<String> list(Peer client) {
        return list();
    }
}
