package io.holdfast.server;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
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
 * volume, another member or another cluster can never be served as if it were this member's.
 * The generation is 1 until run-time membership changes exist.
 *
 * @param clusterId the cluster
 * @param groupId the volume's replica group
 * @param member the node address of the member that keeps this brick
 * @param generation the group membership generation
 */
record BrickIdentity(UUID clusterId, UUID groupId, String member, long generation) {
  static final String FILE = "identity";

  BrickIdentity {
    Objects.requireNonNull(clusterId, "clusterId");
    Objects.requireNonNull(groupId, "groupId");
    Objects.requireNonNull(member, "member");
  }

  /**
   * Makes sure the brick in {@code brickDir} is this member's: stamps a new or unstamped brick
   * (one made before identities existed), and refuses any other.
   *
   * @throws IOException if the brick belongs elsewhere (the message names both identities and
   *     what to do), or its identity file is unreadable
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
      problem = "it belongs to volume group " + found.groupId + ", not " + mine.groupId + " (a brick of another volume)";
    } else if (!found.member.equals(mine.member)) {
      problem = "it was made by member " + found.member + ", not by this node " + mine.member + " (copied from another member)";
    } else if (found.generation > mine.generation) {
      problem = "it is of membership generation " + found.generation + ", newer than this member's " + mine.generation;
    }
    if (problem != null) {
      throw new IOException("refusing brick " + brickDir + ": " + problem + ". It may have been copied in from elsewhere;"
          + " move it away (the member then catches up from the other members) or put the right brick back");
    }
  }

  private void write(Path file) throws IOException {
    Properties p = new Properties();
    p.setProperty("cluster.id", clusterId.toString());
    p.setProperty("group.id", groupId.toString());
    p.setProperty("member", member);
    p.setProperty("generation", Long.toString(generation));
    Path tmp = file.resolveSibling(FILE + ".tmp");
    try (Writer w = Files.newBufferedWriter(tmp)) {
      p.store(w, "Holdfast brick identity: do not copy bricks between members, volumes or clusters");
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  private static BrickIdentity read(Path file) throws IOException {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(file)) {
      p.load(r);
      return new BrickIdentity(UUID.fromString(p.getProperty("cluster.id", "")), UUID.fromString(p.getProperty("group.id", "")),
          Objects.requireNonNull(p.getProperty("member"), "member"), Long.parseLong(p.getProperty("generation", "")));
    } catch (IllegalArgumentException | NullPointerException e) {
      throw new IOException("brick identity " + file + " is unreadable (" + e.getMessage() + "); refusing the brick");
    }
  }
}
