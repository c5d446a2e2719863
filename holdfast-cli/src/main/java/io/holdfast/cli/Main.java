package io.holdfast.cli;

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
    },
    subcommands = {
      ServerCommand.class,
      CertCommands.class,
      DoctorCommand.class,
      ClusterCommands.class,
      VolumeCommands.class,
      ScrubCommands.class,
      DemoCommand.class,
      FileCommands.Ls.class,
      FileCommands.Stat.class,
      FileCommands.Cat.class,
      FileCommands.Put.class,
      FileCommands.Get.class,
      FileCommands.Cp.class,
      FileCommands.Mkdir.class,
      FileCommands.Rm.class,
      FileCommands.Mv.class,
      MountCommand.class,
      BenchCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

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
    System.exit(run(args));
  }

  /** Runs the command line without exiting (tests). */
  public static int run(String... args) {
    ClientLogging.quietGrpc();
    return commandLine().execute(args);
  }

  /** The {@code holdfast} command tree as {@link #run} executes it: help width, error handling. */
  static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
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
