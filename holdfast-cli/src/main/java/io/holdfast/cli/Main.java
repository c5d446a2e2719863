package io.holdfast.cli;

import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code holdfast} command. Each subcommand is a class in this package; see
 * {@code holdfast --help}.
 */
@Command(
        name = "holdfast",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = {
            "Holdfast keeps files safe across machines: a replicated, transactional filesystem on Raft.",
            "",
            "Start here:  holdfast demo            (three nodes on this machine, end to end)",
            "Cluster:     holdfast cluster init, holdfast server, holdfast cluster status",
            "Volumes:     holdfast volume create|list|info",
            "Scrub:       holdfast scrub start|pause|status  (find and repair damaged copies)",
            "Files:       holdfast ls|stat|cat|put|get|cp|mkdir|rm|mv  (VOLUME:/path)",
            "Mount:       holdfast mount VOLUME MOUNTPOINT",
            "Security:    holdfast cert node|client, holdfast volume acl, holdfast doctor (TLS is on by default)",
            ""
        },
        exitCodeList = {
            "3:a node or member did not answer (cluster status, volume info, scrub), or doctor found a problem",
            "4:scrub: a member is quarantined or has blocks that could not be repaired"
        })
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /**
     * The subcommands by name, in the order {@code holdfast --help} lists them. Not in the
     * {@code @Command} annotation: picocli builds the model of every annotated subcommand (their
     * options, fields and types, by reflection) when the command line is constructed, which
     * costs a one-shot command like {@code holdfast ls} several hundred milliseconds of start-up.
     * {@link #commandLine} builds only the one being run.
     */
    static final Map<String, Class<?>> SUBCOMMANDS = subcommands();

    private static Map<String, Class<?>> subcommands() {
        Map<String, Class<?>> m = new LinkedHashMap<>();
        m.put("server", ServerCommand.class);
        m.put("cert", CertCommands.class);
        m.put("doctor", DoctorCommand.class);
        m.put("cluster", ClusterCommands.class);
        m.put("volume", VolumeCommands.class);
        m.put("scrub", ScrubCommands.class);
        m.put("demo", DemoCommand.class);
        m.put("ls", FileCommands.Ls.class);
        m.put("stat", FileCommands.Stat.class);
        m.put("cat", FileCommands.Cat.class);
        m.put("put", FileCommands.Put.class);
        m.put("get", FileCommands.Get.class);
        m.put("cp", FileCommands.Cp.class);
        m.put("mkdir", FileCommands.Mkdir.class);
        m.put("rm", FileCommands.Rm.class);
        m.put("mv", FileCommands.Mv.class);
        m.put("mount", MountCommand.class);
        m.put("overlay", OverlayCommands.class);
        m.put("nbd", NbdCommands.class);
        m.put("watch", WatchCommand.class);
        m.put("georep", GeorepCommands.class);
        m.put("mirror", MirrorCommand.class);
        m.put("bench", BenchCommand.class);
        m.put("startup-training", StartupTrainingCommand.class); // hidden: the launcher's start-up cache
        m.put("help", CommandLine.HelpCommand.class);
        return m;
    }

    /**
     * The line format of java.util.logging (the JDK's {@code System.Logger} and gRPC log there):
     * an ISO-8601 timestamp with milliseconds and zone offset, like the slf4j lines
     * ({@code simplelogger.properties}).
     */
    static final String JUL_FORMAT = "%1$tY-%1$tm-%1$tdT%1$tH:%1$tM:%1$tS.%1$tL%1$tz %4$s %3$s - %5$s%6$s%n";

    /** Entry point; exits with the command's status. */
    public static void main(String[] args) {
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", JUL_FORMAT);
        }
        StartupWarmup.start(args);
        System.exit(run(args));
    }

    /** Runs the command line without exiting (tests). */
    public static int run(String... args) {
        ClientLogging.quietGrpc();
        return commandLine(args).execute(args);
    }

    /**
     * The {@code holdfast} command tree as {@link #run} executes it for {@code args} (help width,
     * error handling, exit codes): when the first argument names a subcommand (other than
     * {@code help}), only that subcommand is built; otherwise (no arguments, an option such as
     * {@code --help}, {@code help}, a mistyped name) all of them are, for the usage message and
     * picocli's suggestions.
     */
    static CommandLine commandLine(String... args) {
        CommandLine cl = new CommandLine(new Main());
        Class<?> only = args.length == 0 || args[0].equals("help") ? null : SUBCOMMANDS.get(args[0]);
        if (only != null) {
            cl.addSubcommand(args[0], only);
        } else {
            SUBCOMMANDS.forEach(cl::addSubcommand);
        }
        cl.setUsageHelpWidth(120); // the help texts are written in lines of up to ~110 characters
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println(cmd.getColorScheme().errorText("holdfast: " + Errors.describe(ex)));
            if (System.getenv("HOLDFAST_DEBUG") != null) {
                ex.printStackTrace(cmd.getErr());
            }
            return Errors.exitCode(ex);
        });
        ExitCodes.document(cl);
        return cl;
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"holdfast " + (v == null ? "development build" : v) + ", Java " + Runtime.version()};
        }
    }
}
