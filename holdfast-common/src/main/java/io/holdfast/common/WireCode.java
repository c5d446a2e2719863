package io.holdfast.common;

/**
 * A constant with a numeric code that is stable on the wire or on disk: an enum implements it
 * and looks its constants up by code through {@link WireCodes}. Codes are never renumbered or
 * reused; a new constant takes a new code.
 */
public interface WireCode {
    /** The stable code, from 0 to {@link WireCodes#MAX_CODE}. */
    int code();
}
