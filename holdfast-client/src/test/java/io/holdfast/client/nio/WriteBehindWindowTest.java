package io.holdfast.client.nio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.holdfast.common.Errno;
import io.holdfast.common.ErrnoFileSystemException;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystem;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The write-behind window bounds writes in flight and blocks writers when full. */
class WriteBehindWindowTest {
    private static final long DEADLINE_NANOS = 20_000_000_000L;

    /** Holds every Write until the test releases it; counts what is in flight. */
    static final class HoldingVolume extends ForwardingVolume {
        private final Deque<Held> held = new ArrayDeque<>();
        private int inFlight;
        private int maxInFlight;
        private long inFlightBytes;
        private long maxInFlightBytes;
        private int submitted;
        volatile Errno failWith;

        record Held(Request.Write write, CompletableFuture<Response> future) {}

        HoldingVolume(VolumeService delegate) {
            super(delegate);
        }

        @Override
        public synchronized CompletableFuture<Response> submit(Request.Mutation m) {
            if (!(m instanceof Request.Write w)) {
                return delegate.submit(m);
            }
            CompletableFuture<Response> f = new CompletableFuture<>();
            held.add(new Held(w, f));
            submitted++;
            inFlight++;
            inFlightBytes += w.data().length;
            maxInFlight = Math.max(maxInFlight, inFlight);
            maxInFlightBytes = Math.max(maxInFlightBytes, inFlightBytes);
            notifyAll();
            return f;
        }

        /** Applies and completes the oldest held write; returns false if none is held. */
        boolean releaseOne() {
            Held h;
            synchronized (this) {
                h = held.poll();
                if (h == null) {
                    return false;
                }
                inFlight--;
                inFlightBytes -= h.write().data().length;
            }
            if (failWith != null) {
                h.future().complete(new Response.Error(failWith, "injected"));
            } else {
                h.future().complete(delegate.submit(h.write()).join());
            }
            return true;
        }

        synchronized void awaitHeld(int n) throws InterruptedException {
            long end = System.nanoTime() + DEADLINE_NANOS;
            while (held.size() < n) {
                long left = end - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("only " + held.size() + " writes held, expected " + n);
                }
                wait(Math.max(1, left / 1_000_000));
            }
        }

        synchronized int heldCount() {
            return held.size();
        }

        synchronized int maxInFlight() {
            return maxInFlight;
        }

        synchronized long maxInFlightBytes() {
            return maxInFlightBytes;
        }

        synchronized int submitted() {
            return submitted;
        }
    }

    private static void awaitBlocked(Thread t) {
        long end = System.nanoTime() + DEADLINE_NANOS;
        while (t.getState() != Thread.State.WAITING) {
            if (System.nanoTime() > end || !t.isAlive()) {
                throw new AssertionError("writer not blocked: " + t.getState());
            }
            Thread.onSpinWait();
        }
    }

    @Test
    void writerBlocksWhenRequestWindowIsFull() throws Exception {
        HoldingVolume volume = new HoldingVolume(new MemoryVolume());
        int window = 3;
        int writes = 10;
        try (FileSystem fs = TestVolumes.open(
                volume,
                Map.of(
                        HoldfastFileSystemProvider.ENV_WRITE_WINDOW_REQUESTS,
                        window,
                        HoldfastFileSystemProvider.ENV_COALESCE_BYTES,
                        0))) {
            Path f = fs.getPath("/f");
            AtomicReference<Throwable> error = new AtomicReference<>();
            Thread writer = Thread.ofPlatform().name("writer").start(() -> {
                try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                    for (int i = 0; i < writes; i++) {
                        byte[] b = new byte[1000];
                        Arrays.fill(b, (byte) i);
                        ch.write(ByteBuffer.wrap(b));
                    }
                } catch (Throwable t) {
                    error.set(t);
                }
            });
            volume.awaitHeld(window);
            awaitBlocked(writer);
            assertThat(volume.submitted()).isEqualTo(window);

            volume.releaseOne();
            volume.awaitHeld(window);
            awaitBlocked(writer);
            assertThat(volume.submitted()).isEqualTo(window + 1);

            while (writer.isAlive()) {
                if (!volume.releaseOne()) {
                    Thread.onSpinWait();
                }
            }
            writer.join();
            assertThat(error.get()).isNull();
            assertThat(volume.maxInFlight()).isEqualTo(window);
            assertThat(volume.heldCount()).isZero();
            byte[] all = Files.readAllBytes(f);
            assertThat(all).hasSize(writes * 1000);
            for (int i = 0; i < writes; i++) {
                assertThat(all[i * 1000]).isEqualTo((byte) i);
                assertThat(all[i * 1000 + 999]).isEqualTo((byte) i);
            }
        }
    }

    @Test
    void writerBlocksWhenByteWindowIsFull() throws Exception {
        HoldingVolume volume = new HoldingVolume(new MemoryVolume());
        long windowBytes = 2L << 20;
        try (FileSystem fs = TestVolumes.open(
                volume,
                Map.of(
                        HoldfastFileSystemProvider.ENV_WRITE_WINDOW_BYTES,
                        windowBytes,
                        HoldfastFileSystemProvider.ENV_COALESCE_BYTES,
                        0))) {
            Path f = fs.getPath("/big");
            AtomicReference<Throwable> error = new AtomicReference<>();
            Thread writer = Thread.ofPlatform().name("writer").start(() -> {
                try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                    ch.write(ByteBuffer.allocate(6 << 20)); // six 1 MiB requests
                } catch (Throwable t) {
                    error.set(t);
                }
            });
            volume.awaitHeld(2);
            awaitBlocked(writer);
            assertThat(volume.submitted()).isEqualTo(2);
            while (writer.isAlive()) {
                if (!volume.releaseOne()) {
                    Thread.onSpinWait();
                }
            }
            writer.join();
            assertThat(error.get()).isNull();
            assertThat(volume.maxInFlightBytes()).isLessThanOrEqualTo(windowBytes);
            assertThat(Files.size(f)).isEqualTo(6 << 20);
        }
    }

    @Test
    void interruptedWriterGetsClosedByInterrupt() throws Exception {
        HoldingVolume volume = new HoldingVolume(new MemoryVolume());
        try (FileSystem fs = TestVolumes.open(
                volume,
                Map.of(
                        HoldfastFileSystemProvider.ENV_WRITE_WINDOW_REQUESTS,
                        1,
                        HoldfastFileSystemProvider.ENV_COALESCE_BYTES,
                        0))) {
            Path f = fs.getPath("/i");
            AtomicReference<Throwable> error = new AtomicReference<>();
            AtomicReference<FileChannel> channel = new AtomicReference<>();
            Thread writer = Thread.ofPlatform().name("writer").start(() -> {
                try {
                    FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                    channel.set(ch);
                    ch.write(ByteBuffer.allocate(10));
                    ch.write(ByteBuffer.allocate(10));
                } catch (Throwable t) {
                    error.set(t);
                }
            });
            volume.awaitHeld(1);
            awaitBlocked(writer);
            writer.interrupt();
            writer.join();
            assertThat(error.get()).isInstanceOf(ClosedByInterruptException.class);
            assertThat(channel.get().isOpen()).isFalse();
            assertThat(volume.submitted()).isEqualTo(1);
            volume.releaseOne();
        }
    }

    @Test
    void asyncWriteFailureIsReportedAtForce() throws Exception {
        HoldingVolume volume = new HoldingVolume(new MemoryVolume());
        try (FileSystem fs = TestVolumes.uncoalesced(volume)) {
            Path f = fs.getPath("/f");
            FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            assertThat(ch.write(ByteBuffer.wrap(new byte[10])))
                    .as("returns before applied")
                    .isEqualTo(10);
            volume.failWith = Errno.ENOSPC;
            volume.releaseOne();
            assertThatThrownBy(() -> ch.force(true))
                    .isInstanceOfSatisfying(
                            ErrnoFileSystemException.class,
                            e -> assertThat(e.errno()).isEqualTo(Errno.ENOSPC));
            volume.failWith = null;
            ch.write(ByteBuffer.wrap(new byte[5]));
            volume.releaseOne();
            ch.close();
        }
    }

    @Test
    void unreachableVolumeSurfacesHoldfastException() throws Exception {
        VolumeService down = new MemoryVolume() {
            @Override
            public CompletableFuture<Response> query(Request.Query q) {
                return CompletableFuture.failedFuture(new HoldfastException(Errno.ETIMEDOUT, "no leader answered"));
            }
        };
        try (FileSystem fs = TestVolumes.open(down)) {
            assertThatThrownBy(() -> Files.size(fs.getPath("/x")))
                    .isInstanceOfSatisfying(
                            HoldfastException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ETIMEDOUT));
        }
    }
}
