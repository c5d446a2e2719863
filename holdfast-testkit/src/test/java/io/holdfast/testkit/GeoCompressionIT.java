package io.holdfast.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.client.HoldfastClient;
import io.holdfast.client.nio.HoldfastFileSystemProvider;
import io.holdfast.client.nio.HoldfastFiles;
import io.holdfast.georep.GeoOptions;
import io.holdfast.georep.GeoReplicator;
import io.holdfast.georep.VolumeChangeSource;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * zstd-compressed bulk replies ({@code holdfast.compression=zstd}, {@link Request.Compressed}) on a
 * real three-node cluster: reads, listings and change pages arrive intact and equal to a plain
 * client's, text travels compressed and random data plain, and the geo-replication worker keeps a
 * target equal to the source through a compressing client.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
class GeoCompressionIT {
    private static final Set<String> STATE = Set.of(".holdfast-georep");

    @TempDir
    static Path root;

    private static MiniCluster cluster;
    private static FileSystem writer;

    @BeforeAll
    static void start() throws Exception {
        cluster = MiniCluster.start(root.resolve("cluster"), 3, 100_000);
        cluster.createVolume("mail", 0, 1, 2);
        writer = FileSystems.newFileSystem(
                URI.create("holdfast://" + cluster.addresses().get(0) + "/mail"), cluster.clientEnv());
    }

    @AfterAll
    static void stop() throws Exception {
        if (writer != null) {
            writer.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    private static HoldfastClient connect(String compression) throws Exception {
        Map<String, Object> env = new HashMap<>(cluster.clientEnv());
        env.put(HoldfastClient.COMPRESSION_OPTION, compression);
        String first = cluster.addresses().get(0);
        int colon = first.lastIndexOf(':');
        return HoldfastClient.connect(first.substring(0, colon), Integer.parseInt(first.substring(colon + 1)), env);
    }

    /** A mail message of about {@code bytes} bytes: headers and sentences of a small vocabulary. */
    static byte[] mail(Random random, int bytes) {
        String[] words = {
            "the", "quarterly", "report", "meeting", "please", "find", "attached", "regards", "figures", "budget",
            "schedule", "tomorrow", "review", "project", "customer", "invoice", "thanks", "update", "team", "agenda"
        };
        StringBuilder b = new StringBuilder("Return-Path: <alice@example.org>\nFrom: Alice <alice@example.org>\n"
                + "To: Bob <bob@example.org>\nSubject: re: " + words[random.nextInt(words.length)] + "\n"
                + "Message-ID: <" + random.nextLong() + "@example.org>\n\n");
        while (b.length() < bytes) {
            int n = 5 + random.nextInt(12);
            for (int i = 0; i < n; i++) {
                b.append(i == 0 ? "" : " ").append(words[random.nextInt(words.length)]);
            }
            b.append(random.nextInt(8) == 0 ? ".\n\n" : ". ");
        }
        return b.substring(0, bytes).getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] readAll(VolumeService v, String path) throws Exception {
        Response attr = v.query(new Request.GetAttr(path, true)).get(30, TimeUnit.SECONDS);
        long inode = ((Response.AttrReply) attr).attr().inode();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (long offset = 0; ; ) {
            Response r = v.query(new Request.Read(inode, offset, 64 * 1024)).get(30, TimeUnit.SECONDS);
            byte[] chunk = ((Response.Data) r).bytes();
            if (chunk.length == 0) {
                return out.toByteArray();
            }
            out.write(chunk);
            offset += chunk.length;
        }
    }

    @Test
    void bulkRepliesTravelCompressedAndArriveIntact() throws Exception {
        Random random = new Random(15);
        byte[] text = mail(random, 300_000);
        byte[] noise = new byte[300_000];
        random.nextBytes(noise);
        Path dir = Files.createDirectories(writer.getPath("/direct/names"));
        Files.write(writer.getPath("/direct/text"), text);
        Files.write(writer.getPath("/direct/noise"), noise);
        for (int i = 0; i < 400; i++) {
            Files.write(
                    dir.resolve(String.format("%d.M%d.mail.example.org,S=1234", 1_700_000_000 + i, i)),
                    Arrays.copyOf(text, 10));
        }
        try (HoldfastClient z = connect("zstd");
                HoldfastClient plain = connect("none")) {
            assertThat(z.compressing()).isTrue();
            assertThat(plain.compressing()).isFalse();
            VolumeService zv = z.volume("mail");
            VolumeService pv = plain.volume("mail");

            assertThat(readAll(zv, "/direct/text")).isEqualTo(text);
            HoldfastClient.CompressionStats afterText = z.compressionStats();
            assertThat(afterText.replies()).isPositive();
            assertThat(afterText.rawBytes()).as("mail text shrinks").isGreaterThan(3 * afterText.wireBytes());

            assertThat(readAll(zv, "/direct/noise")).isEqualTo(noise);
            assertThat(z.compressionStats().replies())
                    .as("random data travels as it is")
                    .isEqualTo(afterText.replies());

            Request.ReadDir list = new Request.ReadDir("/direct/names", "", 4096);
            Response zPage = zv.query(list).get(30, TimeUnit.SECONDS);
            assertThat(((Response.DirPage) zPage).entries()).hasSize(400);
            assertThat(zPage).isEqualTo(pv.query(list).get(30, TimeUnit.SECONDS));

            Response zChanges = zv.changes(0, 1024, 0).get(30, TimeUnit.SECONDS);
            Response pChanges = pv.changes(0, 1024, 0).get(30, TimeUnit.SECONDS);
            assertThat(((Response.ChangePage) zChanges).records()).isNotEmpty();
            assertThat(((Response.ChangePage) zChanges).records())
                    .isEqualTo(((Response.ChangePage) pChanges).records());
            assertThat(z.compressionStats().replies()).isGreaterThan(afterText.replies() + 1);
            assertThat(plain.compressionStats()).isEqualTo(new HoldfastClient.CompressionStats(0, 0, 0));
            System.out.println("zstd client: " + z.compressionStats());
        }
    }

    @Test
    void theWorkerReplicatesThroughACompressingClient() throws Exception {
        Random random = new Random(16);
        Path maildir = Files.createDirectories(writer.getPath("/worker/new"));
        Files.createDirectories(writer.getPath("/worker/tmp"));
        for (int i = 0; i < 50; i++) {
            Files.write(maildir.resolve("m" + i), mail(random, 2_000 + random.nextInt(30_000)));
        }
        Path target = Files.createDirectories(root.resolve("target"));
        try (HoldfastClient z = connect("zstd")) {
            VolumeService v = z.volume("mail");
            Map<String, Object> env = new HashMap<>(cluster.clientEnv());
            env.put(HoldfastFileSystemProvider.ENV_VOLUME_SERVICE, v);
            try (FileSystem fs = FileSystems.newFileSystem(
                    URI.create("holdfast://" + cluster.addresses().get(1) + "/mail"), env)) {
                GeoReplicator r = new GeoReplicator(
                        new VolumeChangeSource(v, Duration.ofSeconds(30)),
                        fs.getPath("/"),
                        target,
                        GeoOptions.defaults("zstd-dr"));
                r.runOnce();
                TreeWorkload.assertSameTree(writer.getPath("/"), target, STATE, "the target");
                long fullSync = z.compressionStats().rawBytes();
                assertThat(fullSync).isPositive();
                // tailing: deliveries (tmp, then a rename into new), an overwrite, a delete
                for (int i = 0; i < 40; i++) {
                    Path tmp = writer.getPath("/worker/tmp/d" + i);
                    Files.write(tmp, mail(random, 1_000 + random.nextInt(20_000)));
                    Files.move(tmp, maildir.resolve("d" + i));
                }
                Files.write(maildir.resolve("m3"), mail(random, 40_000));
                Files.delete(maildir.resolve("m4"));
                HoldfastFiles.sync(writer); // the written-back unlink is in the feed once this returns
                r.runOnce();
                TreeWorkload.assertSameTree(writer.getPath("/"), target, STATE, "the target");
                HoldfastClient.CompressionStats s = z.compressionStats();
                assertThat(s.rawBytes()).isGreaterThan(fullSync);
                assertThat(s.rawBytes()).isGreaterThan(2 * s.wireBytes());
                System.out.println("worker's client: " + s + ", worker " + r.status());
            }
        }
    }

    @Test
    void aCompressionOptionOtherThanZstdOrNoneIsRefused() {
        assertThatThrownBy(() -> connect("gzip"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("holdfast.compression must be zstd or none");
    }
}
