/**
 * The vocabulary every Holdfast front end shares, whatever it talks to: POSIX error numbers
 * ({@link io.holdfast.common.Errno}) and the exceptions that carry them, the caller's
 * credentials ({@link io.holdfast.common.Caller}), special files (mknod through a provider or
 * libc), a pacing token bucket ({@link io.holdfast.common.Pacer}), and the code table of enums
 * with stable wire codes ({@link io.holdfast.common.WireCodes}). It depends on no other Holdfast
 * module.
 */
package io.holdfast.common;
