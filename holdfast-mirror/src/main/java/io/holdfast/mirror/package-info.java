/**
 * Change capture for a plain local directory tree that is not on Holdfast (issue 15, item 3,
 * {@code holdfast mirror}): a {@link io.holdfast.mirror.LocalChangeSource} offers what changed in
 * the tree as a change feed of the same shape as a volume's
 * ({@link io.holdfast.protocol.Response.ChangePage} of {@link io.holdfast.protocol.ChangeRecord}s),
 * for a replication worker to tail. {@link io.holdfast.mirror.FanotifyChangeSource} watches the
 * tree with Linux fanotify (one mark for the whole file system, through the FFM API; root needed);
 * {@link io.holdfast.mirror.InotifyChangeSource} is the fallback (one watch per directory, no
 * privilege). Both fail to start with a {@link io.holdfast.mirror.ChangeCaptureUnavailableException}
 * that says why. The module depends on common and protocol only.
 */
package io.holdfast.mirror;
