/**
 * Holdfast's NBD gateway: replicated block devices for any NBD client. {@link io.holdfast.nbd.NbdServer}
 * speaks the protocol ("The NBD protocol", {@code doc/proto.md} of the NetworkBlockDevice/nbd
 * repository) over Netty; {@link io.holdfast.nbd.VolumeExports} serves block images kept as regular
 * files on Holdfast volumes through the {@code holdfast://} file system.
 */
package io.holdfast.nbd;
