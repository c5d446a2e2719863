/**
 * One volume member: {@link io.holdfast.server.volume.VolumeStateMachine}, the Ratis adapter, over
 * a package-private member object that owns the brick, its scrubber and the disk reserve.
 */
package io.holdfast.server.volume;
