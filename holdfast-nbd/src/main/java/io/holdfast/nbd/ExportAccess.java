package io.holdfast.nbd;

import io.holdfast.protocol.Access;
import io.holdfast.transport.Peer;
import java.io.IOException;
import java.nio.file.AccessDeniedException;

/**
 * Decides what one NBD client may do with the images of one volume, from the identity its TLS
 * certificate carries. {@link VolumeExports} asks it when a client opens an export
 * (NBD_OPT_GO, NBD_OPT_INFO, NBD_OPT_EXPORT_NAME) and for NBD_OPT_LIST; the answer holds for the
 * whole connection. Implementations are thread-safe.
 */
@FunctionalInterface
public interface ExportAccess {
    /**
     * Every client gets what the gateway's own certificate gets from the cluster: how the gateway
     * behaved before per-client permissions existed, and what a plaintext connection still gets.
     */
    ExportAccess GATEWAY = (volume, client) -> Access.READ_WRITE;

    /**
     * What {@code client} may do with the images of {@code volume}.
     *
     * @param volume a volume name
     * @param client the identity of the client's certificate (common name, role, IP address)
     * @return {@link Access#NONE} (the export is refused with NBD_REP_ERR_POLICY),
     *     {@link Access#READ_ONLY} (served with NBD_FLAG_READ_ONLY; writes get EPERM) or
     *     {@link Access#READ_WRITE}
     * @throws AccessDeniedException if the client is refused for another reason
     * @throws IOException if it cannot be decided now (the cluster does not answer); the client is
     *     refused
     */
    Access access(String volume, Peer client) throws IOException;
}
