/**
 * Geo-replication: a worker that keeps a target directory tree (any {@link java.nio.file.Path}) equal
 * to a source tree by tailing the source volume's change feed (DESIGN.md section 5):
 * {@link io.holdfast.georep.GeoReplicator}, fed by a {@link io.holdfast.georep.ChangeSource}.
 */
package io.holdfast.georep;
