package io.holdfast.protocol;

/** The type of an inode. Codes are stable on the wire and on disk. */
public enum FileType {
  /** A regular file. */
  FILE(1),
  /** A directory. */
  DIRECTORY(2),
  /** A symbolic link. */
  SYMLINK(3);

  private final int code;

  FileType(int code) {
    this.code = code;
  }

  /** The stable wire code. */
  public int code() {
    return code;
  }

  /** The POSIX {@code S_IFMT} bits for this type. */
  public int formatBits() {
    return switch (this) {
      case FILE -> 0100000;
      case DIRECTORY -> 0040000;
      case SYMLINK -> 0120000;
    };
  }

  /**
   * Returns the type with the given wire code.
   *
   * @throws IllegalArgumentException if the code is unknown
   */
  public static FileType fromCode(int code) {
    return switch (code) {
      case 1 -> FILE;
      case 2 -> DIRECTORY;
      case 3 -> SYMLINK;
      default -> throw new IllegalArgumentException("unknown file type " + code);
    };
  }
}
