package io.holdfast.protocol;

import io.holdfast.common.Errno;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A request to the cluster group. Encoded as {@code "HC"}, version, kind, fields; at most
 * {@link #MAX_BYTES}.
 */
public sealed interface ClusterCommand {
    /** Largest encoded command, in bytes. */
    int MAX_BYTES = 64 * 1024;

    /** Reads the cluster map (a query). Reply: the encoded {@link ClusterMap}. */
    record GetMap() implements ClusterCommand {}

    /**
     * Creates a volume served by a new replica group on {@code replicas} (a mutation). Reply:
     * the encoded {@link ClusterMap} after the change, or an error frame.
     */
    record CreateVolume(String name, List<String> replicas) implements ClusterCommand {
        public CreateVolume {
            replicas = List.copyOf(replicas);
        }
    }

    /**
     * Appends a rule to a volume's export ACL (a mutation; admin only). Reply: the map after the
     * change, or an error frame (ENOENT for an unknown volume, EEXIST if the rule is there,
     * ENOSPC past {@link ClusterMap#MAX_ACL_RULES}).
     */
    record AddAclRule(String volume, AclRule rule) implements ClusterCommand {}

    /**
     * Removes a rule from a volume's export ACL (a mutation; admin only). Reply: the map after
     * the change, or an error frame (ENOENT if the volume or the rule does not exist).
     */
    record RemoveAclRule(String volume, AclRule rule) implements ClusterCommand {}

    /**
     * Adds a node to the cluster (a mutation; admin only). The node must be running and
     * configured for this cluster; it then serves the volumes later placed on it. Reply: the map
     * after the change, or an error frame (EEXIST if it is a node already, EINVAL for a bad
     * address).
     */
    record AddNode(String address) implements ClusterCommand {}

    /**
     * Removes a node from the cluster (a mutation; admin only). Refused with EBUSY while a volume
     * still has a replica on it (move them with {@link ReplaceReplica} first: {@code holdfast
     * cluster remove-node} does) or while it holds the cluster group; ENOENT if it is not a node.
     */
    record RemoveNode(String address) implements ClusterCommand {}

    /**
     * One step of replacing a volume's replica {@code oldNode} by {@code newNode} (a mutation;
     * admin only). {@code commit == false} begins: the map names {@code newNode} as joining and
     * raises the membership generation, and {@code newNode} starts an empty member of the group.
     * After the group's Raft configuration has been changed to include {@code newNode} instead of
     * {@code oldNode}, {@code commit == true} makes the map say so, and {@code oldNode} leaves the
     * group. Repeating a step that is done is answered with the map, so an interrupted
     * replacement is finished by running it again. Errors: ENOENT (no such volume or node),
     * EINVAL ({@code oldNode} not a replica, {@code newNode} already one, a commit with no such
     * replacement begun), EBUSY (another replacement of the volume is under way).
     */
    record ReplaceReplica(String volume, String oldNode, String newNode, boolean commit) implements ClusterCommand {}

    /**
     * A node's advertisement of what its code supports (a mutation; a node's or the admin's
     * certificate), sent by the node at start-up and whenever the map it sees does not show it yet.
     * The map keeps it per node (see {@link ClusterMap.NodeInfo}); the cluster's feature level is
     * the highest log format every node supports. Reply: the map after the change, or an error
     * frame (ENOENT if {@code address} is not a node, EINVAL for a bad range).
     *
     * @param address the node ({@code host:port})
     * @param minLogFormat the oldest log format it reads, at least 1
     * @param maxLogFormat the newest log format it reads and writes, at least {@code minLogFormat}, at most 255
     * @param version its software version, at most {@link #MAX_VERSION_CHARS} characters
     */
    record AdvertiseNode(String address, int minLogFormat, int maxLogFormat, String version) implements ClusterCommand {
        public AdvertiseNode {
            Objects.requireNonNull(address, "address");
            Objects.requireNonNull(version, "version");
            if (minLogFormat < 1 || maxLogFormat < minLogFormat || maxLogFormat > 255) {
                throw new IllegalArgumentException("log format range " + minLogFormat + ".." + maxLogFormat
                        + " is not within 1..255 with min <= max");
            }
            if (version.length() > MAX_VERSION_CHARS) {
                throw new IllegalArgumentException(
                        "version of " + version.length() + " characters, more than " + MAX_VERSION_CHARS);
            }
        }
    }

    /** Longest software version in an {@link AdvertiseNode}, in characters. */
    int MAX_VERSION_CHARS = 64;

    /**
     * Adds a geo-replication session to the map, or replaces its definition (admin only; log
     * format {@link LogFormat#GEOREP_SESSIONS}). A replaced session keeps its reported progress
     * if it names the same volume. Fails with ENOENT if there is no such volume.
     *
     * @param rpoMillis the recovery point objective in milliseconds (0 = none)
     */
    record PutGeorepSession(String name, String volume, String target, long rpoMillis) implements ClusterCommand {
        public PutGeorepSession {
            // the same checks as the map's session, with a placeholder for what the map adds
            new ClusterMap.GeorepSession(name, volume, target, rpoMillis, 0, 0, 0, 0);
        }
    }

    /** Removes a geo-replication session from the map (admin only); ENOENT if there is none. */
    record RemoveGeorepSession(String name) implements ClusterCommand {
        public RemoveGeorepSession {
            ClusterMap.checkSessionName(name);
        }
    }

    /**
     * A geo-replication worker's progress: the feed index applied and recorded at its target and
     * the commit time of the last change applied there. Allowed to the admin and to any client
     * the session's volume is exported to (read access is enough: the worker only reads the
     * volume). The position never goes back (a smaller one is kept as the larger). ENOENT if
     * there is no such session.
     */
    record GeorepProgress(String name, long position, long commitNanos) implements ClusterCommand {
        public GeorepProgress {
            ClusterMap.checkSessionName(name);
            if (position < 0) {
                throw new IllegalArgumentException("negative position " + position);
            }
        }
    }

    /**
     * The capability and version handshake (a query), sent by a client when it connects; the
     * node answers with its own {@code Hello}. Each side checks that the version ranges overlap
     * and that the other offers every feature it requires, and fails with a message naming both
     * sides otherwise.
     *
     * @param minVersion lowest protocol version spoken
     * @param maxVersion highest protocol version spoken
     * @param features offered features, {@code name=value} ({@code checksum=crc32c},
     *     {@code compression=none}, {@code identity=x509}); at most {@link #MAX_FEATURES}
     * @param required features the sender requires of the other side
     * @param peer in a node's answer: how the node sees the client (identity, role, address);
     *     empty in a client's hello
     */
    record Hello(int minVersion, int maxVersion, List<String> features, List<String> required, String peer)
            implements ClusterCommand {
        public Hello {
            features = List.copyOf(features);
            required = List.copyOf(required);
            Objects.requireNonNull(peer, "peer");
        }

        /**
         * Why this side cannot talk to {@code other}, or null if it can.
         *
         * @param self how to name this side in the message ("client", "node 10.0.0.1:7001")
         * @param otherName how to name the other side
         */
        public String incompatibility(String self, Hello other, String otherName) {
            if (other.maxVersion() < minVersion || other.minVersion() > maxVersion) {
                return self + " speaks protocol versions " + minVersion + ".." + maxVersion + ", " + otherName
                        + " speaks " + other.minVersion() + ".." + other.maxVersion() + "; upgrade the older side";
            }
            for (String f : required) {
                if (!other.features().contains(f)) {
                    return self + " requires feature " + f + ", which " + otherName + " does not offer (it offers "
                            + String.join(", ", other.features()) + ")";
                }
            }
            return null;
        }
    }

    /** The highest command kind this code knows (kinds are 1..KINDS, never renumbered). */
    int KINDS = 12;

    /** Most features in a {@link Hello} list. */
    int MAX_FEATURES = 32;

    /** Encodes a command. */
    static byte[] encode(ClusterCommand c) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeShort(0x4843);
            out.writeByte(1);
            switch (c) {
                case GetMap g -> out.writeByte(1);
                case CreateVolume v -> {
                    out.writeByte(2);
                    out.writeUTF(v.name());
                    out.writeShort(v.replicas().size());
                    for (String r : v.replicas()) {
                        out.writeUTF(r);
                    }
                }
                case AddAclRule a -> {
                    out.writeByte(3);
                    writeRule(out, a.volume(), a.rule());
                }
                case RemoveAclRule r -> {
                    out.writeByte(4);
                    writeRule(out, r.volume(), r.rule());
                }
                case Hello h -> {
                    out.writeByte(5);
                    out.writeInt(h.minVersion());
                    out.writeInt(h.maxVersion());
                    writeList(out, h.features());
                    writeList(out, h.required());
                    out.writeUTF(h.peer());
                }
                case AddNode a -> {
                    out.writeByte(6);
                    out.writeUTF(a.address());
                }
                case RemoveNode r -> {
                    out.writeByte(7);
                    out.writeUTF(r.address());
                }
                case ReplaceReplica r -> {
                    out.writeByte(8);
                    out.writeUTF(r.volume());
                    out.writeUTF(r.oldNode());
                    out.writeUTF(r.newNode());
                    out.writeBoolean(r.commit());
                }
                case AdvertiseNode a -> {
                    out.writeByte(9);
                    out.writeUTF(a.address());
                    out.writeByte(a.minLogFormat());
                    out.writeByte(a.maxLogFormat());
                    out.writeUTF(a.version());
                }
                case PutGeorepSession g -> {
                    out.writeByte(10);
                    out.writeUTF(g.name());
                    out.writeUTF(g.volume());
                    out.writeUTF(g.target());
                    out.writeLong(g.rpoMillis());
                }
                case RemoveGeorepSession r -> {
                    out.writeByte(11);
                    out.writeUTF(r.name());
                }
                case GeorepProgress g -> {
                    out.writeByte(12);
                    out.writeUTF(g.name());
                    out.writeLong(g.position());
                    out.writeLong(g.commitNanos());
                }
            }
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Decodes a command. Only the form {@link #encode} writes is accepted: strings in modified
     * UTF-8 with NUL as two bytes and no overlong forms, so equal commands have equal bytes.
     *
     * @throws ProtocolException if malformed, not in that form, over a limit, or of another version
     */
    static ClusterCommand decode(byte[] b) throws ProtocolException {
        if (b == null || b.length > MAX_BYTES || b.length < 4) {
            throw new ProtocolException(
                    Errno.EBADMSG, "cluster command of " + (b == null ? "no" : b.length) + " bytes");
        }
        try {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(b));
            if (in.readShort() != 0x4843) {
                throw new ProtocolException(Errno.EPROTO, "not a cluster command (bad magic)");
            }
            int version = in.readUnsignedByte();
            if (version != 1) {
                throw new ProtocolException(
                        Errno.EPROTO, "unsupported cluster command version " + version + " (this side speaks 1)");
            }
            int kind = in.readUnsignedByte();
            ClusterCommand c = switch (kind) {
                case 1 -> new GetMap();
                case 2 -> {
                    String name = in.readUTF();
                    int n = in.readUnsignedShort();
                    if (n > 64) {
                        throw new ProtocolException(Errno.EBADMSG, n + " replicas");
                    }
                    List<String> replicas = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        replicas.add(in.readUTF());
                    }
                    yield new CreateVolume(name, replicas);
                }
                case 3 -> {
                    String volume = in.readUTF();
                    yield new AddAclRule(volume, readRule(in));
                }
                case 4 -> {
                    String volume = in.readUTF();
                    yield new RemoveAclRule(volume, readRule(in));
                }
                case 5 -> new Hello(in.readInt(), in.readInt(), readList(in), readList(in), in.readUTF());
                case 6 -> new AddNode(in.readUTF());
                case 7 -> new RemoveNode(in.readUTF());
                case 8 -> new ReplaceReplica(in.readUTF(), in.readUTF(), in.readUTF(), in.readBoolean());
                case 9 -> {
                    String address = in.readUTF();
                    int min = in.readUnsignedByte();
                    int max = in.readUnsignedByte();
                    String software = in.readUTF();
                    try {
                        yield new AdvertiseNode(address, min, max, software);
                    } catch (IllegalArgumentException e) {
                        throw new ProtocolException(Errno.EBADMSG, "invalid node advertisement: " + e.getMessage());
                    }
                }
                case 10 -> {
                    String name = in.readUTF();
                    String volume = in.readUTF();
                    String target = in.readUTF();
                    long rpo = in.readLong();
                    try {
                        yield new PutGeorepSession(name, volume, target, rpo);
                    } catch (IllegalArgumentException e) {
                        throw new ProtocolException(Errno.EBADMSG, "invalid georep session: " + e.getMessage());
                    }
                }
                case 11 -> {
                    String name = in.readUTF();
                    try {
                        yield new RemoveGeorepSession(name);
                    } catch (IllegalArgumentException e) {
                        throw new ProtocolException(Errno.EBADMSG, "invalid georep session: " + e.getMessage());
                    }
                }
                case 12 -> {
                    String name = in.readUTF();
                    long position = in.readLong();
                    long commit = in.readLong();
                    try {
                        yield new GeorepProgress(name, position, commit);
                    } catch (IllegalArgumentException e) {
                        throw new ProtocolException(Errno.EBADMSG, "invalid georep progress: " + e.getMessage());
                    }
                }
                default -> throw new ProtocolException(Errno.EBADMSG, "unknown cluster command " + kind);
            };
            if (in.available() != 0) {
                throw new ProtocolException(Errno.EBADMSG, "trailing bytes after cluster command");
            }
            byte[] canonical;
            try {
                canonical = encode(c);
            } catch (IllegalStateException e) {
                canonical = null; // a string whose modified UTF-8 form would exceed 65535 bytes
            }
            if (!Arrays.equals(canonical, b)) {
                throw new ProtocolException(Errno.EBADMSG, "cluster command not in canonical form (modified UTF-8)");
            }
            return c;
        } catch (ProtocolException e) {
            throw e;
        } catch (IOException e) {
            throw new ProtocolException(Errno.EBADMSG, "truncated cluster command");
        }
    }

    private static void writeRule(DataOutputStream out, String volume, AclRule rule) throws IOException {
        out.writeUTF(volume);
        out.writeUTF(rule.identity());
        out.writeUTF(rule.network());
        out.writeByte(rule.access().code());
    }

    private static AclRule readRule(DataInputStream in) throws IOException {
        String identity = in.readUTF();
        String network = in.readUTF();
        int access = in.readUnsignedByte();
        Access granted;
        try {
            granted = Access.fromCode(access);
        } catch (IllegalArgumentException e) {
            throw new ProtocolException(Errno.EBADMSG, e.getMessage());
        }
        try {
            return new AclRule(identity, network, granted);
        } catch (IllegalArgumentException e) {
            throw new ProtocolException(Errno.EBADMSG, "invalid ACL rule: " + e.getMessage());
        }
    }

    private static void writeList(DataOutputStream out, List<String> list) throws IOException {
        out.writeByte(list.size());
        for (String s : list) {
            out.writeUTF(s);
        }
    }

    private static List<String> readList(DataInputStream in) throws IOException {
        int n = in.readUnsignedByte();
        if (n > MAX_FEATURES) {
            throw new ProtocolException(Errno.EBADMSG, n + " features, more than " + MAX_FEATURES);
        }
        List<String> list = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            list.add(in.readUTF());
        }
        return list;
    }
}
