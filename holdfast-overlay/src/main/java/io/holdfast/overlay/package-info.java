/**
 * An overlay (union) file system over any two {@link java.nio.file.Path}s, for keeping a damaged
 * file system in service: {@link io.holdfast.overlay.OverlayFileSystem}, its provider, its status.
 */
package io.holdfast.overlay;
