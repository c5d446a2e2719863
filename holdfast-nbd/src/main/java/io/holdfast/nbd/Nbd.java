package io.holdfast.nbd;

/**
 * The numbers of the NBD protocol that this server speaks ("The NBD protocol", {@code doc/proto.md}
 * of the NetworkBlockDevice/nbd repository, section "Values"). All fields travel in network byte
 * order (big-endian).
 */
final class Nbd {
    private Nbd() {}

    // ---- magic numbers -------------------------------------------------------------------
    /** {@code NBDMAGIC}, the first 8 bytes the server sends. */
    static final long INIT_PASSWD = 0x4e42444d41474943L;
    /** {@code IHAVEOPT}: follows {@link #INIT_PASSWD}, and starts every option request. */
    static final long IHAVEOPT = 0x49484156454F5054L;
    /** Starts every option reply. */
    static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;
    /** {@code NBD_REQUEST_MAGIC}. */
    static final int REQUEST_MAGIC = 0x25609513;
    /** {@code NBD_SIMPLE_REPLY_MAGIC}. */
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    /** {@code NBD_STRUCTURED_REPLY_MAGIC}. */
    static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;

    // ---- handshake flags (16 bits, server) and client flags (32 bits) ----------------------
    static final int FLAG_FIXED_NEWSTYLE = 1;
    static final int FLAG_NO_ZEROES = 1 << 1;
    static final int FLAG_C_FIXED_NEWSTYLE = 1;
    static final int FLAG_C_NO_ZEROES = 1 << 1;

    // ---- transmission flags (16 bits) -----------------------------------------------------
    static final int FLAG_HAS_FLAGS = 1;
    static final int FLAG_READ_ONLY = 1 << 1;
    static final int FLAG_SEND_FLUSH = 1 << 2;
    static final int FLAG_SEND_FUA = 1 << 3;
    static final int FLAG_SEND_TRIM = 1 << 5;
    static final int FLAG_SEND_WRITE_ZEROES = 1 << 6;
    static final int FLAG_SEND_DF = 1 << 7;
    static final int FLAG_CAN_MULTI_CONN = 1 << 8;
    static final int FLAG_SEND_CACHE = 1 << 10;
    static final int FLAG_SEND_FAST_ZERO = 1 << 11;

    // ---- options ----------------------------------------------------------------------------
    static final int OPT_EXPORT_NAME = 1;
    static final int OPT_ABORT = 2;
    static final int OPT_LIST = 3;
    static final int OPT_STARTTLS = 5;
    static final int OPT_INFO = 6;
    static final int OPT_GO = 7;
    static final int OPT_STRUCTURED_REPLY = 8;
    static final int OPT_LIST_META_CONTEXT = 9;
    static final int OPT_SET_META_CONTEXT = 10;

    // ---- option replies ---------------------------------------------------------------------
    static final int REP_ACK = 1;
    static final int REP_SERVER = 2;
    static final int REP_INFO = 3;
    static final int REP_META_CONTEXT = 4;
    static final int REP_ERR_UNSUP = 0x80000001;
    static final int REP_ERR_POLICY = 0x80000002;
    static final int REP_ERR_INVALID = 0x80000003;
    static final int REP_ERR_TLS_REQD = 0x80000005;
    static final int REP_ERR_UNKNOWN = 0x80000006;
    static final int REP_ERR_SHUTDOWN = 0x80000007;
    static final int REP_ERR_TOO_BIG = 0x80000009;

    // ---- NBD_REP_INFO types -------------------------------------------------------------------
    static final int INFO_EXPORT = 0;
    static final int INFO_NAME = 1;
    static final int INFO_DESCRIPTION = 2;
    static final int INFO_BLOCK_SIZE = 3;

    // ---- commands and command flags -----------------------------------------------------------
    static final int CMD_READ = 0;
    static final int CMD_WRITE = 1;
    static final int CMD_DISC = 2;
    static final int CMD_FLUSH = 3;
    static final int CMD_TRIM = 4;
    static final int CMD_CACHE = 5;
    static final int CMD_WRITE_ZEROES = 6;
    static final int CMD_BLOCK_STATUS = 7;

    static final int CMD_FLAG_FUA = 1;
    static final int CMD_FLAG_NO_HOLE = 1 << 1;
    static final int CMD_FLAG_DF = 1 << 2;
    static final int CMD_FLAG_REQ_ONE = 1 << 3;
    static final int CMD_FLAG_FAST_ZERO = 1 << 4;

    // ---- structured reply types and flags -----------------------------------------------------
    static final int REPLY_FLAG_DONE = 1;
    static final int REPLY_TYPE_NONE = 0;
    static final int REPLY_TYPE_OFFSET_DATA = 1;
    static final int REPLY_TYPE_BLOCK_STATUS = 5;
    static final int REPLY_TYPE_ERROR = 0x8001;

    // ---- errors -------------------------------------------------------------------------------
    static final int EPERM = 1;
    static final int EIO = 5;
    static final int EINVAL = 22;
    static final int ENOSPC = 28;
    static final int EOVERFLOW = 75;
    static final int ENOTSUP = 95;
    static final int ESHUTDOWN = 108;

    // ---- base:allocation ----------------------------------------------------------------------
    static final String BASE_ALLOCATION = "base:allocation";
    /** The id this server gives {@code base:allocation} when a client selects it. */
    static final int BASE_ALLOCATION_ID = 1;

    static final int STATE_HOLE = 1;
    static final int STATE_ZERO = 1 << 1;

    // ---- limits -------------------------------------------------------------------------------
    /** Longest string (export name, query, message) the protocol allows: 4096 bytes. */
    static final int MAX_STRING_BYTES = 4096;
    /** Largest READ or WRITE payload: 32 MiB, the protocol's default maximum payload. */
    static final int MAX_PAYLOAD_BYTES = 32 << 20;
    /** Preferred block size advertised: 4 KiB. */
    static final int PREFERRED_BLOCK_BYTES = 4096;
    /** Minimum block size advertised: 1 byte (the image is a regular file). */
    static final int MIN_BLOCK_BYTES = 1;
    /**
     * Largest option data this server reads: 64 KiB (an NBD_OPT_SET_META_CONTEXT with many
     * queries fits). Longer option data is skipped unread and answered with NBD_REP_ERR_TOO_BIG.
     */
    static final int MAX_OPTION_BYTES = 64 << 10;
    /** Most queries in one NBD_OPT_SET_META_CONTEXT or NBD_OPT_LIST_META_CONTEXT: 128. */
    static final int MAX_META_QUERIES = 128;

    /** A command's name, for messages. */
    static String commandName(int type) {
        return switch (type) {
            case CMD_READ -> "NBD_CMD_READ";
            case CMD_WRITE -> "NBD_CMD_WRITE";
            case CMD_DISC -> "NBD_CMD_DISC";
            case CMD_FLUSH -> "NBD_CMD_FLUSH";
            case CMD_TRIM -> "NBD_CMD_TRIM";
            case CMD_CACHE -> "NBD_CMD_CACHE";
            case CMD_WRITE_ZEROES -> "NBD_CMD_WRITE_ZEROES";
            case CMD_BLOCK_STATUS -> "NBD_CMD_BLOCK_STATUS";
            default -> "command " + type;
        };
    }
}
