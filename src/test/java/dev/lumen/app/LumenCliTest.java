package dev.lumen.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class LumenCliTest {
    private record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        CommandLine cli = LumenCli.commandLine();
        StringWriter out = new StringWriter(), err = new StringWriter();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void helpNamesACommandAsGitsDoes() {
        Run r = run("help", "benchmark");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("Usage: lumen benchmark "), r.out());
        assertTrue(r.out().contains("--model=NAME"), r.out());
        Run all = run("help");
        assertEquals(0, all.code(), all.err());
        assertTrue(all.out().contains("benchmark") && all.out().contains("train"), all.out());
    }

    /**
     * picocli runs option descriptions through String.format, and on a bare % it only warns on
     * stderr and shows the raw text: every description as written in an @Option or @Parameters
     * annotation must format (variables such as ${DEFAULT-VALUE} stand for a word here, as
     * picocli fills them in first).
     */
    @Test
    void everyOptionDescriptionFormats() {
        int checked = 0;
        for (CommandLine sub : LumenCli.commandLine().getSubcommands().values()) {
            for (Class<?> c = sub.getCommandSpec().userObject().getClass(); c != null; c = c.getSuperclass()) {
                for (java.lang.reflect.Field f : c.getDeclaredFields()) {
                    CommandLine.Option o = f.getAnnotation(CommandLine.Option.class);
                    CommandLine.Parameters p = f.getAnnotation(CommandLine.Parameters.class);
                    String[] lines = o != null ? o.description() : p != null ? p.description() : new String[0];
                    for (String line : lines) {
                        String filled = line.replaceAll("\\$\\{[^}]*}", "x");
                        try {
                            String.format(filled);
                            checked++;
                        } catch (java.util.IllegalFormatException e) {
                            throw new AssertionError("lumen " + sub.getCommandName() + " " + f.getName() + ": " + e + " in '" + line + "'");
                        }
                    }
                }
            }
        }
        assertTrue(checked > 50, "descriptions found: " + checked);
    }

    @Test
    void helpForAnUnknownCommandSaysWhich() {
        Run r = run("help", "trian");
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().startsWith("lumen: Unknown subcommand 'trian'."), r.err());
    }
}
