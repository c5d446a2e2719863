package io.holdfast.common;

/**
 * POSIX error numbers used by the Holdfast protocol, with their Linux values.
 *
 * <p>Outcomes of mutations are decided at apply time on every member of a replica group, so
 * the same request yields the same {@code Errno} everywhere.
 */
public enum Errno implements WireCode {
    /** Success. */
    OK(0),
    EPERM(1),
    ENOENT(2),
    EIO(5),
    /**
     * No such device or address: opening a special file (FIFO, device, socket) for I/O through
     * the volume API, which keeps no data for them (POSIX {@code open(2)}); also lseek(2)
     * SEEK_DATA/SEEK_HOLE at or past the end.
     */
    ENXIO(6),
    EBADF(9),
    EAGAIN(11),
    EACCES(13),
    EBUSY(16),
    EEXIST(17),
    EXDEV(18),
    ENOTDIR(20),
    EISDIR(21),
    EINVAL(22),
    EFBIG(27),
    ENOSPC(28),
    EROFS(30),
    EMLINK(31),
    ERANGE(34),
    ENAMETOOLONG(36),
    ENOTEMPTY(39),
    ELOOP(40),
    ENODATA(61),
    EPROTO(71),
    EBADMSG(74),
    EOVERFLOW(75),
    ENOTSUP(95),
    ETIMEDOUT(110),
    ESTALE(116);

    private static final WireCodes<Errno> CODES = WireCodes.of(Errno.class, "errno");

    private final int code;

    Errno(int code) {
        this.code = code;
    }

    /** The Linux errno value, e.g. 2 for {@link #ENOENT}. */
    @Override
    public int code() {
        return code;
    }

    /**
     * Returns the constant with the given Linux value.
     *
     * @throws IllegalArgumentException if no constant has that value
     */
    public static Errno fromCode(int code) {
        return CODES.fromCode(code);
    }
}
