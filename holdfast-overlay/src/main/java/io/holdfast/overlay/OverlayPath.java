package io.holdfast.overlay;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.ProviderMismatchException;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A path of an {@link OverlayFileSystem}: a POSIX path string ({@code "/"} separated, absolute when
 * it starts with {@code "/"}), kept with single separators and no trailing one, as the JDK's Unix
 * path is. Purely lexical: nothing here touches a layer. Immutable and thread-safe.
 */
final class OverlayPath implements Path {
    private final OverlayFileSystem fs;
    private final String path;
    private volatile String[] names;

    OverlayPath(OverlayFileSystem fs, String path) {
        this.fs = fs;
        this.path = clean(path);
    }

    private static String clean(String p) {
        if (p.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("a path may not contain NUL: " + p.replace('\0', '?'));
        }
        StringBuilder b = new StringBuilder(p.length());
        char prev = 0;
        for (int i = 0; i < p.length(); i++) {
            char c = p.charAt(i);
            if (c == '/' && prev == '/') {
                continue;
            }
            b.append(c);
            prev = c;
        }
        if (b.length() > 1 && b.charAt(b.length() - 1) == '/') {
            b.setLength(b.length() - 1);
        }
        return b.toString();
    }

    /** The names of this path, without the root; empty for "/" and "". */
    String[] names() {
        String[] n = names;
        if (n == null) {
            String rel = path.startsWith("/") ? path.substring(1) : path;
            n = rel.isEmpty() ? new String[0] : rel.split("/");
            names = n;
        }
        return n;
    }

    @Override
    public OverlayFileSystem getFileSystem() {
        return fs;
    }

    @Override
    public boolean isAbsolute() {
        return path.startsWith("/");
    }

    @Override
    public Path getRoot() {
        return isAbsolute() ? new OverlayPath(fs, "/") : null;
    }

    @Override
    public Path getFileName() {
        String[] n = names();
        if (n.length == 0) {
            return path.isEmpty() ? this : null;
        }
        return new OverlayPath(fs, n[n.length - 1]);
    }

    @Override
    public Path getParent() {
        String[] n = names();
        if (n.length == 0 || (n.length == 1 && !isAbsolute())) {
            return null;
        }
        return new OverlayPath(fs, (isAbsolute() ? "/" : "") + String.join("/", Arrays.copyOf(n, n.length - 1)));
    }

    @Override
    public int getNameCount() {
        return path.isEmpty() ? 1 : names().length;
    }

    @Override
    public Path getName(int index) {
        if (path.isEmpty() && index == 0) {
            return this;
        }
        String[] n = names();
        if (index < 0 || index >= n.length) {
            throw new IllegalArgumentException("no name " + index + " in " + path);
        }
        return new OverlayPath(fs, n[index]);
    }

    @Override
    public Path subpath(int beginIndex, int endIndex) {
        String[] n = names();
        if (beginIndex < 0 || endIndex > n.length || beginIndex >= endIndex) {
            throw new IllegalArgumentException("no subpath [" + beginIndex + ", " + endIndex + ") of " + path);
        }
        return new OverlayPath(fs, String.join("/", Arrays.copyOfRange(n, beginIndex, endIndex)));
    }

    @Override
    public boolean startsWith(Path other) {
        if (!(other instanceof OverlayPath o) || o.fs != fs || o.isAbsolute() != isAbsolute()) {
            return false;
        }
        String[] a = names();
        String[] b = o.names();
        if (b.length > a.length || (o.path.isEmpty() && !path.isEmpty())) {
            return false;
        }
        for (int i = 0; i < b.length; i++) {
            if (!a[i].equals(b[i])) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean endsWith(Path other) {
        if (!(other instanceof OverlayPath o) || o.fs != fs) {
            return false;
        }
        if (o.isAbsolute()) {
            return o.equals(this);
        }
        String[] a = names();
        String[] b = o.names();
        if (b.length > a.length || o.path.isEmpty()) {
            return o.path.equals(path);
        }
        for (int i = 0; i < b.length; i++) {
            if (!a[a.length - b.length + i].equals(b[i])) {
                return false;
            }
        }
        return true;
    }

    @Override
    public Path normalize() {
        List<String> out = new ArrayList<>();
        for (String s : names()) {
            if (s.equals(".")) {
                continue;
            }
            if (s.equals("..")) {
                if (!out.isEmpty() && !out.getLast().equals("..")) {
                    out.removeLast();
                    continue;
                }
                if (isAbsolute()) {
                    continue; // "/.." is "/"
                }
            }
            out.add(s);
        }
        return new OverlayPath(fs, (isAbsolute() ? "/" : "") + String.join("/", out));
    }

    @Override
    public Path resolve(Path other) {
        OverlayPath o = check(other);
        if (o.isAbsolute()) {
            return o;
        }
        if (o.path.isEmpty()) {
            return this;
        }
        if (path.isEmpty()) {
            return o;
        }
        return new OverlayPath(fs, path + "/" + o.path);
    }

    @Override
    public Path resolve(String other) {
        return resolve(new OverlayPath(fs, other));
    }

    @Override
    public Path relativize(Path other) {
        OverlayPath o = check(other);
        if (o.isAbsolute() != isAbsolute()) {
            throw new IllegalArgumentException("'" + other + "' and '" + this + "' are not both absolute or relative");
        }
        String[] a = names();
        String[] b = o.names();
        int common = 0;
        while (common < a.length && common < b.length && a[common].equals(b[common])) {
            common++;
        }
        List<String> out = new ArrayList<>();
        for (int i = common; i < a.length; i++) {
            out.add("..");
        }
        out.addAll(Arrays.asList(b).subList(common, b.length));
        return new OverlayPath(fs, String.join("/", out));
    }

    @Override
    public URI toUri() {
        try {
            return new URI(
                    OverlayFileSystemProvider.SCHEME, fs.id(), toAbsolutePath().toString(), null);
        } catch (URISyntaxException e) {
            throw new IllegalStateException("cannot form a URI of " + path, e);
        }
    }

    @Override
    public OverlayPath toAbsolutePath() {
        return isAbsolute() ? this : new OverlayPath(fs, "/" + path);
    }

    @Override
    public Path toRealPath(LinkOption... options) throws IOException {
        return fs.overlay().realPath(this, Overlay.follows(options));
    }

    @Override
    public WatchKey register(WatchService watcher, WatchEvent.Kind<?>[] events, WatchEvent.Modifier... modifiers) {
        throw new UnsupportedOperationException("the overlay has no watch service");
    }

    @Override
    public int compareTo(Path other) {
        return path.compareTo(((OverlayPath) other).path);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OverlayPath p && p.fs == fs && p.path.equals(path);
    }

    @Override
    public int hashCode() {
        return Objects.hash(System.identityHashCode(fs), path);
    }

    @Override
    public String toString() {
        return path;
    }

    /** {@code p} as a path of this file system. */
    OverlayPath check(Path p) {
        Objects.requireNonNull(p, "path");
        if (!(p instanceof OverlayPath o) || o.fs != fs) {
            throw new ProviderMismatchException("not a path of " + fs + ": " + p);
        }
        return o;
    }
}
