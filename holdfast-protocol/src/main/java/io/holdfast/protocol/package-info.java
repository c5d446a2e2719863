/** Holdfast protocol module. */
package io.holdfast.protocol;
