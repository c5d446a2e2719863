package io.holdfast.storage;

import static org.assertj.core.api.Assertions.assertThat;

import io.holdfast.common.Caller;
import io.holdfast.common.Errno;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Checksums;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import java.nio.file.Path;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LocalVolumeServiceTest {
    @TempDir
    Path tmp;

    @Test
    void appliesInOrderWithInjectedTimestampsAndAnswersQueries() throws Exception {
        Instant t0 = Instant.ofEpochSecond(1_700_000_000L, 123);
        try (Brick brick = Brick.open(tmp.resolve("b"))) {
            try (LocalVolumeService vs = new LocalVolumeService(brick, InstantSource.fixed(t0))) {
                List<CompletableFuture<Response>> fs = new ArrayList<>();
                for (int i = 0; i < 50; i++) {
                    fs.add(vs.submit(new Request.Mkdir(Caller.ROOT, "/d" + i, 0755)));
                }
                fs.add(vs.submit(new Request.Mkdir(Caller.ROOT, "/d0", 0755)));
                for (int i = 0; i < 50; i++) {
                    assertThat(fs.get(i).get()).isInstanceOf(Response.AttrReply.class);
                }
                assertThat(fs.get(50).get()).isInstanceOf(Response.Error.class);
                assertThat(brick.appliedIndex()).isEqualTo(51);
                Response.AttrReply a = (Response.AttrReply)
                        vs.query(new Request.GetAttr("/d7", false)).get();
                assertThat(a.attr().mtimeNanos()).isEqualTo(1_700_000_000_000_000_123L);
                byte[] d = {1, 2, 3};
                Response.AttrReply f = (Response.AttrReply) vs.submit(new Request.Create(Caller.ROOT, "/f", 0644, true))
                        .get();
                vs.submit(new Request.Write(Caller.ROOT, f.attr().inode(), 0, d, Checksums.crc32c(d)))
                        .get();
                assertThat(vs.query(new Request.Read(f.attr().inode(), 0, 10)).get())
                        .isEqualTo(new Response.Data(d, Checksums.crc32c(d)));
                assertThat(vs.query(new Request.GetDigest()).get()).isEqualTo(brick.digest());
            }
            // a new service continues after the applied index
            try (LocalVolumeService vs = new LocalVolumeService(brick, InstantSource.fixed(t0))) {
                vs.submit(new Request.Mkdir(Caller.ROOT, "/later", 0755)).get();
                assertThat(brick.appliedIndex()).isEqualTo(54);
                vs.close();
                CompletableFuture<Response> late = vs.submit(new Request.Mkdir(Caller.ROOT, "/x", 0755));
                assertThat(late).isCompletedExceptionally();
                try {
                    late.get();
                } catch (ExecutionException e) {
                    assertThat(e.getCause()).isInstanceOf(HoldfastException.class);
                    assertThat(((HoldfastException) e.getCause()).errno()).isEqualTo(Errno.EBADF);
                }
            }
        }
    }
}
