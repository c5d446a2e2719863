package io.holdfast.server.volume;

import io.holdfast.server.DurableFiles;
import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Properties;
import java.util.UUID;

/**
 * Whose a brick is: the cluster, the volume's replica group, the member (node address) that
 * keeps it, and the group membership generation when it was made (DST's "age" cookie). Kept
 * in the file {@code identity} in the brick directory, beside {@code meta/} and {@code data/},
 * so it travels with the brick if the directory is copied and survives snapshot installs.
 *
 * <p>A member refuses a brick whose identity is not its own, so a brick copied in from another
 * volume, another member or another cluster can never be served as if it were this member's,
 * and one older than the member's latest joining of the group (a replaced member's brick, put
 * back) is never taken as current.
 *
 * @param clusterId the cluster
 * @param groupId the volume's replica group
 * @param member the node address of the member that keeps this brick
 * @param generation the group membership generation
 */
public record BrickIdentity(UUID clusterId, UUID groupId, String member, long generation) {
    static final String FILE = "identity";

    public BrickIdentity {
        Objects.requireNonNull(clusterId, "clusterId");
        Objects.requireNonNull(groupId, "groupId");
        Objects.requireNonNull(member, "member");
    }

    /**
     * Makes sure the brick in {@code brickDir} is this member's: stamps a new or unstamped brick
     * (one made before identities existed) with {@code mine}, and refuses any other.
     *
     * @param mine this member's identity; its generation is the one at which this member
     *     (last) joined the group, as the cluster map says (1 if not known yet)
     * @throws IOException if the brick belongs elsewhere or predates this member's latest
     *     joining (the message names both identities and what to do), or its identity file is
     *     unreadable
     */
    static void claim(Path brickDir, BrickIdentity mine) throws IOException {
        Path file = brickDir.resolve(FILE);
        if (!Files.exists(file)) {
            Files.createDirectories(brickDir);
            mine.write(file);
            return;
        }
        BrickIdentity found = read(file);
        String problem = null;
        if (!found.clusterId.equals(mine.clusterId)) {
            problem = "it belongs to cluster " + found.clusterId + ", not this node's cluster " + mine.clusterId;
        } else if (!found.groupId.equals(mine.groupId)) {
            problem = "it belongs to volume group " + found.groupId + ", not " + mine.groupId
                    + " (a brick of another volume)";
        } else if (!found.member.equals(mine.member)) {
            problem = "it was made by member " + found.member + ", not by this node " + mine.member
                    + " (copied from another member)";
        } else if (found.generation < mine.generation) {
            problem = "it is of membership generation " + found.generation
                    + ", but this member joined the group at generation " + mine.generation
                    + " (a replaced member's old brick, which is not current)";
        }
        if (problem != null) {
            throw new IOException(
                    "refusing brick " + brickDir + ": " + problem + ". It may have been copied in from elsewhere;"
                            + " move it away (the member then catches up from the other members) or put the right "
                            + "brick back");
        }
    }

    /**
     * The membership generation stamped on the brick in {@code brickDir}, or
     * {@link Long#MAX_VALUE} if it has no readable identity (nothing to compare).
     */
    public static long generationOf(Path brickDir) {
        try {
            return read(brickDir.resolve(FILE)).generation;
        } catch (IOException e) {
            return Long.MAX_VALUE;
        }
    }

    private void write(Path file) throws IOException {
        Properties p = new Properties();
        p.setProperty("cluster.id", clusterId.toString());
        p.setProperty("group.id", groupId.toString());
        p.setProperty("member", member);
        p.setProperty("generation", Long.toString(generation));
        StringWriter w = new StringWriter();
        p.store(w, "Holdfast brick identity: do not copy bricks between members, volumes or clusters");
        DurableFiles.replace(file, w.toString());
    }

    private static BrickIdentity read(Path file) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file)) {
            p.load(r);
            return new BrickIdentity(
                    UUID.fromString(p.getProperty("cluster.id", "")),
                    UUID.fromString(p.getProperty("group.id", "")),
                    Objects.requireNonNull(p.getProperty("member"), "member"),
                    Long.parseLong(p.getProperty("generation", "")));
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new IOException(
                    "brick identity " + file + " is unreadable (" + e.getMessage() + "); refusing the brick");
        }
    }
}
