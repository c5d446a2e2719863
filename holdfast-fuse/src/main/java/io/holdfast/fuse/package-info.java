/**
 * Mounting any {@link java.nio.file.Path} subtree (a local directory or a Holdfast volume) with
 * FUSE: {@link io.holdfast.fuse.FuseMount}, {@link io.holdfast.fuse.FuseOptions} and the
 * credentials hook {@link io.holdfast.fuse.CallerScope}. Built on cryptomator jfuse 0.7.3 and
 * the libfuse3 high-level API; everything else is package-private.
 */
package io.holdfast.fuse;
