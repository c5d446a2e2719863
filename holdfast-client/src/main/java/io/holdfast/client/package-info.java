/** Holdfast client module. */
package io.holdfast.client;
