package io.holdfast.protocol;

/** What an export ACL rule grants on a volume. */
public enum Access {
  /** Nothing: every request fails with {@link Errno#EACCES}. */
  NONE,
  /** Reads only: every mutation fails with {@link Errno#EROFS}. */
  READ_ONLY,
  /** Reads and writes (POSIX permissions still apply per file). */
  READ_WRITE;

  /** The CLI spelling: none, ro, rw. */
  public String label() {
    return switch (this) {
      case NONE -> "none";
      case READ_ONLY -> "ro";
      case READ_WRITE -> "rw";
    };
  }

  /**
   * Parses the CLI spelling.
   *
   * @throws IllegalArgumentException if not none, ro/read-only or rw/read-write
   */
  public static Access parse(String s) {
    return switch (s) {
      case "none" -> NONE;
      case "ro", "read-only" -> READ_ONLY;
      case "rw", "read-write" -> READ_WRITE;
      default -> throw new IllegalArgumentException("access must be none, ro or rw, got \"" + s + "\"");
    };
  }
}
