package io.holdfast.overlay;

/**
 * How the overlay records deletes (whiteouts) and directories that hide the lower layer (opaque
 * directories) in the upper layer.
 */
public enum WhiteoutFormat {
    /**
     * Linux overlayfs's on-disk format: a whiteout is a character device with device number 0/0 at
     * the deleted name; an opaque directory has the extended attribute {@code user.overlay.opaque}
     * set to {@code "y"} (the kernel reads it when mounted with {@code -o userxattr}). Needs an
     * upper layer that can hold device nodes (the local disk as root, a Holdfast volume) and user
     * extended attributes.
     */
    KERNEL,
    /**
     * The aufs (and OCI image layer) format, for upper layers that cannot hold a device node or a
     * user extended attribute: a whiteout is an empty regular file {@code .wh.NAME} beside the
     * deleted name, an opaque directory contains an empty file {@code .wh..wh..opq}. Names that start
     * with {@code .wh.} are then reserved: the overlay neither lists nor creates them. The kernel's
     * overlayfs does not read this format.
     */
    AUFS
}
