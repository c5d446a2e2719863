/**
 * The Holdfast client: {@link HoldfastClient} connects to a cluster, keeps its
 * map and opens volumes; {@link ClusterAdmin} changes the map (volumes, export
 * ACLs, nodes, replica replacement); {@link MemberProbe} asks individual
 * members (digests, group info, node probes, per-member queries). Both are handed out by the
 * client and share its connections. The {@code holdfast://} NIO provider is in
 * {@code io.holdfast.client.nio}.
 */
package io.holdfast.client;
