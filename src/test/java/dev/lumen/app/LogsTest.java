package dev.lumen.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.StringWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Log records stay off the terminal unless --verbose, and reach the run folder's lumen.log; --help lines are whole sentences. */
class LogsTest {
    @Test
    void recordsGoToTheRunLogNotTheTerminal(@TempDir Path dir) throws Exception {
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            Logs.install(false);
            System.getLogger("dev.lumen.blas").log(System.Logger.Level.INFO, "GEMM: test library");
            assertEquals("", err.toString(StandardCharsets.UTF_8));
            Logs.toRunFolder(dir);
            System.getLogger("dev.lumen.blas").log(System.Logger.Level.INFO, "after the run folder");
            String log = Files.readString(dir.resolve(Logs.FILE));
            assertTrue(log.contains("INFO dev.lumen.blas: GEMM: test library"), log);
            assertTrue(log.contains("after the run folder"), log);
            assertEquals("", err.toString(StandardCharsets.UTF_8));

            // --verbose, on any subcommand, prints them too.
            new CommandLine(new LumenCli()).parseArgs("models", "--verbose");
            System.getLogger("dev.lumen.blas").log(System.Logger.Level.INFO, "now visible");
            assertTrue(err.toString(StandardCharsets.UTF_8).contains("INFO dev.lumen.blas: now visible"), err.toString(StandardCharsets.UTF_8));
        } finally {
            Logs.install(false);
            System.setErr(saved);
        }
    }

    @Test
    void helpListsEachCommandWithAWholeSentence() {
        StringWriter sw = new StringWriter();
        CommandLine cl = new CommandLine(new LumenCli());
        cl.usage(new PrintWriter(sw));
        String help = sw.toString();
        String commands = help.substring(help.indexOf("Commands:"));
        // An entry is "  name  text", wrapped onto deeper-indented lines; its text is the command's first description line.
        java.util.List<String> entries = new java.util.ArrayList<>();
        for (String line : commands.lines().skip(1).toList()) {
            if (line.isBlank()) continue;
            if (line.matches("  \\S.*")) entries.add(line.strip());
            else entries.set(entries.size() - 1, entries.get(entries.size() - 1) + " " + line.strip());
        }
        assertTrue(entries.size() >= 7, entries.toString());
        for (String e : entries) assertTrue(e.endsWith("."), "cut mid-sentence: " + e);
        assertFalse(help.contains("biases,\n"), help);
    }
}
