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

    @Test
    void helpForAnUnknownCommandSaysWhich() {
        Run r = run("help", "trian");
        assertEquals(2, r.code(), r.out() + r.err());
        assertTrue(r.err().startsWith("lumen: Unknown subcommand 'trian'."), r.err());
    }
}
