/**
 * A volume member's scrubber: {@link io.holdfast.server.scrub.Scrubber} is the surface the volume
 * state machine uses; the schedule, digest comparison, quarantine and rebuild are package-private.
 */
package io.holdfast.server.scrub;
