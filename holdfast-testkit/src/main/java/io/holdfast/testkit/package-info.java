/**
 * Holdfast's test kit: an in-JVM {@link io.holdfast.testkit.MiniCluster} of nodes on loopback
 * ports, the {@link io.holdfast.testkit.FileSystemContract} written once and run against every
 * file system Holdfast builds on (its JUnit and AssertJ dependencies are optional: the extending
 * test brings them), {@link io.holdfast.testkit.TestVolumes} to open the NIO provider over an
 * in-process volume service, and fault-injection helpers. The catch-up benchmark runs on the
 * mini cluster too.
 */
package io.holdfast.testkit;
