/**
 * Change capture for a plain local directory tree that is not on Holdfast (issue 15, item 3,
 * {@code holdfast mirror}): {@link io.holdfast.mirror.FanotifyChangeSource} watches one tree with
 * Linux fanotify (one mark for the whole file system, through the FFM API) and offers what changed
 * as a change feed of the same shape as a volume's ({@link io.holdfast.protocol.Response.ChangePage}),
 * for a replication worker to tail. It depends on common and protocol only.
 */
package io.holdfast.mirror;
