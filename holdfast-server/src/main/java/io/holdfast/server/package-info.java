/** Holdfast server module. */
package io.holdfast.server;
