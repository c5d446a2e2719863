package io.holdfast.overlay;

import java.nio.file.Path;

/**
 * Changes of large lower files in a process of its own, for {@link CopyUpKillTest} to kill with
 * SIGKILL: {@code LOWER UPPER WORK}. Opens the overlay, prints {@code ready}, then makes {@link
 * CopyUpKillTest#change} to each file in order, printing {@code changed I} after each; when all
 * are done prints {@code done} and waits for its standard input to end (so it is always killed).
 */
final class CopyUpKillChild {
    private CopyUpKillChild() {}

    public static void main(String[] args) throws Exception {
        try (OverlayFileSystem fs = OverlayFileSystem.open(Path.of(args[0]), Path.of(args[1]), Path.of(args[2]))) {
            System.out.println("ready");
            System.out.flush();
            for (int i = 0; i < CopyUpKillTest.FILES; i++) {
                CopyUpKillTest.change(fs.root(), i);
                System.out.println("changed " + i);
                System.out.flush();
            }
            System.out.println("done");
            System.out.flush();
            while (System.in.read() >= 0) {
                // wait to be killed
            }
        }
    }
}
