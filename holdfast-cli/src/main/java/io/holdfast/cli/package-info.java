/** The {@code holdfast} command line: servers, cluster and volume administration, file commands, mount, bench, demo. */
package io.holdfast.cli;
