/**
 * The Holdfast volume protocol: request and response records (their error numbers are
 * {@link io.holdfast.common.Errno}), and the binary codec that carries them between clients
 * and nodes and inside Raft log entries.
 *
 * <p>Every encoded message is self-describing: it starts with a magic number and a version
 * and ends with a CRC32C of everything before it (see {@link io.holdfast.protocol.Codec}).
 * Data carried by writes and reads has its own CRC32C, computed by the writer and checked by
 * every hop, so corruption is detected end to end.
 */
package io.holdfast.protocol;
