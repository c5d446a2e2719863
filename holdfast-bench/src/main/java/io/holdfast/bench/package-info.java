/** Holdfast bench module. */
package io.holdfast.bench;
