/** Holdfast common module. */
package io.holdfast.common;
