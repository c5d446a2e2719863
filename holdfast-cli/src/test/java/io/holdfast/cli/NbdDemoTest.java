package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.nbd.BlockDevice;
import io.holdfast.nbd.ExportProvider;
import io.holdfast.server.CertificateAuthority;
import io.holdfast.transport.Role;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The parts of {@code holdfast demo --nbd} that run without a cluster. */
class NbdDemoTest {
    private static final long S = 1_000_000_000L;

    @Test
    void missingToolsAreNamedWithTheirDebianPackagesOnce() {
        assertThat(NbdDemo.missingTools(name -> "/usr/bin/" + name)).isNull();
        assertThat(NbdDemo.missingTools(name -> null))
                .isEqualTo("demo --nbd needs nbdcopy, mke2fs, e2fsck: apt-get install libnbd-bin e2fsprogs");
        assertThat(NbdDemo.missingTools(name -> name.equals("nbdcopy") ? null : "/sbin/" + name))
                .isEqualTo("demo --nbd needs nbdcopy: apt-get install libnbd-bin");
    }

    @Test
    void theStallIsTheLongestTimeWithoutAWriteReturningAfterTheKill() {
        List<long[]> writes = new ArrayList<>(List.of(
                new long[] {0, 1 * S},
                new long[] {0, 3 * S}, // 2 s gap before the kill
                new long[] {2 * S, 4 * S},
                new long[] {4 * S, 11 * S}, // the kill at 5 s: 6 s until this one returns
                new long[] {5 * S, 12 * S},
                new long[] {12 * S, 12 * S + S / 2}));
        NbdDemo.Stall s = NbdDemo.Metered.stallOf(writes, 5 * S);
        assertThat(s.afterKill()).isEqualTo(6.0);
        assertThat(s.beforeKill()).isEqualTo(2.0);
        assertThat(s.slowestWrite()).isEqualTo(7.0);
    }

    @Test
    void theHookRunsOnceOnTheWriteThatCrossesTheThresholdBeforeItsReply() throws Exception {
        AtomicInteger deviceWrites = new AtomicInteger();
        BlockDevice device = new NullDevice(deviceWrites);
        NbdDemo.Metered metered = new NbdDemo.Metered(new ExportProvider() {
            @Override
            public BlockDevice open(String name) {
                return device;
            }

            @Override
            public List<String> list() {
                return List.of("d");
            }
        });
        int threads = 16;
        int perThread = 500;
        int n = 4096;
        long threshold = (long) threads * perThread * n / 2 + 100; // not on a write boundary
        ConcurrentLinkedQueue<Long> calls = new ConcurrentLinkedQueue<>();
        metered.onWritten(threshold, now -> calls.add(now));
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                done.add(pool.submit(() -> {
                    BlockDevice d = metered.open("d");
                    for (int i = 0; i < perThread; i++) {
                        d.write(ByteBuffer.allocate(n), 0);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(calls).hasSize(1);
        assertThat(calls.peek()).isBetween(threshold, threshold + n - 1);
        assertThat(metered.written()).isEqualTo((long) threads * perThread * n);
        assertThat(deviceWrites.get()).isEqualTo(threads * perThread);
    }

    @Test
    void libnbdCertificatesHoldTheCaTheCertificateAndAnSec1KeyWithItsPublicKey(@TempDir Path tmp) throws Exception {
        CertificateAuthority ca = CertificateAuthority.create(tmp.resolve("ca"), "test");
        Path out = NbdDemo.libnbdCertificates(ca.issue("alice", Role.CLIENT, List.of()), tmp.resolve("libnbd"));
        assertThat(out.resolve("ca-cert.pem")).hasSameTextualContentAs(tmp.resolve("ca/ca.crt"));
        assertThat(Files.readString(out.resolve("client-cert.pem"))).startsWith("-----BEGIN CERTIFICATE-----");
        String key = Files.readString(out.resolve("client-key.pem"), StandardCharsets.UTF_8);
        assertThat(key).startsWith("-----BEGIN EC PRIVATE KEY-----");
        if (NbdDemo.tool("openssl") != null) {
            // what GnuTLS needs: an SEC1 key that carries its public key, matching the certificate's
            Process p = new ProcessBuilder(
                            "openssl",
                            "ec",
                            "-in",
                            out.resolve("client-key.pem").toString(),
                            "-pubout")
                    .redirectErrorStream(true)
                    .start();
            String pub = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor()).as(pub).isZero();
            Process c = new ProcessBuilder(
                            "openssl",
                            "x509",
                            "-in",
                            out.resolve("client-cert.pem").toString(),
                            "-pubkey",
                            "-noout")
                    .redirectErrorStream(true)
                    .start();
            String certPub = new String(c.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(c.waitFor()).as(certPub).isZero();
            assertThat(pub.substring(pub.indexOf("-----BEGIN PUBLIC KEY")))
                    .isEqualTo(certPub.substring(certPub.indexOf("-----BEGIN PUBLIC KEY")));
        }
    }

    /** A device that counts writes and stores nothing. */
    private record NullDevice(AtomicInteger writes) implements BlockDevice {
        @Override
        public String name() {
            return "d";
        }

        @Override
        public long size() {
            return 1L << 30;
        }

        @Override
        public boolean readOnly() {
            return false;
        }

        @Override
        public void read(ByteBuffer dst, long offset) {
            dst.position(dst.limit());
        }

        @Override
        public void write(ByteBuffer src, long offset) {
            src.position(src.limit());
            writes.incrementAndGet();
        }

        @Override
        public void flush() {}

        @Override
        public void trim(long offset, long length) {}

        @Override
        public boolean zero(long offset, long length, boolean mayDeallocate, boolean fastOnly) {
            return true;
        }

        @Override
        public List<Extent> extents(long offset, long length, int maxExtents) throws IOException {
            return List.of(new Extent(length, false, false));
        }

        @Override
        public void close() {}
    }
}
