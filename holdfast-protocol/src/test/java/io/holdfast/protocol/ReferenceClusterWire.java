package io.holdfast.protocol;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.TreeMap;

/**
 * Reference models of the cluster group's wire formats, written from their documentation.
 *
 * <p>{@link ClusterCommand}: {@code "HC"}, version 1, kind, then the fields: strings as a
 * 2-byte length and modified UTF-8 (as {@link java.io.DataOutput#writeUTF}), the replica count
 * as 2 bytes, feature list counts as 1 byte, an ACL rule as volume, identity, network and the
 * access ordinal, a boolean as one byte 0 or 1; no checksum; at most {@link
 * ClusterCommand#MAX_BYTES}.
 *
 * <p>{@link ClusterMap}: {@code "HM"}, version, epoch, cluster id, counted node list, counted
 * volume list (name, group id, counted replicas, creation time, and from version 2 a counted
 * ACL of identity, network and access ordinal), strings as a 2-byte length and UTF-8 of at
 * most 1024 bytes, counts as 4 bytes up to {@link ClusterMap#MAX_ENTRIES} (ACLs up to {@link
 * ClusterMap#MAX_ACL_RULES}), from version 3 the membership generation (8 bytes, at least 1),
 * one join generation per replica (8 bytes each, 1..generation) and the joining node (a
 * string), from version 4 a counted list of node advertisements in ascending order of address
 * (address, min and max log format as one byte each, software version), then a CRC32C; at most
 * {@link ClusterMap#MAX_BYTES}. From version 5, a counted (at least one) list of geo-replication
 * sessions in ascending order of name (name, volume, target, then RPO, creation time, position,
 * commit time and report time as 8 bytes each), written only by a map that has sessions; a map
 * without them is written as version 4. Versions 1 to 3 are still read.
 */
final class ReferenceClusterWire {
    /** Header of a cluster command. */
    static final byte[] COMMAND_HEADER = {'H', 'C', 1};
    /** Header of a cluster map as written now. */
    static final byte[] MAP_HEADER = {'H', 'M', 4};
    /** Most replicas a cluster command carries. */
    static final int MAX_COMMAND_REPLICAS = 64;
    /** Longest string in a cluster map, in bytes. */
    static final int MAX_MAP_STRING_BYTES = 1024;

    private ReferenceClusterWire() {}

    static WireWriter.Encoding encode(ClusterCommand command) {
        WireWriter w = new WireWriter().raw(COMMAND_HEADER);
        switch (command) {
            case ClusterCommand.GetMap g -> w.u8(1);
            case ClusterCommand.CreateVolume v -> {
                modifiedUtf8(w.u8(2), v.name(), "name");
                w.count(v.replicas().size(), 2, MAX_COMMAND_REPLICAS, "replicas");
                for (String r : v.replicas()) {
                    modifiedUtf8(w, r, "replica");
                }
            }
            case ClusterCommand.AddAclRule a -> rule(w.u8(3), a.volume(), a.rule());
            case ClusterCommand.RemoveAclRule r -> rule(w.u8(4), r.volume(), r.rule());
            case ClusterCommand.Hello h -> {
                w.u8(5).i32(h.minVersion()).i32(h.maxVersion());
                list(w, h.features(), "features");
                list(w, h.required(), "required features");
                modifiedUtf8(w, h.peer(), "peer");
            }
            case ClusterCommand.AddNode a -> modifiedUtf8(w.u8(6), a.address(), "address");
            case ClusterCommand.RemoveNode r -> modifiedUtf8(w.u8(7), r.address(), "address");
            case ClusterCommand.ReplaceReplica r -> {
                modifiedUtf8(w.u8(8), r.volume(), "volume");
                modifiedUtf8(w, r.oldNode(), "old node");
                modifiedUtf8(w, r.newNode(), "new node");
                w.u8(r.commit() ? 1 : 0);
            }
            case ClusterCommand.AdvertiseNode a -> {
                modifiedUtf8(w.u8(9), a.address(), "address");
                w.u8(a.minLogFormat()).u8(a.maxLogFormat());
                modifiedUtf8(w, a.version(), "version");
            }
            case ClusterCommand.PutGeorepSession g -> {
                modifiedUtf8(w.u8(10), g.name(), "name");
                modifiedUtf8(w, g.volume(), "volume");
                modifiedUtf8(w, g.target(), "target");
                w.i64(g.rpoMillis());
            }
            case ClusterCommand.RemoveGeorepSession r -> modifiedUtf8(w.u8(11), r.name(), "name");
            case ClusterCommand.GeorepProgress g -> {
                modifiedUtf8(w.u8(12), g.name(), "name");
                w.i64(g.position()).i64(g.commitNanos());
            }
        }
        return w.finish(false);
    }

    private static void rule(WireWriter w, String volume, AclRule rule) {
        modifiedUtf8(w, volume, "volume");
        modifiedUtf8(w, rule.identity(), "identity");
        modifiedUtf8(w, rule.network(), "network");
        w.u8(rule.access().ordinal());
    }

    private static void list(WireWriter w, List<String> list, String what) {
        w.count(list.size(), 1, ClusterCommand.MAX_FEATURES, what);
        for (String s : list) {
            modifiedUtf8(w, s, "feature");
        }
    }

    /** A map as written now: version 5 if it has geo-replication sessions, else version 4. */
    static WireWriter.Encoding encode(ClusterMap map) {
        return encode(map, map.georep().isEmpty() ? 4 : 5);
    }

    /**
     * A map in the given version; version 1 has no ACLs, so they must be empty, and versions 1
     * and 2 have no membership generations, so every volume must be of generation 1 with nobody
     * joining.
     */
    static WireWriter.Encoding encode(ClusterMap map, int version) {
        WireWriter w =
                new WireWriter().raw(new byte[] {'H', 'M', (byte) version}).i64(map.epoch());
        w.i64(map.clusterId().getMostSignificantBits()).i64(map.clusterId().getLeastSignificantBits());
        w.count(map.nodes().size(), 4, ClusterMap.MAX_ENTRIES, "nodes");
        for (String n : map.nodes()) {
            utf8(w, n, "node");
        }
        w.count(map.volumes().size(), 4, ClusterMap.MAX_ENTRIES, "volumes");
        for (ClusterMap.Volume v : map.volumes().values()) {
            utf8(w, v.name(), "volume name");
            w.i64(v.groupId().getMostSignificantBits()).i64(v.groupId().getLeastSignificantBits());
            w.count(v.replicas().size(), 4, ClusterMap.MAX_ENTRIES, "replicas");
            for (String r : v.replicas()) {
                utf8(w, r, "replica");
            }
            w.i64(v.createdNanos());
            if (version >= 2) {
                w.count(v.acl().size(), 4, ClusterMap.MAX_ACL_RULES, "ACL rules");
                for (AclRule r : v.acl()) {
                    utf8(w, r.identity(), "identity");
                    utf8(w, r.network(), "network");
                    w.u8(r.access().ordinal());
                }
            } else if (!v.acl().isEmpty()) {
                throw new IllegalArgumentException("version 1 has no ACLs");
            }
            if (version >= 3) {
                w.i64(v.generation());
                v.since().forEach(w::i64);
                utf8(w, v.joining(), "joining node");
            } else if (v.generation() != 1 || !v.joining().isEmpty()) {
                throw new IllegalArgumentException("versions 1 and 2 have no membership generations");
            }
        }
        if (version >= 4) {
            w.count(map.nodeInfo().size(), 4, ClusterMap.MAX_ENTRIES, "node advertisements");
            for (var e : new TreeMap<>(map.nodeInfo()).entrySet()) {
                utf8(w, e.getKey(), "advertised node");
                w.u8(e.getValue().minLogFormat()).u8(e.getValue().maxLogFormat());
                utf8(w, e.getValue().version(), "software version");
            }
        } else if (!map.nodeInfo().isEmpty()) {
            throw new IllegalArgumentException("versions 1 to 3 have no node advertisements");
        }
        if (version >= 5) {
            w.count(map.georep().size(), 4, ClusterMap.MAX_ENTRIES, "georep sessions");
            for (ClusterMap.GeorepSession g : new TreeMap<>(map.georep()).values()) {
                utf8(w, g.name(), "session name");
                utf8(w, g.volume(), "session volume");
                utf8(w, g.target(), "session target");
                w.i64(g.rpoMillis()).i64(g.createdNanos()).i64(g.position()).i64(g.commitNanos());
                w.i64(g.reportedNanos());
            }
        } else if (!map.georep().isEmpty()) {
            throw new IllegalArgumentException("versions 1 to 4 have no georep sessions");
        }
        return w.finish(true);
    }

    private static void utf8(WireWriter w, String s, String what) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        w.count(b.length, 2, MAX_MAP_STRING_BYTES, what).raw(b);
    }

    private static void modifiedUtf8(WireWriter w, String s, String what) {
        byte[] b = modifiedUtf8(s);
        w.count(b.length, 2, 0xffff, what).raw(b);
    }

    /** Modified UTF-8 of every UTF-16 unit: NUL as two bytes, surrogates as three bytes each. */
    static byte[] modifiedUtf8(String s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= 0x01 && c <= 0x7f) {
                out.write(c);
            } else if (c <= 0x7ff) {
                out.write(0xc0 | (c >> 6));
                out.write(0x80 | (c & 0x3f));
            } else {
                out.write(0xe0 | (c >> 12));
                out.write(0x80 | ((c >> 6) & 0x3f));
                out.write(0x80 | (c & 0x3f));
            }
        }
        return out.toByteArray();
    }
}
