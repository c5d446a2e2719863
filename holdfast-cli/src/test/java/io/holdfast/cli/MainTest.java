package io.holdfast.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;

class MainTest {
    @Test
    void subcommandNamesAreTheirCommandNames() {
        Main.SUBCOMMANDS.forEach(
                (name, cls) -> assertThat(cls.getAnnotation(Command.class).name())
                        .as(cls.getName())
                        .isEqualTo(name));
    }

    @Test
    void aNamedSubcommandIsTheOnlyOneBuilt() {
        Map<String, CommandLine> subs = Main.commandLine("ls", "-l", "v:/").getSubcommands();
        assertThat(subs.keySet()).containsExactly("ls");
        assertThat(Main.commandLine("volume", "list")
                        .getSubcommands()
                        .get("volume")
                        .getSubcommands())
                .containsKey("list");
    }

    @Test
    void helpOptionsAndUnknownNamesGetEverySubcommand() {
        for (List<String> args : List.of(List.<String>of(), List.of("--help"), List.of("help", "ls"), List.of("lss"))) {
            assertThat(Main.commandLine(args.toArray(String[]::new))
                            .getSubcommands()
                            .keySet())
                    .as(args.toString())
                    .containsExactlyElementsOf(Main.SUBCOMMANDS.keySet());
        }
    }

    @Test
    void theUsageListsEverySubcommand() {
        Cli help = Cli.run("--help");
        assertThat(help.exit()).isZero();
        assertThat(help.out())
                .contains("server")
                .contains("mount")
                .contains("mkdir")
                .contains("bench");
        Cli typo = Cli.run("lss");
        assertThat(typo.exit()).isEqualTo(2);
        assertThat(typo.err()).contains("ls");
    }
}
