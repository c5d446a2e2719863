package io.holdfast.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.client.HoldfastClient;
import io.holdfast.common.HoldfastException;
import io.holdfast.protocol.Change;
import io.holdfast.protocol.ChangeRecord;
import io.holdfast.protocol.ClusterMap;
import io.holdfast.protocol.PathNames;
import io.holdfast.protocol.Request;
import io.holdfast.protocol.Response;
import io.holdfast.protocol.VolumeService;
import java.io.PrintStream;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code holdfast watch VOLUME[:/dir]}: prints a volume's changes as they are applied, from its
 * change feed ({@link Request.Changes}), one JSON object per line (or one text line).
 */
@Command(
        name = "watch",
        mixinStandardHelpOptions = true,
        sortOptions = false,
        exitCodeList = {"3:the history asked for (--from) was already trimmed; start later or resynchronise"},
        description = {
            "Print a volume's changes as they happen, in log order, one JSON object per line:",
            "  {\"index\":1234,\"time\":\"2026-12-06T10:45:01.123456789Z\",\"kind\":\"rename\",\"path\":\"/new/1\","
                    + "\"from\":\"/tmp/1\",\"inode\":57}",
            "Fields: index (the entry's log index), time (when the leader accepted it), kind (mkdir, create,",
            "symlink, mknod, link, unlink, rmdir, rename, setattr, setxattr, removexattr, write, truncate,",
            "fallocate), path, from (rename and link), inode (0 if not recorded), offset and length (data changes).",
            "A data change names the file's latest name, or has no path if the volume cannot tell one.",
            "With VOLUME:/dir only changes inside /dir are shown (a rename into or out of it too).",
            "Members keep a bounded history (see holdfast server --help); --from before it fails with status 3.",
            "Stop with Ctrl-C.",
            "",
            "Examples:",
            "  holdfast watch mail:/inbox",
            "  holdfast watch mail --from 0 --once --format text    everything still kept, then exit"
        })
final class WatchCommand implements Callable<Integer> {
    /** Exit status when the history asked for was trimmed. */
    static final int EXIT_TRIMMED = 3;

    private static final int PAGE_RECORDS = 256;
    private static final int WAIT_MILLIS = 500;

    @Mixin
    ClusterOption cluster;

    @Parameters(index = "0", paramLabel = "VOLUME[:/DIR]", description = "The volume, and a directory to watch in it.")
    String target;

    @Option(
            names = "--from",
            paramLabel = "INDEX",
            description = "Start after this log index (0: the oldest change still kept). Default: now.")
    Long from;

    @Option(names = "--once", description = "Print the changes kept so far (after --from), then exit.")
    boolean once;

    @Option(
            names = "--format",
            paramLabel = "json|text",
            description = "json (default): one object per line; text: index, time, kind, path.")
    String format = "json";

    PrintStream out = System.out;

    @Override
    public Integer call() throws Exception {
        int colon = target.indexOf(':');
        String volume = colon < 0 ? target : target.substring(0, colon);
        String dir = colon < 0 ? "/" : target.substring(colon + 1);
        ClusterMap.checkVolumeName(volume);
        if (!dir.startsWith("/")) {
            throw new IllegalArgumentException(
                    "the directory in " + target + " must be absolute, e.g. " + volume + ":/");
        }
        dir = PathNames.join(PathNames.split(dir));
        boolean json = switch (format) {
            case "json" -> true;
            case "text" -> false;
            default -> throw new IllegalArgumentException("--format must be json or text, not " + format);
        };
        if (from != null && from < 0) {
            throw new IllegalArgumentException("--from must be 0 or more, got " + from);
        }
        try (HoldfastClient client = cluster.connect()) {
            VolumeService v = client.volume(volume);
            Response.ChangePage now = page(v, 0, 0);
            long after = from == null ? now.appliedIndex() : from == 0 ? now.trimmedThrough() : from;
            while (true) {
                Response.ChangePage p = page(v, after, once ? 0 : WAIT_MILLIS);
                if (p.resyncNeeded(after)) {
                    System.err.println("holdfast watch: changes after index " + after + " are no longer kept (the"
                            + " member's history starts after " + p.trimmedThrough() + "); use --from "
                            + p.trimmedThrough() + " or later");
                    return EXIT_TRIMMED;
                }
                for (ChangeRecord r : p.records()) {
                    for (Change c : r.changes()) {
                        if (inside(c, dir)) {
                            out.println(json ? json(r, c) : text(r, c));
                        }
                    }
                }
                out.flush();
                after = p.next(after);
                if (once && !p.more()) {
                    return ExitCodes.OK;
                }
            }
        }
    }

    private static Response.ChangePage page(VolumeService v, long after, int waitMillis) throws Exception {
        Response r = v.changes(after, PAGE_RECORDS, waitMillis).get(60, TimeUnit.SECONDS);
        if (r instanceof Response.Error e) {
            throw new HoldfastException(e.errno(), "reading the change feed: " + e.message());
        }
        return (Response.ChangePage) r;
    }

    /** Whether the change concerns a name inside {@code dir} (its path or, for a rename or link, its old name). */
    static boolean inside(Change c, String dir) {
        return within(c.path(), dir) || within(c.from(), dir);
    }

    private static boolean within(String path, String dir) {
        return path != null && (dir.equals("/") || path.equals(dir) || path.startsWith(dir + "/"));
    }

    static String json(ChangeRecord r, Change c) throws JsonProcessingException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("index", r.index());
        m.put("time", time(r));
        m.put("kind", c.kind().name().toLowerCase(Locale.ROOT));
        if (c.path() != null) {
            m.put("path", c.path());
        }
        if (c.from() != null) {
            m.put("from", c.from());
        }
        m.put("inode", c.inode());
        if (c.kind().isData()) {
            m.put("offset", c.offset());
            if (c.kind() != Change.Kind.TRUNCATE) {
                m.put("length", c.length());
            }
        }
        return MAPPER.writeValueAsString(m);
    }

    static String text(ChangeRecord r, Change c) {
        StringBuilder b = new StringBuilder();
        b.append(r.index())
                .append(' ')
                .append(time(r))
                .append(' ')
                .append(c.kind().name().toLowerCase(Locale.ROOT))
                .append(' ')
                .append(c.path() == null ? "(inode " + c.inode() + ", name unknown)" : c.path());
        if (c.from() != null) {
            b.append(" <- ").append(c.from());
        }
        if (c.kind().isData()) {
            b.append(
                    c.kind() == Change.Kind.TRUNCATE
                            ? " size " + c.offset()
                            : " [" + c.offset() + ", +" + c.length() + ")");
        }
        return b.toString();
    }

    private static String time(ChangeRecord r) {
        return Instant.ofEpochSecond(0, r.timeNanos()).toString();
    }

    private static final ObjectMapper MAPPER = new ObjectMapper();
}
