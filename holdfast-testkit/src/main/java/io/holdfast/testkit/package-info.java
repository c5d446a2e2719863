/** Holdfast testkit module. */
package io.holdfast.testkit;
