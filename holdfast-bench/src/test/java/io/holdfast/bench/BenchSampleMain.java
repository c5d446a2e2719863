package io.holdfast.bench;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Prints a report for a quick local-vs-local run: {@code BenchSampleMain TARGET BASELINE}.
 * A manual tool for trying the table, not a test.
 */
final class BenchSampleMain {
    private BenchSampleMain() {}

    public static void main(String[] args) throws IOException {
        BenchReport report = Bench.builder()
                .target(Path.of(args[0]))
                .baseline(Path.of(args[1]))
                .scale(BenchScale.quick())
                .progress(System.err::println)
                .build()
                .run();
        System.out.print(report.toTable());
        System.out.println(report.toJson());
    }
}
