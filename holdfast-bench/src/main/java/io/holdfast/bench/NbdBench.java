package io.holdfast.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.common.Executables;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The NBD workloads of issue 14 on an export and, in the same run, on {@code nbdkit}'s file
 * plugin over a local file (the baseline): 4 KiB random writes and random reads with {@code fio}'s
 * nbd engine at queue depth 32, and {@code nbdcopy} of the whole size from a local file into the
 * export and back (the copy read back is compared byte for byte with the source).
 *
 * <p>The baseline listens on a Unix socket in the work directory (no port to pick; a little faster
 * than TCP, so the ratios err against the export). Each fio run has a 2 s ramp that is not counted.
 * Needs {@code fio} (with its nbd engine), {@code nbdcopy} and {@code nbdinfo} (libnbd-bin) and
 * {@code nbdkit}. Not thread-safe; one run at a time per work directory.
 */
public final class NbdBench {
    /** The tools a run needs. */
    public static final List<String> TOOLS = List.of("fio", "nbdcopy", "nbdinfo", "nbdkit");

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int QUEUE_DEPTH = 32;
    private static final long TOOL_TIMEOUT_SECONDS = 3600;

    private final Path work;
    private final long size;
    private final int seconds;
    private final Consumer<String> progress;

    /**
     * @param work an existing directory for the baseline image, the source file and the copy read
     *     back (three files of {@code size} bytes; deleted afterwards)
     * @param size bytes of the images, the fio region and the copies: a multiple of 4 KiB, 1 MiB to
     *     64 GiB; the export must be at least this large
     * @param seconds how long each fio workload runs after its ramp, 1 to 3600
     * @param progress where progress lines go
     * @throws IllegalArgumentException if a bound is violated
     */
    public NbdBench(Path work, long size, int seconds, Consumer<String> progress) {
        if (size < (1 << 20) || size > (64L << 30) || size % 4096 != 0) {
            throw new IllegalArgumentException("size must be a multiple of 4 KiB from 1 MiB to 64 GiB, got " + size);
        }
        if (seconds < 1 || seconds > 3600) {
            throw new IllegalArgumentException("seconds must be 1 to 3600, got " + seconds);
        }
        this.work = Objects.requireNonNull(work, "work");
        this.size = size;
        this.seconds = seconds;
        this.progress = Objects.requireNonNull(progress, "progress");
    }

    /**
     * Runs the workloads on the baseline, then on {@code uri}.
     *
     * @param uri the export, as libnbd and fio take it ({@code nbd://127.0.0.1:10809/vol/disk.img})
     * @return one row per workload
     * @throws IOException if a tool is missing or fails, or the copy read back differs from the source
     * @throws InterruptedException if interrupted
     */
    public NbdBenchReport run(String uri) throws IOException, InterruptedException {
        Path kitImage = work.resolve("nbdkit.img");
        Path source = work.resolve("source.raw");
        Path back = work.resolve("back.raw");
        Path socket = work.resolve("nbdkit.sock");
        Process kit = null;
        try {
            try (SeekableByteChannel ch =
                    Files.newByteChannel(kitImage, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ch.position(size - 1).write(ByteBuffer.wrap(new byte[1])); // sparse, as the export starts
            }
            writeRandom(source, size);
            kit = new ProcessBuilder(
                            "nbdkit", "--exit-with-parent", "-f", "-U", socket.toString(), "file", kitImage.toString())
                    .redirectErrorStream(true)
                    .redirectOutput(work.resolve("nbdkit.log").toFile())
                    .start();
            String kitUri = "nbd+unix:///?socket=" + socket;
            awaitServing(kitUri, kit);
            double[] base = measure("nbdkit-file", kitUri, source, back);
            double[] hf = measure("export", uri, source, back);
            List<NbdBenchReport.Row> rows = new ArrayList<>();
            String[] names = {
                "fio 4k randwrite QD" + QUEUE_DEPTH,
                "fio 4k randread QD" + QUEUE_DEPTH,
                "nbdcopy into export",
                "nbdcopy out of export"
            };
            String[] units = {"IOPS", "IOPS", "MiB/s", "MiB/s"};
            for (int i = 0; i < names.length; i++) {
                rows.add(new NbdBenchReport.Row(names[i], units[i], base[i], hf[i]));
            }
            return new NbdBenchReport(uri, size, seconds, rows);
        } finally {
            if (kit != null) {
                kit.destroy();
                kit.waitFor(10, TimeUnit.SECONDS);
            }
            for (Path p :
                    List.of(kitImage, source, back, socket, work.resolve("nbdkit.log"), work.resolve("fio.json"))) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** randwrite IOPS, randread IOPS, copy in MiB/s, copy out MiB/s. */
    private double[] measure(String who, String uri, Path source, Path back) throws IOException, InterruptedException {
        double[] r = new double[4];
        progress.accept(who + ": fio 4k random writes, " + seconds + " s");
        r[0] = fioIops(uri, "randwrite");
        progress.accept(who + ": fio 4k random reads, " + seconds + " s");
        r[1] = fioIops(uri, "randread");
        progress.accept(who + ": nbdcopy " + size + " bytes in");
        r[2] = copy(source.toString(), uri);
        progress.accept(who + ": nbdcopy " + size + " bytes out");
        Files.deleteIfExists(back);
        r[3] = copy(uri, back.toString());
        if (Files.mismatch(source, back) != -1) {
            throw new IOException(who + ": the copy read back from " + uri + " differs from what was copied in");
        }
        progress.accept(
                String.format(Locale.ROOT, "%s: %.0f / %.0f IOPS, %.1f / %.1f MiB/s", who, r[0], r[1], r[2], r[3]));
        return r;
    }

    private double fioIops(String uri, String rw) throws IOException, InterruptedException {
        Path out = work.resolve("fio.json");
        Files.deleteIfExists(out);
        tool(
                "fio",
                "--name=bench",
                "--ioengine=nbd",
                "--uri=" + uri,
                "--rw=" + rw,
                "--bs=4k",
                "--iodepth=" + QUEUE_DEPTH,
                "--size=" + size,
                "--time_based",
                "--runtime=" + seconds,
                "--ramp_time=2",
                "--output-format=json",
                "--output=" + out);
        JsonNode job = JSON.readTree(out.toFile()).path("jobs").path(0);
        if (job.isMissingNode()) {
            throw new IOException("fio wrote no job to " + out);
        }
        return job.path("read").path("iops").asDouble()
                + job.path("write").path("iops").asDouble();
    }

    private double copy(String from, String to) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        tool("nbdcopy", "--flush", from, to);
        double s = (System.nanoTime() - t0) / 1e9;
        return size / (1024.0 * 1024.0) / s;
    }

    private void awaitServing(String uri, Process kit) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (true) {
            Process p = new ProcessBuilder("nbdinfo", "--size", uri)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            if (p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0) {
                return;
            }
            p.destroyForcibly();
            if (!kit.isAlive() || System.nanoTime() > deadline) {
                throw new IOException("nbdkit did not serve " + uri + " within 15 s (its log: "
                        + Files.readString(work.resolve("nbdkit.log")).strip() + ")");
            }
            Thread.sleep(100); // polling a child process: there is nothing to wait on
        }
    }

    /** Runs a tool to completion; its output goes to a log in the work directory, shown if it fails. */
    private void tool(String... command) throws IOException, InterruptedException {
        Path log = work.resolve("tool.log");
        Process p = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        try {
            if (!p.waitFor(TOOL_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                throw new IOException(command[0] + " did not finish within " + TOOL_TIMEOUT_SECONDS + " s");
            }
            if (p.exitValue() != 0) {
                throw new IOException(String.join(" ", command) + " failed (exit " + p.exitValue() + "): "
                        + Files.readString(log).strip());
            }
        } finally {
            p.destroyForcibly();
            Files.deleteIfExists(log);
        }
    }

    private static void writeRandom(Path file, long bytes) throws IOException {
        SplittableRandom random = new SplittableRandom(14);
        byte[] chunk = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(file, StandardOpenOption.CREATE_NEW)) {
            for (long done = 0; done < bytes; done += chunk.length) {
                for (int i = 0; i < chunk.length; i += 8) {
                    long v = random.nextLong();
                    for (int k = 0; k < 8; k++) {
                        chunk[i + k] = (byte) (v >>> (8 * k));
                    }
                }
                out.write(chunk, 0, (int) Math.min(chunk.length, bytes - done));
            }
        }
    }

    /** The tools of {@link #TOOLS} not on {@code PATH} (empty when every one is there). */
    public static List<String> missingTools() {
        return TOOLS.stream().filter(t -> Executables.find(t).isEmpty()).toList();
    }
}
