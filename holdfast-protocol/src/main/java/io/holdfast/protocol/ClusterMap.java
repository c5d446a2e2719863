package io.holdfast.protocol;

import io.holdfast.common.Errno;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.UUID;

/**
 * The cluster map: the nodes of a cluster and the volumes with their replica groups. It is the
 * state of the cluster group (a small Raft group on the first nodes); clients cache it.
 *
 * <p>Nodes are named by their address {@code host:port}, which is also their Raft peer id
 * ({@code host_port}), so a client that knows one address can reach the cluster.
 *
 * <p>Encoded form: {@code "HM"}, version byte, then the fields (see {@link #encode()}), then a
 * CRC32C; at most {@link #MAX_BYTES}. Version 3 added each volume's membership generation, its
 * replicas' join generations and the joining node; version 4 adds what each node advertised
 * ({@link NodeInfo}); version 5 adds the geo-replication sessions ({@link GeorepSession}) and is
 * written only by a map that has some, so a cluster without sessions writes the same bytes as
 * before; versions 1 to 3 are still read (generation 1, nobody joining, no node advertised).
 * Immutable and thread-safe.
 *
 * @param epoch the cluster group's applied index when this map was read; higher is newer
 * @param clusterId the cluster's identity, chosen when it was initialized
 * @param nodes node addresses ({@code host:port}) in the order they were configured, then added
 *     ({@code holdfast cluster add-node}); the first three hold the cluster group
 * @param volumes volumes by name
 * @param nodeInfo what each node advertised of its code, by address (nodes that have not
 *     advertised yet are absent and count as {@link NodeInfo#UNKNOWN})
 * @param georep the geo-replication sessions of this cluster's volumes, by name
 */
public record ClusterMap(
        long epoch,
        UUID clusterId,
        List<String> nodes,
        Map<String, Volume> volumes,
        Map<String, NodeInfo> nodeInfo,
        Map<String, GeorepSession> georep) {
    /** Largest encoded map, in bytes (1 MiB). */
    public static final int MAX_BYTES = 1 << 20;
    /** Most nodes or volumes in a map. */
    public static final int MAX_ENTRIES = 4096;

    private static final short MAGIC = 0x484d;
    private static final int VERSION = 5;
    /** The version written by a map without geo-replication sessions. */
    private static final int VERSION_WITHOUT_SESSIONS = 4;
    /** Longest string in an encoded map, in bytes of UTF-8. */
    public static final int MAX_STRING_BYTES = 1024;
    /** Most export ACL rules per volume. */
    public static final int MAX_ACL_RULES = 256;

    public ClusterMap {
        nodes = List.copyOf(nodes);
        volumes = Collections.unmodifiableMap(new LinkedHashMap<>(volumes));
        nodeInfo = Collections.unmodifiableMap(new TreeMap<>(nodeInfo));
        georep = Collections.unmodifiableMap(new TreeMap<>(georep));
    }

    /** A map without geo-replication sessions. */
    public ClusterMap(
            long epoch,
            UUID clusterId,
            List<String> nodes,
            Map<String, Volume> volumes,
            Map<String, NodeInfo> nodeInfo) {
        this(epoch, clusterId, nodes, volumes, nodeInfo, Map.of());
    }

    /** A map in which no node has advertised yet. */
    public ClusterMap(long epoch, UUID clusterId, List<String> nodes, Map<String, Volume> volumes) {
        this(epoch, clusterId, nodes, volumes, Map.of());
    }

    /**
     * A geo-replication session as the source cluster knows it (issue 15): its definition, kept
     * by the admin ({@code holdfast georep create|rm}), and the progress its worker last reported
     * ({@link ClusterCommand.GeorepProgress}). The worker itself keeps its exact position at the
     * target; this is the primary's view of it, so the primary can show every session's lag, and
     * a worker that stopped reporting shows a growing lag.
     *
     * @param name 1–64 characters of {@code [A-Za-z0-9._-]}
     * @param volume the source volume
     * @param target where the session replicates to, as its creator described it (a path at the
     *     disaster-recovery site, or {@code VOLUME@CLUSTER}); at most 1024 bytes of UTF-8
     * @param rpoMillis the recovery point objective in milliseconds; 0 = none
     * @param createdNanos when it was made, nanoseconds since the epoch
     * @param position the feed index the worker last reported as applied at the target; 0 = none
     * @param commitNanos commit time of the last change applied at the target, as reported; 0 if
     *     unknown
     * @param reportedNanos when the last report was applied (the cluster leader's clock); 0 = never
     */
    public record GeorepSession(
            String name,
            String volume,
            String target,
            long rpoMillis,
            long createdNanos,
            long position,
            long commitNanos,
            long reportedNanos) {
        public GeorepSession {
            checkSessionName(name);
            checkVolumeName(volume);
            Objects.requireNonNull(target, "target");
            if (target.isEmpty() || target.getBytes(StandardCharsets.UTF_8).length > MAX_STRING_BYTES) {
                throw new IllegalArgumentException(
                        "a session target of 1.." + MAX_STRING_BYTES + " bytes, got " + target.length() + " chars");
            }
            if (rpoMillis < 0 || position < 0) {
                throw new IllegalArgumentException("negative RPO or position in session " + name);
            }
        }

        /** This session with a report applied. */
        public GeorepSession reported(long newPosition, long newCommitNanos, long atNanos) {
            return new GeorepSession(
                    name, volume, target, rpoMillis, createdNanos, newPosition, newCommitNanos, atNanos);
        }

        /**
         * The lag in seconds at {@code nowNanos} against the volume's {@code appliedIndex}: 0 when
         * the reported position has reached it; otherwise now minus the reported commit time (or
         * minus the creation time, before any report), so a worker that stopped reporting shows a
         * growing lag.
         */
        public double lagSeconds(long appliedIndex, long nowNanos) {
            if (position >= appliedIndex) {
                return 0;
            }
            long since = commitNanos != 0 ? commitNanos : createdNanos;
            return Math.max(0, nowNanos - since) / 1e9;
        }
    }

    /** This map with {@code session} added or replacing the one of its name. */
    public ClusterMap withGeorepSession(GeorepSession session) {
        Map<String, GeorepSession> m = new TreeMap<>(georep);
        m.put(session.name(), session);
        return new ClusterMap(epoch, clusterId, nodes, volumes, nodeInfo, m);
    }

    /** This map without the session {@code name}. */
    public ClusterMap withoutGeorepSession(String name) {
        Map<String, GeorepSession> m = new TreeMap<>(georep);
        m.remove(name);
        return new ClusterMap(epoch, clusterId, nodes, volumes, nodeInfo, m);
    }

    /**
     * What a node advertised of its code ({@link ClusterCommand.AdvertiseNode}).
     *
     * @param minLogFormat the oldest log format it reads
     * @param maxLogFormat the newest log format it reads and writes
     * @param version its software version ({@code ""} if unknown)
     */
    public record NodeInfo(int minLogFormat, int maxLogFormat, String version) {
        /** A node that has not advertised: assumed to support log format 1 only. */
        public static final NodeInfo UNKNOWN = new NodeInfo(1, 1, "");

        public NodeInfo {
            Objects.requireNonNull(version, "version");
        }

        /** The range as people read it, {@code "1..2"}. */
        public String logFormats() {
            return LogFormat.range(minLogFormat, maxLogFormat);
        }
    }

    /** What {@code node} advertised, or {@link NodeInfo#UNKNOWN} if it has not. */
    public NodeInfo infoOf(String node) {
        return nodeInfo.getOrDefault(node, NodeInfo.UNKNOWN);
    }

    /**
     * The cluster's feature level: the newest log format every node of the map supports (a node
     * that has not advertised counts as supporting format 1 only). 1 for a map without nodes.
     */
    public int featureLevel() {
        return featureLevel(nodes);
    }

    /** The newest log format every one of {@code members} supports, per this map; 1 if none are given. */
    public int featureLevel(Collection<String> members) {
        return members.stream().mapToInt(n -> infoOf(n).maxLogFormat()).min().orElse(1);
    }

    /** This map with {@code node}'s advertisement recorded. */
    public ClusterMap withNodeInfo(String node, NodeInfo info) {
        Map<String, NodeInfo> m = new LinkedHashMap<>(nodeInfo);
        m.put(node, info);
        return new ClusterMap(epoch, clusterId, nodes, volumes, m, georep);
    }

    /**
     * A volume and the replica group that serves it.
     *
     * <p>Membership changes ({@code holdfast volume replace-replica}) go through two map changes:
     * the first names the {@code joining} node and raises the {@code generation}; once the
     * group's Raft configuration has the new member, the second swaps it for the replaced one in
     * {@code replicas}. A node serves the group while it is a replica or joining, and leaves it
     * (its brick set aside) once the map names it as neither.
     *
     * @param name volume name: 1–64 characters of {@code [A-Za-z0-9._-]}
     * @param groupId the Raft group id of its replica group; read it through {@link Placement},
     *     which decides which group serves which part of a volume
     * @param replicas member node addresses
     * @param createdNanos creation time, nanoseconds since the epoch
     * @param acl export ACL rules, evaluated in order (see {@link AclRule}); empty denies every
     *     client that is not the cluster's admin or a node
     * @param generation the group membership generation (DST's "age"): 1 at creation, one more
     *     for each replacement begun
     * @param since for each replica (same order), the generation at which it joined; a brick
     *     made before that is not this member's current brick
     * @param joining the node being added by a replacement in progress, or {@code ""}
     */
    public record Volume(
            String name,
            UUID groupId,
            List<String> replicas,
            long createdNanos,
            List<AclRule> acl,
            long generation,
            List<Long> since,
            String joining) {
        public Volume {
            replicas = List.copyOf(replicas);
            acl = List.copyOf(acl);
            since = List.copyOf(since);
            Objects.requireNonNull(joining, "joining");
            if (since.size() != replicas.size()) {
                throw new IllegalArgumentException(
                        since.size() + " join generations for " + replicas.size() + " replicas");
            }
        }

        /** A volume without ACL rules, of generation 1. */
        public Volume(String name, UUID groupId, List<String> replicas, long createdNanos) {
            this(name, groupId, replicas, createdNanos, List.of());
        }

        /** A volume of generation 1 (every replica there from the start) with no replacement under way. */
        public Volume(String name, UUID groupId, List<String> replicas, long createdNanos, List<AclRule> acl) {
            this(name, groupId, replicas, createdNanos, acl, 1, Collections.nCopies(replicas.size(), 1L), "");
        }

        /** Whether {@code node} serves this volume: a replica, or joining. */
        public boolean servedBy(String node) {
            return replicas.contains(node) || joining.equals(node);
        }

        /**
         * The generation at which {@code node} joined: its entry in {@link #since}, the current
         * generation if it is joining, or empty if it serves no replica.
         */
        public OptionalLong sinceOf(String node) {
            int i = replicas.indexOf(node);
            if (i >= 0) {
                return OptionalLong.of(since.get(i));
            }
            return joining.equals(node) && !node.isEmpty() ? OptionalLong.of(generation) : OptionalLong.empty();
        }

        /**
         * What a client gets: the first matching rule's access, else {@link Access#NONE}.
         *
         * @param clientName the client certificate's common name
         * @param address the client's IP address literal
         */
        public Access accessFor(String clientName, String address) {
            for (AclRule r : acl) {
                if (r.matches(clientName, address)) {
                    return r.access();
                }
            }
            return Access.NONE;
        }

        /** This volume with other ACL rules. */
        public Volume withAcl(List<AclRule> rules) {
            return new Volume(name, groupId, replicas, createdNanos, rules, generation, since, joining);
        }

        /**
         * This volume with a replacement begun: {@code newNode} joining, the generation one more.
         */
        public Volume beginReplace(String newNode) {
            return new Volume(name, groupId, replicas, createdNanos, acl, generation + 1, since, newNode);
        }

        /** This volume with the joining node in place of {@code oldNode}, no replacement under way. */
        public Volume commitReplace(String oldNode) {
            List<String> r = new ArrayList<>(replicas);
            List<Long> s = new ArrayList<>(since);
            int i = r.indexOf(oldNode);
            r.set(i, joining);
            s.set(i, generation);
            return new Volume(name, groupId, r, createdNanos, acl, generation, s, "");
        }
    }

    /**
     * Checks a geo-replication session name: the same alphabet as volume names.
     *
     * @throws IllegalArgumentException if it is not 1–64 characters of {@code [A-Za-z0-9._-]},
     *     or is {@code .} or {@code ..}
     */
    public static void checkSessionName(String name) {
        if (name == null || !name.matches("[A-Za-z0-9._-]{1,64}") || name.equals(".") || name.equals("..")) {
            throw new IllegalArgumentException("invalid georep session name "
                    + (name == null ? "null" : "\"" + name + "\"") + ": use 1-64 letters, digits, '.', '_' or '-'");
        }
    }

    /**
     * Checks a volume name.
     *
     * @throws IllegalArgumentException if the name is empty, longer than 64 characters, or has a
     *     character other than letters, digits, '.', '_' and '-'
     */
    public static void checkVolumeName(String name) {
        if (name == null || !name.matches("[A-Za-z0-9._-]{1,64}") || name.equals(".") || name.equals("..")) {
            throw new IllegalArgumentException("invalid volume name " + (name == null ? "null" : "\"" + name + "\"")
                    + ": use 1-64 letters, digits, '.', '_' or '-'");
        }
    }

    /**
     * Checks a node address {@code host:port}.
     *
     * @throws IllegalArgumentException if it is not of that form with a port in 1–65535
     */
    public static void checkAddress(String address) {
        int i = address == null ? -1 : address.lastIndexOf(':');
        if (i <= 0 || i == address.length() - 1) {
            throw new IllegalArgumentException("invalid node address \"" + address + "\": expected host:port");
        }
        try {
            int port = Integer.parseInt(address.substring(i + 1));
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("port out of range in \"" + address + "\"");
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("invalid port in node address \"" + address + "\"");
        }
    }

    /** The Raft peer id for a node address: {@code host:port} becomes {@code host_port}. */
    public static String peerId(String address) {
        return address.replace(':', '_');
    }

    /** Encodes the map. */
    public byte[] encode() {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeShort(MAGIC);
            out.writeByte(georep.isEmpty() ? VERSION_WITHOUT_SESSIONS : VERSION);
            out.writeLong(epoch);
            out.writeLong(clusterId.getMostSignificantBits());
            out.writeLong(clusterId.getLeastSignificantBits());
            out.writeInt(nodes.size());
            for (String n : nodes) {
                writeString(out, n);
            }
            out.writeInt(volumes.size());
            for (Volume v : volumes.values()) {
                writeString(out, v.name());
                out.writeLong(v.groupId().getMostSignificantBits());
                out.writeLong(v.groupId().getLeastSignificantBits());
                out.writeInt(v.replicas().size());
                for (String r : v.replicas()) {
                    writeString(out, r);
                }
                out.writeLong(v.createdNanos());
                out.writeInt(v.acl().size());
                for (AclRule r : v.acl()) {
                    writeString(out, r.identity());
                    writeString(out, r.network());
                    out.writeByte(r.access().code());
                }
                out.writeLong(v.generation());
                for (long g : v.since()) {
                    out.writeLong(g);
                }
                writeString(out, v.joining());
            }
            out.writeInt(nodeInfo.size());
            for (Map.Entry<String, NodeInfo> e : nodeInfo.entrySet()) {
                writeString(out, e.getKey());
                out.writeByte(e.getValue().minLogFormat());
                out.writeByte(e.getValue().maxLogFormat());
                writeString(out, e.getValue().version());
            }
            if (!georep.isEmpty()) {
                out.writeInt(georep.size());
                for (GeorepSession g : georep.values()) {
                    writeString(out, g.name());
                    writeString(out, g.volume());
                    writeString(out, g.target());
                    out.writeLong(g.rpoMillis());
                    out.writeLong(g.createdNanos());
                    out.writeLong(g.position());
                    out.writeLong(g.commitNanos());
                    out.writeLong(g.reportedNanos());
                }
            }
            out.flush();
            byte[] body = bytes.toByteArray();
            byte[] framed = Arrays.copyOf(body, body.length + 4);
            ByteBuffer.wrap(framed, body.length, 4).putInt(Checksums.crc32c(body));
            return framed;
        } catch (IOException e) {
            throw new IllegalStateException("in-memory stream failed", e);
        }
    }

    /**
     * Decodes a map.
     *
     * @throws ProtocolException if the bytes are not a map of this version, are corrupt, or are
     *     over a limit
     */
    public static ClusterMap decode(byte[] framed) throws ProtocolException {
        if (framed == null || framed.length < 7 || framed.length > MAX_BYTES) {
            throw new ProtocolException(
                    Errno.EBADMSG, "cluster map of " + (framed == null ? "no" : framed.length) + " bytes");
        }
        int stored = ByteBuffer.wrap(framed, framed.length - 4, 4).getInt();
        if (stored != Checksums.crc32c(framed, 0, framed.length - 4)) {
            throw new ProtocolException(Errno.EBADMSG, "cluster map checksum mismatch");
        }
        try {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(framed, 0, framed.length - 4));
            if (in.readShort() != MAGIC) {
                throw new ProtocolException(Errno.EPROTO, "not a cluster map (bad magic)");
            }
            int version = in.readUnsignedByte();
            if (version < 1 || version > VERSION) {
                throw new ProtocolException(
                        Errno.EPROTO,
                        "unsupported cluster map version " + version + " (this side speaks 1.." + VERSION + ")");
            }
            long epoch = in.readLong();
            UUID id = new UUID(in.readLong(), in.readLong());
            int n = count(in);
            List<String> nodes = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                nodes.add(readString(in));
            }
            int v = count(in);
            Map<String, Volume> volumes = new LinkedHashMap<>();
            for (int i = 0; i < v; i++) {
                String name = readString(in);
                UUID group = new UUID(in.readLong(), in.readLong());
                int r = count(in);
                List<String> replicas = new ArrayList<>(r);
                for (int j = 0; j < r; j++) {
                    replicas.add(readString(in));
                }
                long created = in.readLong();
                List<AclRule> acl = version >= 2 ? readAcl(in) : List.of();
                Volume vol;
                if (version >= 3) {
                    long generation = in.readLong();
                    if (generation < 1) {
                        throw new ProtocolException(
                                Errno.EBADMSG, "volume " + name + " of membership generation " + generation);
                    }
                    List<Long> since = new ArrayList<>(r);
                    for (int j = 0; j < r; j++) {
                        long g = in.readLong();
                        if (g < 1 || g > generation) {
                            throw new ProtocolException(
                                    Errno.EBADMSG,
                                    "replica of volume " + name + " joined at generation " + g + ", outside 1.."
                                            + generation);
                        }
                        since.add(g);
                    }
                    vol = new Volume(name, group, replicas, created, acl, generation, since, readString(in));
                } else {
                    vol = new Volume(name, group, replicas, created, acl);
                }
                if (volumes.put(name, vol) != null) {
                    throw new ProtocolException(Errno.EBADMSG, "volume " + name + " twice in cluster map");
                }
            }
            Map<String, NodeInfo> info = new LinkedHashMap<>();
            if (version >= 4) {
                int k = count(in);
                String previous = null;
                for (int i = 0; i < k; i++) {
                    String node = readString(in);
                    if (previous != null && previous.compareTo(node) >= 0) {
                        throw new ProtocolException(Errno.EBADMSG, "node advertisements out of order at " + node);
                    }
                    previous = node;
                    int min = in.readUnsignedByte();
                    int max = in.readUnsignedByte();
                    String sw = readString(in);
                    if (min < 1 || max < min) {
                        throw new ProtocolException(
                                Errno.EBADMSG, "node " + node + " advertises log formats " + min + ".." + max);
                    }
                    if (!nodes.contains(node) || info.put(node, new NodeInfo(min, max, sw)) != null) {
                        throw new ProtocolException(
                                Errno.EBADMSG, "advertisement of " + node + " twice or for no node of the map");
                    }
                }
            }
            Map<String, GeorepSession> sessions = new TreeMap<>();
            if (version >= 5) {
                int k = count(in);
                if (k == 0) {
                    throw new ProtocolException(Errno.EBADMSG, "cluster map of version 5 without sessions");
                }
                String previous = null;
                for (int i = 0; i < k; i++) {
                    String name = readString(in);
                    if (previous != null && previous.compareTo(name) >= 0) {
                        throw new ProtocolException(Errno.EBADMSG, "georep sessions out of order at " + name);
                    }
                    previous = name;
                    try {
                        sessions.put(
                                name,
                                new GeorepSession(
                                        name,
                                        readString(in),
                                        readString(in),
                                        in.readLong(),
                                        in.readLong(),
                                        in.readLong(),
                                        in.readLong(),
                                        in.readLong()));
                    } catch (IllegalArgumentException e) {
                        throw new ProtocolException(Errno.EBADMSG, "invalid georep session: " + e.getMessage());
                    }
                }
            }
            if (in.available() != 0) {
                throw new ProtocolException(Errno.EBADMSG, "trailing bytes after cluster map");
            }
            return new ClusterMap(epoch, id, nodes, volumes, info, sessions);
        } catch (ProtocolException e) {
            throw e;
        } catch (IOException e) {
            throw new ProtocolException(Errno.EBADMSG, "truncated cluster map");
        }
    }

    /** This map with other nodes. */
    public ClusterMap withNodes(List<String> newNodes) {
        Map<String, NodeInfo> kept = new LinkedHashMap<>(nodeInfo);
        kept.keySet().retainAll(newNodes);
        return new ClusterMap(epoch, clusterId, newNodes, volumes, kept, georep);
    }

    /** This map with {@code volume} added or replacing the one of its name. */
    public ClusterMap withVolume(Volume volume) {
        Map<String, Volume> vs = new LinkedHashMap<>(volumes);
        vs.put(volume.name(), volume);
        return new ClusterMap(epoch, clusterId, nodes, vs, nodeInfo, georep);
    }

    /** This map with another epoch. */
    public ClusterMap withEpoch(long newEpoch) {
        return new ClusterMap(newEpoch, clusterId, nodes, volumes, nodeInfo, georep);
    }

    /**
     * This map without export ACL rules and geo-replication sessions (what a client that is not
     * the admin is shown: sessions name paths at the disaster-recovery site).
     */
    public ClusterMap withoutAcls() {
        Map<String, Volume> stripped = new LinkedHashMap<>();
        volumes.forEach((name, v) -> stripped.put(name, v.withAcl(List.of())));
        return new ClusterMap(epoch, clusterId, nodes, stripped, nodeInfo, Map.of());
    }

    /** How many of the first nodes hold the cluster group. */
    public static final int CLUSTER_GROUP_SIZE = 3;

    /**
     * The nodes that hold the cluster group: the first {@value #CLUSTER_GROUP_SIZE} of
     * {@code nodes} (all of them if there are fewer).
     */
    public static List<String> clusterGroup(List<String> nodes) {
        return nodes.subList(0, Math.min(CLUSTER_GROUP_SIZE, nodes.size()));
    }

    /** The nodes of this map that hold the cluster group ({@link #clusterGroup(List)}). */
    public List<String> clusterGroup() {
        return clusterGroup(nodes);
    }

    /** Finds a volume. */
    public Optional<Volume> volume(String name) {
        return Optional.ofNullable(volumes.get(Objects.requireNonNull(name)));
    }

    private static List<AclRule> readAcl(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > MAX_ACL_RULES) {
            throw new ProtocolException(Errno.EBADMSG, "ACL of " + n + " rules outside 0.." + MAX_ACL_RULES);
        }
        List<AclRule> rules = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            String identity = readString(in);
            String network = readString(in);
            int access = in.readUnsignedByte();
            Access granted;
            try {
                granted = Access.fromCode(access);
            } catch (IllegalArgumentException e) {
                throw new ProtocolException(Errno.EBADMSG, e.getMessage() + " in ACL rule");
            }
            try {
                rules.add(new AclRule(identity, network, granted));
            } catch (IllegalArgumentException e) {
                throw new ProtocolException(Errno.EBADMSG, "invalid ACL rule in cluster map: " + e.getMessage());
            }
        }
        return rules;
    }

    private static int count(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > MAX_ENTRIES) {
            throw new ProtocolException(Errno.EBADMSG, "count " + n + " outside 0.." + MAX_ENTRIES);
        }
        return n;
    }

    private static void writeString(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeShort(b.length);
        out.write(b);
    }

    private static String readString(DataInputStream in) throws IOException {
        int len = in.readUnsignedShort();
        if (len > MAX_STRING_BYTES) {
            throw new ProtocolException(Errno.EBADMSG, "string of " + len + " bytes in cluster map");
        }
        byte[] b = new byte[len];
        in.readFully(b);
        String s = new String(b, StandardCharsets.UTF_8);
        // Malformed UTF-8 decodes to U+FFFD; only then is it worth checking that it was a real one.
        if (s.indexOf('\uFFFD') >= 0 && !Arrays.equals(s.getBytes(StandardCharsets.UTF_8), b)) {
            throw new ProtocolException(Errno.EBADMSG, "string in cluster map is not valid UTF-8");
        }
        return s;
    }
}
