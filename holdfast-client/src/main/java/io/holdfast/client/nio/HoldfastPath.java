package io.holdfast.client.nio;

import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Limits;
import io.holdfast.protocol.PathNames;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.ProviderMismatchException;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;

/**
 * A unix-style path of a Holdfast volume, following the {@link Path} contract.
 *
 * <p>Immutable and thread-safe. Path algebra never touches the volume; only
 * {@link #toRealPath} does. The empty path has one empty name, as in the JDK.
 */
final class HoldfastPath implements Path {
    private final HoldfastFileSystem fs;
    private final boolean absolute;
    /** Names; the empty path is {@code [""]}, the root is absolute with no names. */
    private final List<String> names;

    private String string;

    private HoldfastPath(HoldfastFileSystem fs, boolean absolute, List<String> names) {
        this.fs = fs;
        this.absolute = absolute;
        this.names = names;
    }

    /**
     * Parses a path string.
     *
     * @throws InvalidPathException if it contains NUL or an unpaired surrogate (a string with no
     *     UTF-8 form), as the JDK's unix paths do
     */
    static HoldfastPath parse(HoldfastFileSystem fs, String input) {
        int nul = input.indexOf('\0');
        if (nul >= 0) {
            throw new InvalidPathException(input, "Nul character not allowed", nul);
        }
        int malformed = PathNames.unpairedSurrogate(input);
        if (malformed >= 0) {
            throw new InvalidPathException(input, "Malformed input or input contains unmappable characters", malformed);
        }
        boolean abs = input.startsWith("/");
        List<String> parts = new ArrayList<>();
        for (String s : input.split("/")) {
            if (!s.isEmpty()) {
                parts.add(s);
            }
        }
        if (!abs && parts.isEmpty()) {
            return new HoldfastPath(fs, false, List.of(""));
        }
        return new HoldfastPath(fs, abs, List.copyOf(parts));
    }

    static HoldfastPath root(HoldfastFileSystem fs) {
        return new HoldfastPath(fs, true, List.of());
    }

    private HoldfastPath of(boolean abs, List<String> parts) {
        if (!abs && parts.isEmpty()) {
            return new HoldfastPath(fs, false, List.of(""));
        }
        return new HoldfastPath(fs, abs, List.copyOf(parts));
    }

    private boolean isEmptyPath() {
        return !absolute && names.size() == 1 && names.get(0).isEmpty();
    }

    List<String> names() {
        return isEmptyPath() ? List.of() : names;
    }

    /**
     * The volume path this path denotes: absolute (relative paths are resolved against
     * {@code /}) and normalized ({@code ..} at the root stays at the root).
     *
     * @throws ErrnoFileSystemException {@link Errno#ENAMETOOLONG} if a name is longer than
     *     {@link Limits#NAME_MAX} bytes or the path, as written and resolved against {@code /}
     *     but before {@code .} and {@code ..} are removed (as the kernel counts), longer than
     *     {@link Limits#VOLUME_PATH_MAX} bytes
     */
    String volumePath() throws ErrnoFileSystemException {
        try {
            PathNames.checkLengths(absolute ? toString() : "/" + toString(), Limits.VOLUME_PATH_MAX);
        } catch (HoldfastException e) {
            throw new ErrnoFileSystemException(toString(), null, Errno.ENAMETOOLONG, "File name too long");
        }
        List<String> out = new ArrayList<>();
        for (String n : names()) {
            if (n.equals(".")) {
                continue;
            }
            if (n.equals("..")) {
                if (!out.isEmpty()) {
                    out.removeLast();
                }
                continue;
            }
            out.add(n);
        }
        return "/" + String.join("/", out);
    }

    @Override
    public HoldfastFileSystem getFileSystem() {
        return fs;
    }

    @Override
    public boolean isAbsolute() {
        return absolute;
    }

    @Override
    public HoldfastPath getRoot() {
        return absolute ? root(fs) : null;
    }

    @Override
    public HoldfastPath getFileName() {
        if (names.isEmpty()) {
            return null;
        }
        if (isEmptyPath()) {
            return this;
        }
        return of(false, List.of(names.getLast()));
    }

    @Override
    public HoldfastPath getParent() {
        if (names.isEmpty() || isEmptyPath()) {
            return null;
        }
        if (names.size() == 1) {
            return absolute ? root(fs) : null;
        }
        return of(absolute, names.subList(0, names.size() - 1));
    }

    @Override
    public int getNameCount() {
        return names.size();
    }

    @Override
    public HoldfastPath getName(int index) {
        if (index < 0 || index >= names.size()) {
            throw new IllegalArgumentException("index " + index + " out of range for " + this);
        }
        return of(false, List.of(names.get(index)));
    }

    @Override
    public HoldfastPath subpath(int beginIndex, int endIndex) {
        if (beginIndex < 0 || beginIndex >= names.size() || endIndex > names.size() || beginIndex >= endIndex) {
            throw new IllegalArgumentException(
                    "subpath(" + beginIndex + ", " + endIndex + ") out of range for " + this);
        }
        return of(false, names.subList(beginIndex, endIndex));
    }

    @Override
    public boolean startsWith(Path other) {
        if (!(Objects.requireNonNull(other) instanceof HoldfastPath o) || o.fs != fs) {
            return false;
        }
        if (o.absolute != absolute || o.names.size() > names.size()) {
            return false;
        }
        if (o.isEmptyPath()) {
            return isEmptyPath();
        }
        return names.subList(0, o.names.size()).equals(o.names);
    }

    @Override
    public boolean endsWith(Path other) {
        if (!(Objects.requireNonNull(other) instanceof HoldfastPath o) || o.fs != fs) {
            return false;
        }
        if (o.absolute) {
            return equals(o);
        }
        if (o.isEmptyPath()) {
            return isEmptyPath();
        }
        if (isEmptyPath() || o.names.size() > names.size()) {
            return false;
        }
        return names.subList(names.size() - o.names.size(), names.size()).equals(o.names);
    }

    @Override
    public HoldfastPath normalize() {
        List<String> out = new ArrayList<>();
        for (String n : names()) {
            if (n.equals(".")) {
                continue;
            }
            if (n.equals("..")) {
                if (!out.isEmpty() && !out.getLast().equals("..")) {
                    out.removeLast();
                } else if (!absolute) {
                    out.add(n);
                }
                continue;
            }
            out.add(n);
        }
        return of(absolute, out);
    }

    @Override
    public HoldfastPath resolve(Path other) {
        HoldfastPath o = check(other);
        if (o.absolute) {
            return o;
        }
        if (o.isEmptyPath()) {
            return this;
        }
        if (isEmptyPath()) {
            return o;
        }
        List<String> joined = new ArrayList<>(names);
        joined.addAll(o.names);
        return of(absolute, joined);
    }

    @Override
    public HoldfastPath resolve(String other) {
        return resolve(parse(fs, other));
    }

    @Override
    public HoldfastPath resolveSibling(Path other) {
        HoldfastPath o = check(other);
        HoldfastPath parent = getParent();
        return parent == null ? o : parent.resolve(o);
    }

    @Override
    public HoldfastPath resolveSibling(String other) {
        return resolveSibling(parse(fs, other));
    }

    @Override
    public HoldfastPath relativize(Path other) {
        HoldfastPath o = check(other);
        if (o.absolute != absolute) {
            throw new IllegalArgumentException("'other' is different type of Path");
        }
        if (equals(o)) {
            return of(false, List.of());
        }
        if (isEmptyPath()) {
            return o;
        }
        List<String> base = names();
        List<String> target = o.names();
        int common = 0;
        while (common < base.size()
                && common < target.size()
                && base.get(common).equals(target.get(common))) {
            common++;
        }
        List<String> out = new ArrayList<>();
        for (int i = common; i < base.size(); i++) {
            out.add("..");
        }
        out.addAll(target.subList(common, target.size()));
        return of(false, out);
    }

    @Override
    public URI toUri() {
        try {
            return new URI(
                    HoldfastFileSystemProvider.SCHEME,
                    fs.authority(),
                    // normalized, so that no .. can climb from the volume's name to another volume
                    "/" + fs.volume() + toAbsolutePath().normalize().toString(),
                    null,
                    null);
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    @Override
    public HoldfastPath toAbsolutePath() {
        fs.checkOpen();
        return absolute ? this : root(fs).resolve(this);
    }

    @Override
    public HoldfastPath toRealPath(LinkOption... options) throws IOException {
        return fs.provider().realPath(this, options);
    }

    @Override
    public WatchKey register(WatchService watcher, WatchEvent.Kind<?>[] events, WatchEvent.Modifier... modifiers) {
        throw new UnsupportedOperationException("watch service not supported by Holdfast yet");
    }

    @Override
    public WatchKey register(WatchService watcher, WatchEvent.Kind<?>... events) {
        throw new UnsupportedOperationException("watch service not supported by Holdfast yet");
    }

    @Override
    public Iterator<Path> iterator() {
        List<Path> out = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            out.add(getName(i));
        }
        return out.iterator();
    }

    @Override
    public int compareTo(Path other) {
        return toString().compareTo(((HoldfastPath) other).toString());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HoldfastPath p && p.fs == fs && p.toString().equals(toString());
    }

    @Override
    public int hashCode() {
        return toString().hashCode();
    }

    @Override
    public String toString() {
        String s = string;
        if (s == null) {
            s = absolute ? "/" + String.join("/", names) : String.join("/", names);
            string = s;
        }
        return s;
    }

    private HoldfastPath check(Path other) {
        Objects.requireNonNull(other);
        if (!(other instanceof HoldfastPath p) || p.fs != fs) {
            throw new ProviderMismatchException();
        }
        return p;
    }
}
