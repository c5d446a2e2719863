package io.holdfast.protocol;

import io.holdfast.common.Caller;

/**
 * Size limits of the protocol. Every decoder checks them before allocating; a message over
 * a limit is refused with a {@link ProtocolException} and changes nothing.
 */
public final class Limits {
    /** Longest name of one directory entry, in UTF-8 bytes (POSIX {@code NAME_MAX}). */
    public static final int NAME_MAX = 255;
    /**
     * Longest path one system call takes, in UTF-8 bytes (POSIX {@code PATH_MAX}): a symbolic
     * link's target, a path as a user writes it (a command-line argument).
     */
    public static final int PATH_MAX = 4096;
    /**
     * Longest path of a volume, from its root, in UTF-8 bytes including the leading slash (32 KiB).
     * Deeper than {@link #PATH_MAX}: POSIX limits one system call's path argument, not the depth
     * of a tree, so a process whose working directory sits deep in a mounted volume may name a
     * path up to {@code PATH_MAX} bytes relative to it. A mutation naming a path longer than
     * {@code PATH_MAX} needs log format {@link LogFormat#DEEP_PATHS}.
     */
    public static final int VOLUME_PATH_MAX = 32 * 1024;
    /** Largest data payload of one write or read, in bytes (1 MiB). */
    public static final int MAX_DATA_BYTES = 1 << 20;
    /** Largest extended attribute value, in bytes (64 KiB, as Linux). */
    public static final int MAX_XATTR_VALUE_BYTES = 64 * 1024;
    /** Longest extended attribute name, in bytes (as Linux). */
    public static final int MAX_XATTR_NAME_BYTES = 255;
    /** Most entries in one page of a directory listing. */
    public static final int MAX_DIR_PAGE_ENTRIES = 4096;
    /** Most names in one extended attribute listing. */
    public static final int MAX_XATTR_NAMES = 4096;
    /** Most supplementary groups carried by a {@link Caller}. */
    public static final int MAX_GROUPS = 64;
    /** Largest encoded message, in bytes: one full data payload plus headroom (2 MiB). */
    public static final int MAX_FRAME_BYTES = 2 << 20;
    /** Most directory digests in one page of a scrub comparison ({@link Response.DirDigests}). */
    public static final int MAX_DIGEST_PAGE_ENTRIES = 8192;
    /** Longest text field of {@link ScrubStats} (quarantine reason, last problem), in UTF-8 bytes. */
    public static final int MAX_SCRUB_TEXT_BYTES = 1024;
    /** Largest file size, in bytes (1 TiB). */
    public static final long MAX_FILE_SIZE = 1L << 40;

    private Limits() {}
}
