package io.holdfast.protocol;

import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Validation and splitting of volume paths.
 *
 * <p>A volume path is absolute ({@code /} is the volume's root), uses {@code /} as separator,
 * has no empty, {@code .} or {@code ..} components, no NUL bytes, no unpaired surrogates (it
 * must have a UTF-8 form), components of at most {@link Limits#NAME_MAX} bytes and a total of
 * at most {@link Limits#VOLUME_PATH_MAX} bytes (UTF-8). Clients normalize paths before sending; nodes
 * refuse anything else.
 */
public final class PathNames {
    private PathNames() {}

    /**
     * Checks a volume path and returns its components ({@code /} has none).
     *
     * @throws HoldfastException {@link Errno#ENAMETOOLONG} for a name or path over its limit,
     *     {@link Errno#EINVAL} for a relative path, NUL byte, unpaired surrogate, or empty,
     *     {@code .} or {@code ..} component
     */
    public static List<String> split(String path) throws HoldfastException {
        if (path == null || path.isEmpty() || path.charAt(0) != '/') {
            throw new HoldfastException(Errno.EINVAL, "path must be absolute: " + quote(path));
        }
        if (utf8Length(path) > Limits.VOLUME_PATH_MAX) {
            throw new HoldfastException(Errno.ENAMETOOLONG, "path longer than " + Limits.VOLUME_PATH_MAX + " bytes");
        }
        if (path.indexOf('\0') >= 0) {
            throw new HoldfastException(Errno.EINVAL, "path contains a NUL byte: " + quote(path));
        }
        List<String> parts = new ArrayList<>();
        if (path.equals("/")) {
            return parts;
        }
        int start = 1;
        while (start <= path.length()) {
            int end = path.indexOf('/', start);
            if (end < 0) {
                end = path.length();
            }
            String name = path.substring(start, end);
            checkName(name);
            parts.add(name);
            start = end + 1;
        }
        return parts;
    }

    /**
     * Checks one directory entry name.
     *
     * @throws HoldfastException {@link Errno#ENAMETOOLONG} if over {@link Limits#NAME_MAX}
     *     bytes, {@link Errno#EINVAL} if empty, {@code .}, {@code ..}, or containing {@code /},
     *     NUL or an unpaired surrogate
     */
    public static void checkName(String name) throws HoldfastException {
        if (name.isEmpty() || name.equals(".") || name.equals("..")) {
            throw new HoldfastException(Errno.EINVAL, "invalid name " + quote(name));
        }
        if (name.indexOf('/') >= 0 || name.indexOf('\0') >= 0) {
            throw new HoldfastException(Errno.EINVAL, "name contains '/' or NUL: " + quote(name));
        }
        if (unpairedSurrogate(name) >= 0) {
            throw new HoldfastException(Errno.EINVAL, "name is not valid Unicode (unpaired surrogate)");
        }
        if (utf8Length(name) > Limits.NAME_MAX) {
            throw new HoldfastException(Errno.ENAMETOOLONG, "name longer than " + Limits.NAME_MAX + " bytes");
        }
    }

    /**
     * Checks the length limits of a path as written, before {@code .} and {@code ..} are
     * resolved, as the kernel does: each component at most {@link Limits#NAME_MAX} bytes, the
     * whole at most {@link Limits#PATH_MAX} bytes (UTF-8), the limit of one system call's argument.
     * Nothing else is checked: the path may be relative and have empty, {@code .} and {@code ..}
     * components.
     *
     * @throws HoldfastException {@link Errno#ENAMETOOLONG} for a name or path over its limit
     */
    public static void checkLengths(String path) throws HoldfastException {
        checkLengths(path, Limits.PATH_MAX);
    }

    /**
     * Checks the length limits of a path as written, as {@link #checkLengths(String)} does, with a
     * total of at most {@code maxBytes} (UTF-8): {@link Limits#VOLUME_PATH_MAX} for a path from a
     * volume's root.
     *
     * @throws HoldfastException {@link Errno#ENAMETOOLONG} for a name or path over its limit
     */
    public static void checkLengths(String path, int maxBytes) throws HoldfastException {
        if (utf8Length(path) > maxBytes) {
            throw new HoldfastException(Errno.ENAMETOOLONG, "path longer than " + maxBytes + " bytes");
        }
        int start = 0;
        while (start <= path.length()) {
            int end = path.indexOf('/', start);
            if (end < 0) {
                end = path.length();
            }
            if (utf8Length(path.substring(start, end)) > Limits.NAME_MAX) {
                throw new HoldfastException(Errno.ENAMETOOLONG, "name longer than " + Limits.NAME_MAX + " bytes");
            }
            start = end + 1;
        }
    }

    /**
     * The index of the first unpaired surrogate in {@code s}, or -1 if it has none (and so has a
     * UTF-8 form).
     */
    public static int unpairedSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return i;
            }
        }
        return -1;
    }

    /** Joins components into a volume path; no components gives {@code /}. */
    public static String join(List<String> parts) {
        if (parts.isEmpty()) {
            return "/";
        }
        StringBuilder sb = new StringBuilder();
        for (String p : parts) {
            sb.append('/').append(p);
        }
        return sb.toString();
    }

    /** The parent path of {@code path}; the parent of {@code /} is {@code /}. */
    public static String parent(String path) {
        int i = path.lastIndexOf('/');
        return i <= 0 ? "/" : path.substring(0, i);
    }

    /** The last component of {@code path}; empty for {@code /}. */
    public static String fileName(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    static int utf8Length(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    private static String quote(String s) {
        if (s == null) {
            return "null";
        }
        String shown = s.length() > 80 ? s.substring(0, 80) + "…" : s;
        return "\"" + shown.replace("\0", "\\0") + "\"";
    }
}
