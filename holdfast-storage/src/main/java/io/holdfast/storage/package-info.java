/** Holdfast storage module. */
package io.holdfast.storage;
