package io.holdfast.overlay;

import java.nio.file.Path;

/**
 * A merge in a process of its own, for {@link MergeKillTest} to kill with SIGKILL: {@code LOWER UPPER
 * WORK NEWBASE BYTES_PER_SECOND} ({@code NEWBASE} "-" merges in place). Exits 0 when the merge is
 * clean, 3 when not.
 */
final class MergeKillChild {
    private MergeKillChild() {}

    public static void main(String[] args) throws Exception {
        OverlayMerge.Builder b = OverlayMerge.builder(Path.of(args[0]), Path.of(args[1]))
                .work(Path.of(args[2]))
                .bytesPerSecond(Long.parseLong(args[4]))
                .operationsPerSecond(0);
        if (!args[3].equals("-")) {
            b.into(Path.of(args[3]));
        }
        MergeReport r = b.build().run();
        System.out.println("complete " + r.complete());
        System.exit(r.clean() ? 0 : 3);
    }
}
