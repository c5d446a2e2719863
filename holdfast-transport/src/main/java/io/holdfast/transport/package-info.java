/**
 * What Holdfast clients and nodes share about connections: the Raft ids derived from Holdfast
 * names ({@link io.holdfast.transport.ClusterIds}), TLS identity (files, roles, the peer of a
 * connection, the transport settings), and how a node refuses a request or a connection
 * ({@link io.holdfast.transport.Refusal}).
 */
package io.holdfast.transport;
