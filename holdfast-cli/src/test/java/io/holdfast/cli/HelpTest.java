package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.PositionalParamSpec;

/** Every command's {@code --help}: a readable usage synopsis. */
class HelpTest {
    /** Every command of the tree, depth first, as {@link Main#run} builds it. */
    static List<CommandLine> allCommands(CommandLine root) {
        List<CommandLine> out = new ArrayList<>();
        out.add(root);
        for (CommandLine sub : root.getSubcommands().values()) {
            out.addAll(allCommands(sub));
        }
        return out;
    }

    /** The usage synopsis on one line (no wrapping), without the leading {@code Usage: }. */
    private static String synopsis(CommandLine cl) {
        cl.setUsageHelpWidth(10_000);
        return cl.getHelp().synopsis(0).strip().replaceFirst("^Usage: ", "");
    }

    private static String help(CommandLine cl) {
        cl.setUsageHelpWidth(120);
        return cl.getUsageMessage(CommandLine.Help.Ansi.OFF);
    }

    private static CommandLine command(String... path) {
        CommandLine cl = Main.commandLine();
        for (String p : path) {
            cl = cl.getSubcommands().get(p);
        }
        return cl;
    }

    @Test
    void everyHelpListsItsExitStatuses() {
        for (CommandLine cl : allCommands(Main.commandLine())) {
            String help = help(cl);
            String name = cl.getCommandSpec().qualifiedName();
            assertThat(help).as(name).contains("Exit status:");
            assertThat(help)
                    .as(name)
                    .containsPattern("(?m)^  0 +\\S")
                    .containsPattern("(?m)^  1 +\\S")
                    .containsPattern("(?m)^  2 +usage error");
        }
        assertThat(help(command()))
                .containsPattern("(?m)^  3 +a node or member did not answer")
                .containsPattern("(?m)^  4 +scrub: ");
        assertThat(help(command("cluster", "status"))).containsPattern("(?m)^  3 +a volume member did not answer");
        assertThat(help(command("volume", "info"))).containsPattern("(?m)^  3 +a member did not answer");
        assertThat(help(command("doctor"))).containsPattern("(?m)^  3 +a problem was found");
        for (String sub : new String[] {"start", "pause", "status"}) {
            assertThat(help(command("scrub", sub)))
                    .as(sub)
                    .containsPattern("(?m)^  " + ScrubCommands.EXIT_DOWN + " +a member did not answer")
                    .containsPattern("(?m)^  " + ScrubCommands.EXIT_DAMAGED + " +a member is quarantined");
        }
    }

    @Test
    void copySynopsesNameEachOperandOnce() {
        CommandLine root = Main.commandLine();
        assertThat(synopsis(root.getSubcommands().get("cp")))
                .isEqualTo("holdfast cp [-hrV] [--insecure] [--progress] [-c=HOST:PORT] [--tls=DIR] "
                        + "SOURCE... DESTINATION");
        assertThat(synopsis(root.getSubcommands().get("get"))).endsWith("[--tls=DIR] VOLUME:/path... LOCAL");
        assertThat(synopsis(root.getSubcommands().get("put"))).endsWith("[--tls=DIR] LOCAL... VOLUME:/path");
        assertThat(synopsis(root.getSubcommands().get("volume").getSubcommands().get("acl")))
                .endsWith("[--tls=DIR] VOLUME add|remove|list [IDENTITY NETWORK ACCESS]");
    }

    @Test
    void everySynopsisShowsEachPositionalOnceAndNoUnlabelledValue() {
        for (CommandLine cl : allCommands(Main.commandLine())) {
            String synopsis = synopsis(cl);
            assertThat(synopsis)
                    .as("picocli's default <field> label in: %s", synopsis)
                    .doesNotContain("<");
            for (PositionalParamSpec p : cl.getCommandSpec().positionalParameters()) {
                if (p.hidden()) {
                    continue;
                }
                String label = p.paramLabel();
                // a label also used by an option (HOST:PORT in -c=HOST:PORT, or a split list) follows '=' or ','
                int count = synopsis.split("(?<![=,])" + Pattern.quote(label) + "(?![\\w:/])", -1).length - 1;
                assertThat(count).as("'%s' in: %s", label, synopsis).isEqualTo(1);
            }
        }
    }
}
