/** Holdfast fuse module. */
package io.holdfast.fuse;
