package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.fuse.FuseMount;
import io.holdfast.testkit.MiniCluster;
import io.holdfast.transport.Role;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The file commands against a real three-node cluster in this JVM. */
class RemoteFileCommandsIT {
    /** A log line of a Raft server thread of the in-process cluster ({@code [127.0.0.1_PORT-...]}). */
    private static final Pattern SERVER_LOG_LINE =
            Pattern.compile("^\\S+ \\[127\\.0\\.0\\.1_\\d+[^\\]]*\\] (TRACE|DEBUG|INFO|WARN) ");

    static MiniCluster cluster;
    static String address;

    @TempDir
    static Path clusterDir;

    @TempDir
    Path tmp;

    @BeforeAll
    static void startCluster() throws IOException {
        cluster = MiniCluster.start(clusterDir, 3, 20000);
        cluster.createVolume("v", 0, 1, 2);
        cluster.createVolume("w", 0, 1, 2);
        cluster.createVolume("m", 0, 1, 2); // for the mount test only
        cluster.createVolume("r", 0, 1, 2); // for the read-only mount test only
        address = cluster.addresses().get(0);
    }

    @AfterAll
    static void stopCluster() throws IOException {
        if (cluster != null) {
            cluster.close();
        }
    }

    private static Cli holdfast(String... args) {
        // the options go last, so they reach the (sub)command however many words it has
        String[] withCluster = Arrays.copyOf(args, args.length + 2);
        withCluster[args.length] = "--cluster=" + address;
        withCluster[args.length + 1] = "--tls=" + clusterDir.resolve("tls-admin");
        return Cli.run(withCluster);
    }

    private static Cli ok(String... args) {
        Cli r = holdfast(args);
        assertThat(r.exit())
                .as("exit of %s, stderr %s", String.join(" ", args), r.err())
                .isZero();
        return r;
    }

    @Test
    void putLsCatGetMvRm() throws IOException {
        Path src = tmp.resolve("src");
        Trees.build(src, 7);

        // put -r, then look at it remotely
        ok("put", "-r", src.toString(), "v:/src");
        assertThat(ok("ls", "v:/src").out().lines())
                .containsExactly("big.bin", "dangling", "docs", "empty", "link-to-readme", "run.sh");
        assertThat(ok("ls", "-a", "v:/src").out().lines()).contains(".hidden");
        String long_ = ok("ls", "-l", "v:/src").out();
        assertThat(long_).containsPattern("(?m)^lrwxrwxrwx .* link-to-readme -> docs/readme\\.txt$");
        assertThat(long_).containsPattern("(?m)^-rwxr-x--- +1 +\\d+ +\\d+ +18 .* run\\.sh$");
        assertThat(long_).containsPattern("(?m)^-rw-r--r-- +1 +\\d+ +\\d+ +3145745 .* big\\.bin$");
        assertThat(ok("cat", "v:/src/docs/readme.txt", "v:/src/docs/nested/deeper/note.md")
                        .out())
                .isEqualTo("hello holdfast\n# deep\n");
        assertThat(ok("stat", "v:/src/run.sh").out())
                .contains("  File: v:/src/run.sh", "Access: (0750/-rwxr-x---)", "Type: regular file");

        // get -r brings back the same tree
        ok("get", "-r", "v:/src", tmp.resolve("back").toString());
        Trees.assertSame(src, tmp.resolve("back"));

        // mv within a volume is one rename
        Cli mv = ok("mv", "v:/src", "v:/moved");
        // nothing from the command itself (the in-process cluster's servers log to the same stderr)
        assertThat(mv.err().lines().filter(l -> !SERVER_LOG_LINE.matcher(l).find()))
                .isEmpty();
        assertThat(ok("ls", "v:/").out().lines()).contains("moved").doesNotContain("src");

        // cp within a volume, into a directory made by mkdir -p
        ok("mkdir", "-p", "v:/a/b");
        ok("cp", "-r", "v:/moved/docs", "v:/a/b");
        assertThat(ok("cat", "v:/a/b/docs/readme.txt").out()).isEqualTo("hello holdfast\n");

        // mv between volumes copies, then deletes, and says so
        Cli across = ok("mv", "v:/moved", "w:/");
        assertThat(across.err()).contains("different file systems");
        ok("get", "-r", "w:/moved", tmp.resolve("back2").toString());
        Trees.assertSame(src, tmp.resolve("back2"));
        assertThat(ok("ls", "v:/").out().lines()).doesNotContain("moved");

        // local -> remote mv
        Path local = Files.writeString(tmp.resolve("local.txt"), "from local\n");
        ok("mv", local.toString(), "v:/a/local.txt");
        assertThat(local).doesNotExist();
        assertThat(ok("cat", "v:/a/local.txt").out()).isEqualTo("from local\n");

        // errors name the remote path; other arguments still run
        Cli missing = holdfast("cat", "v:/nothing", "v:/a/local.txt");
        assertThat(missing.exit()).isEqualTo(1);
        assertThat(missing.err()).isEqualTo("holdfast cat: no such file or directory: v:/nothing\n");
        assertThat(missing.out()).isEqualTo("from local\n");
        Cli noVolume = holdfast("ls", "nosuchvolume:/");
        assertThat(noVolume.exit()).isEqualTo(1);
        assertThat(noVolume.err()).startsWith("holdfast ls: ");

        // rm -r
        Cli rmDir = holdfast("rm", "v:/a");
        assertThat(rmDir.exit()).isEqualTo(1);
        assertThat(rmDir.err()).contains("v:/a: is a directory (use -r)");
        ok("rm", "-r", "v:/a", "w:/moved");
        assertThat(ok("ls", "v:/").out()).isEmpty();
        assertThat(ok("ls", "w:/").out()).isEmpty();
        assertThat(holdfast("rm", "-r", "v:/a").exit()).isEqualTo(1);
        ok("rm", "-rf", "v:/a");
    }

    /** Starts {@code holdfast mount} as a separate process, as an operator runs it: the mount lives until unmounted. */
    private static Process startMount(Path tls, String volume, Path mnt, Path log) throws IOException {
        return new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "--enable-native-access=ALL-UNNAMED",
                        "--sun-misc-unsafe-memory-access=allow",
                        "-cp",
                        System.getProperty("java.class.path"),
                        Main.class.getName(),
                        "mount",
                        "--cluster=" + address,
                        "--tls=" + tls,
                        volume,
                        mnt.toString())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
    }

    /** Unmounts {@code mnt} if the mount process still runs, and waits for the process to end. */
    private static void unmount(Process mount, Path mnt) throws IOException, InterruptedException {
        if (mount.isAlive()) {
            new ProcessBuilder("fusermount3", "-u", mnt.toString())
                    .inheritIO()
                    .start()
                    .waitFor(20, TimeUnit.SECONDS);
        }
        if (!mount.waitFor(30, TimeUnit.SECONDS)) {
            mount.destroyForcibly();
        }
    }

    @Test
    void mountServesTheVolumeUntilUnmounted() throws Exception {
        assumeTrue(FuseMount.isAvailable(), "FUSE is not available here");
        ok("mkdir", "-p", "m:/mnt-test");
        Path file = Files.writeString(tmp.resolve("f.txt"), "through fuse\n");
        ok("put", file.toString(), "m:/mnt-test/f.txt");
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Path log = tmp.resolve("mount.log");
        Process mount = startMount(clusterDir.resolve("tls-admin"), "m", mnt, log);
        try {
            Path seen = mnt.resolve("mnt-test/f.txt");
            MiniCluster.await(
                    Duration.ofSeconds(60), () -> !mount.isAlive() || Files.exists(seen), "mount shows f.txt");
            assertThat(mount.isAlive())
                    .as("mount ended early: %s", Files.readString(log))
                    .isTrue();
            assertThat(seen).hasContent("through fuse");
            Files.writeString(mnt.resolve("mnt-test/g.txt"), "written through fuse\n");
            assertThat(ok("cat", "m:/mnt-test/g.txt").out()).isEqualTo("written through fuse\n");
            // modes given to mkdir(2) and open(2) arrive exactly (one replicated step each)
            assertThat(new ProcessBuilder(
                                    "mkdir",
                                    "-m",
                                    "750",
                                    mnt.resolve("mnt-test/d").toString())
                            .start()
                            .waitFor())
                    .isZero();
            assertThat(new ProcessBuilder("sh", "-c", "umask 077; echo x > " + mnt.resolve("mnt-test/private"))
                            .start()
                            .waitFor())
                    .isZero();
            assertThat(ok("stat", "m:/mnt-test/d").out()).contains("0750");
            assertThat(ok("stat", "m:/mnt-test/private").out()).contains("0600");
        } finally {
            unmount(mount, mnt);
        }
        assertThat(mount.exitValue()).as(Files.readString(log)).isZero();
        assertThat(Files.readString(log)).contains("mounted m at " + mnt);
        ok("rm", "-r", "m:/mnt-test");
    }

    @Test
    void clusterStatusAsJsonForScripts() throws Exception {
        Cli r = ok("cluster", "status", "--json");
        JsonNode doc = new ObjectMapper().readTree(r.out());
        assertThat(doc.get("healthy").asBoolean()).isTrue();
        assertThat(doc.get("connectedAs").asText()).contains("admin");
        assertThat(doc.get("nodes")).hasSize(3);
        List<String> names = new ArrayList<>();
        for (JsonNode v : doc.get("volumes")) {
            names.add(v.get("name").asText());
            assertThat(v.get("members")).hasSize(3);
            for (JsonNode m : v.get("members")) {
                assertThat(m.get("up").asBoolean()).isTrue();
                assertThat(m.get("digest").asText()).hasSize(64);
            }
        }
        assertThat(names).contains("v", "w", "m", "r");
        // what the status page shows: nodes up, each group's leader and health, members' indexes
        assertThat(doc.get("health").asText()).isEqualTo("healthy");
        assertThat(doc.get("nodeStatus"))
                .hasSize(3)
                .allSatisfy(n -> assertThat(n.get("up").asBoolean()).isTrue());
        assertThat(doc.get("groups")).hasSize(5).allSatisfy(g -> {
            assertThat(g.get("leader").asText()).isIn(cluster.addresses());
            assertThat(g.get("health").asText()).isEqualTo("healthy");
            assertThat(g.get("members"))
                    .hasSize(3)
                    .allSatisfy(m -> assertThat(m.get("commitIndex").asLong()).isNotNegative());
        });
        assertThat(ok("cluster", "status").out()).contains("connected as admin", "groups:", "(cluster)");
    }

    @Test
    void aReadOnlyClientMountsAndReadsAndGetsErofsOnWrites() throws Exception {
        assumeTrue(FuseMount.isAvailable(), "FUSE is not available here");
        ok("mkdir", "-p", "r:/ro-test");
        ok("put", Files.writeString(tmp.resolve("r.txt"), "readable\n").toString(), "r:/ro-test/r.txt");
        Path reader = cluster.issueClient("reader", Role.CLIENT);
        assertThat(ok("volume", "acl", "r", "add", "read*", "127.0.0.0/8", "ro").out())
                .contains("read*")
                .contains("ro");
        String before = ok("ls", "-l", "r:/ro-test").out();
        Path mnt = Files.createDirectory(tmp.resolve("ro-mnt"));
        Path log = tmp.resolve("ro-mount.log");
        Process mount = startMount(reader, "r", mnt, log);
        try {
            Path seen = mnt.resolve("ro-test/r.txt");
            MiniCluster.await(
                    Duration.ofSeconds(60),
                    () -> !mount.isAlive() || Files.exists(seen),
                    "read-only mount shows r.txt");
            assertThat(mount.isAlive())
                    .as("mount ended early: %s", Files.readString(log))
                    .isTrue();
            assertThat(seen).hasContent("readable");
            assertThat(Files.readString(log)).contains("exported read-only to this client: mounting read-only");
            for (String write : List.of(
                    "echo x > ro-test/new",
                    "echo x >> ro-test/r.txt",
                    "mkdir ro-test/d",
                    "rm ro-test/r.txt",
                    "mv ro-test/r.txt ro-test/s.txt",
                    "chmod 600 ro-test/r.txt",
                    "ln -s r.txt ro-test/l",
                    "touch ro-test/r.txt")) {
                Process p = new ProcessBuilder("sh", "-c", "cd " + mnt + " && " + write)
                        .redirectErrorStream(true)
                        .start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(p.waitFor()).as(write).isNotZero();
                assertThat(out).as(write).contains("Read-only file system");
            }
        } finally {
            unmount(mount, mnt);
            ok("volume", "acl", "r", "remove", "read*", "127.0.0.0/8", "ro");
        }
        assertThat(ok("ls", "-l", "r:/ro-test").out()).isEqualTo(before);
        ok("rm", "-r", "r:/ro-test");
    }

    /** {@code holdfast watch}: the feed of what the other commands did, as JSON lines and as text. */
    @Test
    void watchPrintsWhatTheCommandsChangedInOrder() throws IOException {
        Path file = Files.writeString(tmp.resolve("msg"), "hello");
        ok("mkdir", "-p", "w:/watch/tmp", "w:/watch/new");
        ok("put", file.toString(), "w:/watch/tmp/1");
        ok("mv", "w:/watch/tmp/1", "w:/watch/new/1");
        ok("rm", "w:/watch/new/1");
        ok("mkdir", "w:/elsewhere");

        Cli watched = ok("watch", "w:/watch", "--from", "0", "--once");
        ObjectMapper json = new ObjectMapper();
        List<String> seen = new ArrayList<>();
        long lastIndex = 0;
        for (String line : watched.out().lines().toList()) {
            JsonNode n = json.readTree(line);
            assertThat(n.get("index").asLong()).isGreaterThanOrEqualTo(lastIndex);
            lastIndex = n.get("index").asLong();
            assertThat(n.get("time").asText()).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");
            seen.add(n.get("kind").asText() + " " + n.get("path").asText()
                    + (n.has("from") ? " <- " + n.get("from").asText() : ""));
        }
        assertThat(seen)
                .containsSubsequence(
                        "mkdir /watch",
                        "mkdir /watch/tmp",
                        "mkdir /watch/new",
                        "create /watch/tmp/1",
                        "write /watch/tmp/1",
                        "rename /watch/new/1 <- /watch/tmp/1",
                        "unlink /watch/new/1")
                .noneMatch(l -> l.contains("elsewhere"));

        assertThat(ok("watch", "w:/watch/new", "--from", "0", "--once", "--format", "text")
                        .out()
                        .lines())
                .anyMatch(l -> l.matches("\\d+ \\S+Z rename /watch/new/1 <- /watch/tmp/1"))
                .anyMatch(l -> l.matches("\\d+ \\S+Z unlink /watch/new/1"))
                .noneMatch(l -> l.contains(" create "));
        assertThat(holdfast("watch", "w:/watch", "--format", "xml").exit()).isEqualTo(2);
        assertThat(holdfast("watch", "no-such-volume", "--once").exit()).isEqualTo(1);
        ok("rm", "-r", "w:/watch", "w:/elsewhere"); // the other tests expect an empty volume
    }

    /**
     * {@code holdfast georep}: a session made, run once to catch up, its status, then run in the
     * foreground while files arrive (its metrics served), and stopped with {@code georep stop};
     * a change made while it is stopped puts the lag above the session's RPO, which
     * {@code georep status} reports with exit 4.
     */
    @Test
    void georepReplicatesAVolumeToADirectoryAndStopsWhenAsked() throws Exception {
        Path sessions = tmp.resolve("sessions");
        Path target = tmp.resolve("dr");
        ok("mkdir", "-p", "v:/georep/a");
        ok("put", Files.writeString(tmp.resolve("one"), "one").toString(), "v:/georep/a/one");
        String[] where = {"--sessions", sessions.toString()};
        assertThat(ok(concat(new String[] {"georep", "create", "dr1", "v", target.toString(), "--rpo", "0.5"}, where))
                        .out())
                .contains("recorded in the cluster map");
        assertThat(holdfast(concat(new String[] {"georep", "create", "dr1", "v", target.toString()}, where))
                        .exit())
                .as("a second session of the same name: a usage error")
                .isEqualTo(2);
        Cli once = Cli.run(concat(new String[] {"georep", "start", "dr1", "--once"}, where));
        assertThat(once.exit()).as(once.err()).isZero();
        assertThat(Files.readString(target.resolve("georep/a/one"))).isEqualTo("one");
        assertThat(Cli.run(concat(new String[] {"georep", "status", "dr1"}, where))
                        .out())
                .contains("position: index", "0 entries behind", "(RPO 0.5 s)");
        assertThat(Cli.run(concat(new String[] {"georep", "list"}, where)).out())
                .contains("dr1\tv@" + address);

        // on a thread of its own: the common pool (one thread on two cores) is the client's too
        int metricsPort;
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            metricsPort = free.getLocalPort();
        }
        CompletableFuture<Cli> running = new CompletableFuture<>();
        String[] start = {"georep", "start", "dr1", "--metrics", "127.0.0.1:" + metricsPort};
        Thread.ofPlatform().daemon().start(() -> running.complete(Cli.run(concat(start, where))));
        // another client changes the volume meanwhile (Cli.run is held by the running worker's thread)
        try (FileSystem other = FileSystems.newFileSystem(
                URI.create("holdfast://" + cluster.addresses().get(1) + "/v"), cluster.clientEnv())) {
            Files.writeString(other.getPath("/georep/a/two"), "two");
            Files.move(other.getPath("/georep/a"), other.getPath("/georep/b"));
        }
        MiniCluster.await(
                Duration.ofSeconds(60),
                () -> Files.exists(target.resolve("georep/b/two")),
                "the second file at the target under its new directory name");
        try (HttpClient http = HttpClient.newHttpClient()) {
            HttpResponse<String> metrics = http.send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics"))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(metrics.body())
                    .contains("holdfast_georep_position{session=\"dr1\",volume=\"v\"}")
                    .contains("holdfast_georep_rpo_seconds{session=\"dr1\",volume=\"v\"} 0.5");
        }
        assertThat(Main.run(concat(new String[] {"georep", "stop", "dr1"}, where)))
                .isZero();
        Cli stopped = running.get(60, TimeUnit.SECONDS);
        assertThat(stopped.exit()).as(stopped.err()).isZero();
        assertThat(Files.exists(target.resolve("georep/a"))).isFalse();
        assertThat(Files.readString(target.resolve("georep/b/one"))).isEqualTo("one");
        assertThat(stopped.out()).contains("status and metrics at http://127.0.0.1:" + metricsPort + "/");

        ok("put", Files.writeString(tmp.resolve("three"), "three").toString(), "v:/georep/b/three");
        MiniCluster.await(
                Duration.ofSeconds(30),
                () -> Cli.run(concat(new String[] {"georep", "status", "dr1"}, where))
                                .exit()
                        == 4,
                "georep status exits 4 once the lag is above the RPO of 0.5 s");
        assertThat(Cli.run(concat(new String[] {"georep", "status", "dr1"}, where))
                        .out())
                .contains("entries behind", "RPO BREACHED (RPO 0.5 s)")
                .doesNotContain(" 0 entries behind");

        // the primary's view: the session in the cluster map, with the position its worker reported on stopping
        Cli listed = holdfast("georep", "list", "--map");
        assertThat(listed.exit()).as(listed.out() + listed.err()).isEqualTo(4);
        String row = listed.out()
                .lines()
                .filter(l -> l.startsWith("dr1\t"))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no dr1 in " + listed.out()));
        String[] cells = row.split("\t");
        assertThat(cells[1]).isEqualTo("v");
        assertThat(cells[2]).isEqualTo(target.toAbsolutePath().normalize().toString());
        assertThat(cells[3]).isEqualTo("0.5s");
        assertThat(Long.parseLong(cells[4])).as("the reported position").isPositive();
        assertThat(cells[6]).contains("RPO BREACHED");
        assertThat(cells[7]).endsWith("s ago");

        Cli removed = Cli.run(concat(new String[] {"georep", "rm", "dr1"}, where));
        assertThat(removed.exit()).as(removed.err()).isZero();
        assertThat(removed.out()).contains("removed from the cluster map");
        assertThat(holdfast("georep", "list", "--map").out()).doesNotContain("dr1\t");
        assertThat(Cli.run(concat(new String[] {"georep", "list"}, where)).out())
                .doesNotContain("dr1");
        ok("rm", "-r", "v:/georep"); // the other tests expect an empty volume
    }

    /**
     * {@code holdfast georep promote} refused while the volume answers (exit 3), forced; {@code
     * start} refused on the promoted target; a conflict made on both sides; {@code reverse
     * --dry-run --json}, {@code reverse} with its conflict report, {@code reverse --finish}; then
     * {@code start --once} replicates forward again.
     */
    @Test
    void georepPromoteReverseAndFailBack() throws Exception {
        Path sessions = tmp.resolve("sessions");
        Path target = tmp.resolve("dr");
        ok("mkdir", "-p", "v:/fo");
        ok("put", Files.writeString(tmp.resolve("one"), "one").toString(), "v:/fo/one");
        String[] where = {"--sessions", sessions.toString()};
        ok(concat(new String[] {"georep", "create", "fo", "v", target.toString()}, where));
        Cli once = Cli.run(concat(new String[] {"georep", "start", "fo", "--once"}, where));
        assertThat(once.exit()).as(once.err()).isZero();

        Cli refused = Cli.run(concat(new String[] {"georep", "promote", "fo"}, where));
        assertThat(refused.exit()).as(refused.err()).isEqualTo(3);
        assertThat(refused.err()).contains("still answers", "Nothing was changed");
        Cli promoted = Cli.run(concat(new String[] {"georep", "promote", "fo", "--force"}, where));
        assertThat(promoted.exit()).as(promoted.err()).isZero();
        assertThat(promoted.out()).contains("is the writable primary now", "split at source index");
        Cli start = Cli.run(concat(new String[] {"georep", "start", "fo", "--once"}, where));
        assertThat(start.exit()).isEqualTo(1);
        assertThat(start.err()).contains("was promoted to primary", "georep reverse fo");
        assertThat(Cli.run(concat(new String[] {"georep", "status", "fo"}, where))
                        .out())
                .contains("PROMOTED");

        Files.writeString(target.resolve("fo/one"), "DR one");
        Files.writeString(target.resolve("fo/dr-new"), "made at DR");
        ok("put", Files.writeString(tmp.resolve("one"), "primary one").toString(), "v:/fo/one");

        Cli dry = Cli.run(concat(new String[] {"georep", "reverse", "fo", "--dry-run", "--json"}, where));
        assertThat(dry.exit()).as(dry.err()).isZero();
        assertThat(dry.out()).contains("\"dryRun\":true", "\"path\":\"/fo/one\"");
        assertThat(ok("cat", "v:/fo/one").out()).isEqualTo("primary one");
        Cli reverse = Cli.run(concat(new String[] {"georep", "reverse", "fo"}, where));
        assertThat(reverse.exit()).as(reverse.err()).isZero();
        System.out.print(reverse.out());
        assertThat(reverse.out()).contains("conflicts: 1", "/fo/one: DR modified", "kept as /fo/one.conflict-primary-");
        assertThat(ok("cat", "v:/fo/one").out()).isEqualTo("DR one");
        assertThat(ok("cat", "v:/fo/dr-new").out()).isEqualTo("made at DR");
        assertThat(ok("ls", "v:/fo").out()).contains("one.conflict-primary-");

        Cli finish = Cli.run(concat(new String[] {"georep", "reverse", "fo", "--finish"}, where));
        assertThat(finish.exit()).as(finish.err()).isZero();
        assertThat(finish.out()).contains("failed back");
        Cli forward = Cli.run(concat(new String[] {"georep", "start", "fo", "--once"}, where));
        assertThat(forward.exit()).as(forward.err()).isZero();
        assertThat(forward.out()).doesNotContain("full synchronisation");
        try (var names = Files.list(target.resolve("fo"))) {
            assertThat(names.map(n -> n.getFileName().toString())).anyMatch(n -> n.startsWith("one.conflict-primary-"));
        }
        ok("rm", "-r", "v:/fo"); // the other tests expect an empty volume
    }

    private static String[] concat(String[] a, String[] b) {
        String[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
