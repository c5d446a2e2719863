/** In-JVM mini cluster and fault-injection helpers for Holdfast tests. */
package io.holdfast.testkit;
