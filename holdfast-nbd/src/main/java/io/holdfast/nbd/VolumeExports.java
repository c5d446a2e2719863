package io.holdfast.nbd;

import io.holdfast.protocol.Access;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.transport.Peer;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.ReadOnlyFileSystemException;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The exports of a Holdfast cluster: block images kept as regular files on its volumes, named
 * {@code VOLUME/path} (the path inside the volume, without a leading slash; e.g.
 * {@code vms/disks/web.img} for the file {@code /disks/web.img} of volume {@code vms}, which
 * qemu reaches as {@code nbd://HOST:10809/vms/disks/web.img}).
 *
 * <p>Each volume is opened once, as a {@code holdfast://} file system with this gateway's
 * credentials and options (TLS, ...); each image once, as one {@code FileChannel} shared by every
 * connection to it (so NBD_FLAG_CAN_MULTI_CONN holds: a flush on one connection waits for the
 * writes of all), and closed when its last connection ends.
 *
 * <p><b>Durability.</b> A WRITE returns once the write is ordered in the volume client's bounded
 * write-back window (8 MiB / 64 requests by default); reads on any connection see it from then on.
 * FLUSH (and FUA) is {@link FileChannel#force}: it returns when every write this gateway began on
 * the volume before it is committed by a majority of the volume's replicas, and reports a failed
 * one. Data not flushed may be lost if the gateway dies; data flushed survives the loss of any
 * minority of the replicas.
 *
 * <p>An image is served read-only when the gateway says so or when the volume is exported
 * read-only to its certificate. <b>Per-client permissions:</b> a client that presented a
 * certificate over TLS ({@link #open(String, Peer)}) gets what {@link ExportAccess} grants its
 * identity on the image's volume (with {@link ClusterAccess}: the volume's export ACL): nothing
 * refuses the export ({@link AccessDeniedException}, NBD_REP_ERR_POLICY), read-only serves it
 * read-only (NBD_FLAG_READ_ONLY, EPERM on writes), read-write as the gateway may; NBD_OPT_LIST
 * names only the exports it may open. A plaintext client ({@link #open(String)}) has no identity
 * and gets the gateway's access, as before these permissions existed.
 *
 * <p><b>Striped exports.</b> An image marked {@link #MARK_STRIPE} is a {@link StripeLayout}
 * descriptor: opening it opens every member image (leased and shared like any image, with the
 * same client's permissions) and serves them as one {@link StripedDevice}; a member marked
 * {@link #MARK_MEMBER} is not an export by itself.
 *
 * <p>If {@code allowed} names exports, only those are served (and listed by NBD_OPT_LIST; with
 * exactly one, it is also the default export, the empty name); otherwise every regular file of
 * every volume the gateway may reach is. Thread-safe.
 */
public final class VolumeExports implements ExportProvider, AutoCloseable {
    /**
     * An export name split into its volume and the absolute path in it.
     *
     * @param volume the volume's name
     * @param path the absolute path of the image in the volume, e.g. {@code /disks/web.img}
     */
    public record Name(String volume, String path) {
        /** The export name, {@code VOLUME/path} without the path's leading slash. */
        @Override
        public String toString() {
            return volume + path;
        }
    }

    /**
     * The extended attribute that marks the files {@code holdfast nbd create} makes; its value is
     * {@link #MARK_IMAGE}, {@link #MARK_STRIPE} or {@link #MARK_MEMBER}.
     */
    public static final String MARK = "holdfast.nbd";
    /** {@link #MARK}'s value on a plain image. */
    public static final String MARK_IMAGE = "image";
    /** {@link #MARK}'s value on a stripe descriptor ({@link StripeLayout}): the export is striped. */
    public static final String MARK_STRIPE = "stripe";
    /** {@link #MARK}'s value on a member image of a striped export (not an export by itself). */
    public static final String MARK_MEMBER = "stripe-member";

    private final String clusterAddress;
    private final Map<String, ?> env;
    private final List<String> allowed;
    private final boolean readOnly;
    private final ExportAccess access;
    private final Map<String, FileSystem> volumes = new HashMap<>();
    private final Map<String, Shared> open = new LinkedHashMap<>();
    private boolean closed;

    private static final class Shared {
        final FileChannelDevice device;
        int leases;

        Shared(FileChannelDevice device) {
            this.device = device;
        }
    }

    /**
     * Exports of the cluster reached at {@code clusterAddress}.
     *
     * @param clusterAddress any node, {@code HOST:PORT}
     * @param env options of the {@code holdfast://} file systems (TLS directory, {@code --insecure}, ...)
     * @param allowed the only export names to serve, or empty for all
     * @param readOnly serve every image read-only
     * @throws IllegalArgumentException if the address or an allowed name is malformed
     */
    public VolumeExports(String clusterAddress, Map<String, ?> env, List<String> allowed, boolean readOnly) {
        this(clusterAddress, env, allowed, readOnly, ExportAccess.GATEWAY);
    }

    /**
     * Exports of the cluster reached at {@code clusterAddress}, with per-client permissions for
     * clients that present a certificate.
     *
     * @param clusterAddress any node, {@code HOST:PORT}
     * @param env options of the {@code holdfast://} file systems (TLS directory, {@code --insecure}, ...)
     * @param allowed the only export names to serve, or empty for all
     * @param readOnly serve every image read-only
     * @param access what each client with a certificate may do ({@link ClusterAccess}: the export ACLs)
     * @throws IllegalArgumentException if the address or an allowed name is malformed
     */
    public VolumeExports(
            String clusterAddress, Map<String, ?> env, List<String> allowed, boolean readOnly, ExportAccess access) {
        ClusterMap.checkAddress(clusterAddress);
        this.access = Objects.requireNonNull(access, "access");
        this.clusterAddress = clusterAddress;
        this.env = Map.copyOf(env);
        List<String> names = new ArrayList<>();
        for (String a : allowed) {
            names.add(parse(a).toString());
        }
        this.allowed = List.copyOf(names);
        this.readOnly = readOnly;
    }

    /**
     * Splits an export name {@code VOLUME/path}.
     *
     * @throws IllegalArgumentException if it is not a valid volume name, a slash and a relative
     *     path of non-empty names other than {@code .} and {@code ..}
     */
    public static Name parse(String name) {
        Objects.requireNonNull(name, "name");
        int slash = name.indexOf('/');
        if (slash <= 0 || slash == name.length() - 1) {
            throw new IllegalArgumentException("export name '" + name + "' is not VOLUME/path (e.g. vms/disk.img)");
        }
        String volume = name.substring(0, slash);
        ClusterMap.checkVolumeName(volume);
        String rest = name.substring(slash + 1);
        for (String part : rest.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) {
                throw new IllegalArgumentException(
                        "export name '" + name + "': the path may not have empty, '.' or '..' parts");
            }
        }
        return new Name(volume, "/" + rest);
    }

    @Override
    public List<String> list() {
        if (!allowed.isEmpty()) {
            return allowed;
        }
        synchronized (this) {
            return List.copyOf(open.keySet());
        }
    }

    /** The exports of {@link #list()} that {@code client} may open. */
    @Override
    public List<String> list(Peer client) {
        List<String> out = new ArrayList<>();
        for (String name : list()) {
            try {
                if (access.access(parse(name).volume(), client) != Access.NONE) {
                    out.add(name);
                }
            } catch (IOException | RuntimeException e) {
                // not decidable now: not listed
            }
        }
        return out;
    }

    private synchronized FileSystem volume(String name) throws IOException {
        if (closed) {
            throw new IOException("the gateway is shutting down");
        }
        FileSystem fs = volumes.get(name);
        if (fs == null) {
            fs = FileSystems.newFileSystem(URI.create("holdfast://" + clusterAddress + "/" + name), env);
            volumes.put(name, fs);
        }
        return fs;
    }

    /** Opens an export for a client without a certificate: it gets what this gateway may do. */
    @Override
    public BlockDevice open(String requested) throws IOException {
        return open(requested, null, false);
    }

    /**
     * Opens an export for a client that presented a certificate: it gets what
     * {@link ExportAccess} grants it on the volume.
     *
     * @throws AccessDeniedException if it grants nothing, or cannot decide (NBD_REP_ERR_POLICY)
     */
    @Override
    public BlockDevice open(String requested, Peer client) throws IOException {
        return open(requested, Objects.requireNonNull(client, "client"), true);
    }

    private BlockDevice open(String requested, Peer client, boolean checked) throws IOException {
        return open(requested, client, checked, false);
    }

    /**
     * Opens an image, or a striped export and its members.
     *
     * @param member whether this is a member of a striped export being opened (not itself a
     *     stripe; not subject to {@code allowed}, which names the export)
     */
    private BlockDevice open(String requested, Peer client, boolean checked, boolean member) throws IOException {
        String wanted = requested;
        if (wanted.isEmpty()) {
            if (allowed.size() != 1) {
                throw new NoSuchFileException("", null, "there is no default export; name one as VOLUME/path");
            }
            wanted = allowed.getFirst();
        }
        Name name = parse(wanted);
        String key = name.toString();
        if (!member && !allowed.isEmpty() && !allowed.contains(key)) {
            throw new AccessDeniedException(key, null, "not among the exports this gateway serves");
        }
        boolean clientReadOnly = false;
        if (checked) {
            Access a;
            try {
                a = access.access(name.volume(), client);
            } catch (AccessDeniedException e) {
                throw e;
            } catch (IOException e) {
                throw new AccessDeniedException(
                        key, null, "cannot decide what " + client + " may do: " + e.getMessage());
            }
            if (a == Access.NONE) {
                throw new AccessDeniedException(
                        key,
                        null,
                        "volume " + name.volume() + " is not exported to " + client
                                + " (no ACL rule grants it; see 'holdfast volume acl " + name.volume() + " list')");
            }
            clientReadOnly = a == Access.READ_ONLY;
        }
        synchronized (this) {
            Shared s = open.get(key);
            if (s != null) {
                s.leases++;
                return new Lease(key, s.device, clientReadOnly);
            }
        }
        FileSystem fs = volume(name.volume());
        Path path = fs.getPath(name.path());
        BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!a.isRegularFile()) {
            throw new NoSuchFileException(key, null, "not a regular file");
        }
        String mark = mark(path);
        if (MARK_STRIPE.equals(mark)) {
            if (member) {
                throw new IOException("stripe member " + key + " is itself a stripe descriptor");
            }
            return openStripe(key, path, a.size(), client, checked);
        }
        if (!member && MARK_MEMBER.equals(mark)) {
            throw new AccessDeniedException(key, null, "a member of a striped export: open the export itself");
        }
        boolean ro = readOnly || fs.isReadOnly();
        FileChannel ch = ro
                ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileChannelDevice fresh = new FileChannelDevice(key, ch, ro);
        FileChannelDevice extra = null;
        Lease lease;
        synchronized (this) {
            if (closed) {
                extra = fresh;
                lease = null;
            } else {
                Shared s = open.get(key);
                if (s == null) {
                    s = new Shared(fresh);
                    open.put(key, s);
                } else {
                    extra = fresh; // another connection opened it meanwhile: share that one
                }
                s.leases++;
                lease = new Lease(key, s.device, clientReadOnly);
            }
        }
        if (extra != null) {
            extra.close();
        }
        if (lease == null) {
            throw new IOException("the gateway is shutting down");
        }
        return lease;
    }

    /** The {@link #MARK} attribute of an image, or null. */
    private static String mark(Path path) throws IOException {
        UserDefinedFileAttributeView v = Files.getFileAttributeView(path, UserDefinedFileAttributeView.class);
        if (v == null || !v.list().contains(MARK)) {
            return null;
        }
        int size = v.size(MARK);
        if (size > 64) {
            return null; // not one of ours
        }
        ByteBuffer b = ByteBuffer.allocate(size);
        v.read(MARK, b);
        return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8);
    }

    /**
     * Reads a stripe descriptor and opens its members with the same client's rights; a client
     * gets the narrowest access among the members' volumes (all must grant something).
     */
    private BlockDevice openStripe(String key, Path descriptor, long bytes, Peer client, boolean checked)
            throws IOException {
        if (bytes > StripeLayout.MAX_DESCRIPTOR_BYTES) {
            throw new IOException("stripe descriptor " + key + " is " + bytes + " bytes, larger than a descriptor");
        }
        StripeLayout layout;
        try {
            layout = StripeLayout.decode(Files.readAllBytes(descriptor));
        } catch (IllegalArgumentException e) {
            throw new IOException("stripe descriptor " + key + " is damaged: " + e.getMessage(), e);
        }
        List<BlockDevice> members = new ArrayList<>();
        try {
            for (String m : layout.members()) {
                BlockDevice d = open(m, client, checked, true);
                members.add(d);
                if (d.size() < layout.memberSize()) {
                    throw new IOException("stripe member " + m + " of " + key + " is " + d.size()
                            + " bytes; the layout needs " + layout.memberSize());
                }
            }
            return new StripedDevice(key, layout, members);
        } catch (IOException | RuntimeException e) {
            for (BlockDevice d : members) {
                try {
                    d.close();
                } catch (IOException | RuntimeException x) {
                    e.addSuppressed(x);
                }
            }
            throw e;
        }
    }

    private void release(String key) throws IOException {
        FileChannelDevice last = null;
        synchronized (this) {
            Shared s = open.get(key);
            if (s != null && --s.leases == 0) {
                open.remove(key);
                last = s.device;
            }
        }
        if (last != null) {
            last.close();
        }
    }

    /** Closes every image (waiting for their writes) and volume. Idempotent. */
    @Override
    public void close() throws IOException {
        List<AutoCloseable> toClose = new ArrayList<>();
        synchronized (this) {
            closed = true;
            for (Shared s : open.values()) {
                toClose.add(s.device);
            }
            open.clear();
            toClose.addAll(volumes.values());
            volumes.clear();
        }
        IOException first = null;
        for (AutoCloseable c : toClose) {
            try {
                c.close();
            } catch (Exception e) {
                IOException io = e instanceof IOException x ? x : new IOException(e);
                if (first == null) {
                    first = io;
                } else {
                    first.addSuppressed(io);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /**
     * One connection's use of a shared image; closing it releases the image once. A lease of a
     * read-only client refuses every change itself, whatever the shared device allows.
     */
    private final class Lease implements BlockDevice {
        private final String key;
        private final FileChannelDevice device;
        private final boolean clientReadOnly;
        private final AtomicBoolean released = new AtomicBoolean();

        Lease(String key, FileChannelDevice device, boolean clientReadOnly) {
            this.key = key;
            this.device = device;
            this.clientReadOnly = clientReadOnly;
        }

        private void writable() {
            if (clientReadOnly) {
                throw new ReadOnlyFileSystemException();
            }
        }

        @Override
        public String name() {
            return device.name();
        }

        @Override
        public long size() throws IOException {
            return device.size();
        }

        @Override
        public boolean readOnly() {
            return clientReadOnly || device.readOnly();
        }

        @Override
        public void read(ByteBuffer dst, long offset) throws IOException {
            device.read(dst, offset);
        }

        @Override
        public void write(ByteBuffer src, long offset) throws IOException {
            writable();
            device.write(src, offset);
        }

        @Override
        public void flush() throws IOException {
            device.flush();
        }

        @Override
        public void trim(long offset, long length) throws IOException {
            writable();
            device.trim(offset, length);
        }

        @Override
        public boolean zero(long offset, long length, boolean mayDeallocate, boolean fastOnly) throws IOException {
            writable();
            return device.zero(offset, length, mayDeallocate, fastOnly);
        }

        @Override
        public List<Extent> extents(long offset, long length, int maxExtents) throws IOException {
            return device.extents(offset, length, maxExtents);
        }

        @Override
        public void close() throws IOException {
            if (released.compareAndSet(false, true)) {
                release(key);
            }
        }
    }
}
