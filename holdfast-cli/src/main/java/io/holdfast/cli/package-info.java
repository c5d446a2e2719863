/** Holdfast cli module. */
package io.holdfast.cli;
