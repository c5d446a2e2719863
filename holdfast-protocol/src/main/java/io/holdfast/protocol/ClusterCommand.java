package io.holdfast.protocol;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;

import java.util.ArrayList;
import java.util.List;

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
      }
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Decodes a command.
   *
   * @throws ProtocolException if malformed, over a limit, or of another version
   */
  static ClusterCommand decode(byte[] b) throws ProtocolException {
    if (b.length > MAX_BYTES || b.length < 4) {
      throw new ProtocolException(Errno.EBADMSG, "cluster command of " + b.length + " bytes");
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
      ClusterCommand c =
          switch (kind) {
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
            default -> throw new ProtocolException(Errno.EBADMSG, "unknown cluster command " + kind);
          };
      if (in.available() != 0) {
        throw new ProtocolException(Errno.EBADMSG, "trailing bytes after cluster command");
      }
      return c;
    } catch (ProtocolException e) {
      throw e;
    } catch (IOException e) {
      throw new ProtocolException(Errno.EBADMSG, "truncated cluster command");
    }
  }

}
