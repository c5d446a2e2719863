/**
 * The {@code holdfast://} {@link java.nio.file.spi.FileSystemProvider}: Holdfast volumes as
 * {@link java.nio.file.FileSystem}s, following the provider contract with the JDK's exception
 * vocabulary. Public: {@link io.holdfast.client.nio.HoldfastFileSystemProvider} (URI and env
 * keys) and {@link io.holdfast.client.nio.HoldfastFileSystem} (caller binding, write-behind
 * window) and {@link io.holdfast.client.nio.HoldfastFiles} (fallocate, SEEK_DATA/SEEK_HOLE);
 * paths, channels, views and streams are package-private.
 */
package io.holdfast.client.nio;
