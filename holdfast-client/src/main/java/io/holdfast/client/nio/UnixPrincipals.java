package io.holdfast.client.nio;

import io.holdfast.common.Caller;
import io.holdfast.protocol.Limits;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Users and groups by numeric id, named from this machine's {@code /etc/passwd} and
 * {@code /etc/group} (read once, lazily). Thread-safe.
 */
final class UnixPrincipals extends UserPrincipalLookupService {
    private volatile Tables tables;

    private record Tables(
            Map<String, Integer> uidByName,
            Map<Integer, String> userById,
            Map<String, Integer> gidByName,
            Map<Integer, String> groupById) {}

    /** A user or group known by its numeric id. */
    record Principal(int id, String name, boolean isGroup) implements GroupPrincipal {
        @Override
        public String getName() {
            return name;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    private Tables tables() {
        Tables t = tables;
        if (t == null) {
            Map<String, Integer> un = new HashMap<>();
            Map<Integer, String> ui = new HashMap<>();
            Map<String, Integer> gn = new HashMap<>();
            Map<Integer, String> gi = new HashMap<>();
            load(Path.of("/etc/passwd"), un, ui);
            load(Path.of("/etc/group"), gn, gi);
            t = new Tables(un, ui, gn, gi);
            tables = t;
        }
        return t;
    }

    private static void load(Path file, Map<String, Integer> byName, Map<Integer, String> byId) {
        try {
            for (String line : Files.readAllLines(file)) {
                String[] f = line.split(":", -1);
                if (f.length < 3 || line.startsWith("#")) {
                    continue;
                }
                try {
                    int id = Integer.parseInt(f[2]);
                    byName.putIfAbsent(f[0], id);
                    byId.putIfAbsent(id, f[0]);
                } catch (NumberFormatException e) {
                    // skip malformed line
                }
            }
        } catch (IOException | RuntimeException e) {
            // no such table: numeric ids only
        }
    }

    Principal user(int uid) {
        return new Principal(uid, tables().userById().getOrDefault(uid, Integer.toString(uid)), false);
    }

    Principal group(int gid) {
        return new Principal(gid, tables().groupById().getOrDefault(gid, Integer.toString(gid)), true);
    }

    /** The numeric uid of a principal given by any provider, looked up by name. */
    int uidOf(UserPrincipal p) throws UserPrincipalNotFoundException {
        if (p instanceof Principal hp && !hp.isGroup()) {
            return hp.id();
        }
        return lookupPrincipalByName(p.getName()).id();
    }

    int gidOf(GroupPrincipal p) throws UserPrincipalNotFoundException {
        if (p instanceof Principal hp && hp.isGroup()) {
            return hp.id();
        }
        return lookupPrincipalByGroupName(p.getName()).id();
    }

    @Override
    public Principal lookupPrincipalByName(String name) throws UserPrincipalNotFoundException {
        Integer id = tables().uidByName().get(name);
        if (id == null) {
            id = numeric(name);
        }
        return new Principal(id, tables().userById().getOrDefault(id, name), false);
    }

    @Override
    public Principal lookupPrincipalByGroupName(String group) throws UserPrincipalNotFoundException {
        Integer id = tables().gidByName().get(group);
        if (id == null) {
            id = numeric(group);
        }
        return new Principal(id, tables().groupById().getOrDefault(id, group), true);
    }

    private static int numeric(String name) throws UserPrincipalNotFoundException {
        try {
            int id = Integer.parseInt(name);
            if (id < 0) {
                throw new UserPrincipalNotFoundException(name);
            }
            return id;
        } catch (NumberFormatException e) {
            throw new UserPrincipalNotFoundException(name);
        }
    }

    /** This process's credentials from {@code /proc/self}, or {@link Caller#ROOT}. */
    static Caller processCaller() {
        try {
            int uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            int gid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:gid");
            List<Integer> groups = new ArrayList<>();
            try {
                for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                    if (line.startsWith("Groups:")) {
                        for (String g : line.substring(7).trim().split("\\s+")) {
                            if (!g.isEmpty() && groups.size() < Limits.MAX_GROUPS) {
                                groups.add(Integer.parseInt(g));
                            }
                        }
                    }
                }
            } catch (IOException | RuntimeException e) {
                groups.clear();
            }
            return new Caller(
                    uid, gid, groups.stream().mapToInt(Integer::intValue).toArray());
        } catch (IOException | RuntimeException e) {
            return Caller.ROOT;
        }
    }
}
