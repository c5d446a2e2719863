package io.holdfast.cli;

import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine;
import picocli.CommandLine.Model.UsageMessageSpec;

/**
 * The exit statuses of {@code holdfast} and how {@code --help} lists them. Every command may
 * exit with {@link #OK}, {@link #FAILED} or {@link #USAGE}; a command that has more declares
 * them with its {@code @Command(exitCodeList = ...)}, which {@link #document} merges with these
 * three (a command's own description of 0 or 1 wins).
 */
final class ExitCodes {
    private ExitCodes() {}

    /** Success. */
    static final int OK = 0;
    /** The command failed; why is on stderr, one line per failure. */
    static final int FAILED = 1;
    /** An unknown option, or a missing, malformed or contradictory argument (picocli's usage error). */
    static final int USAGE = 2;

    /** What every command's help says about 0, 1 and 2. */
    static final Map<String, String> COMMON = Map.of(
            Integer.toString(OK), "success",
            Integer.toString(FAILED), "failed: the reason is on stderr (e.g. the cluster cannot be reached)",
            Integer.toString(USAGE), "usage error: unknown option, missing or malformed argument");

    /** Gives every command of the tree under {@code root} (and {@code root}) its exit status list. */
    static void document(CommandLine root) {
        UsageMessageSpec usage = root.getCommandSpec().usageMessage();
        Map<String, String> codes = new TreeMap<>(COMMON);
        codes.putAll(usage.exitCodeList());
        usage.exitCodeListHeading("%nExit status:%n").exitCodeList(codes);
        root.getSubcommands().values().forEach(ExitCodes::document);
    }
}
