package dev.lumen.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class ModelsCommandTest {

    private record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        ModelsCommand cmd = new ModelsCommand();
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        cmd.out = new PrintStream(out, true, StandardCharsets.UTF_8);
        cmd.err = new PrintStream(err, true, StandardCharsets.UTF_8);
        int code = new CommandLine(cmd).execute(args);
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void tsvGivesExactCountsAndGmacs() {
        Run r = run("--format", "tsv", "--filter", "resnet50");
        assertEquals(0, r.code(), r.err());
        assertEquals("resnet50\t25557032\t4.089\n", r.out());
    }

    @Test
    void tableWithoutMacsAndGlobFilter() {
        Run r = run("--filter", "res2net50_26w_?s", "--no-macs");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().split("\n");
        assertEquals(4, lines.length, r.out());
        assertTrue(lines[0].startsWith("model"), lines[0]);
        assertTrue(lines[1].matches("res2net50_26w_4s\\s+resnet\\s+25\\.70M\\s+-\\s+224x224"), lines[1]);
        assertTrue(lines[3].startsWith("res2net50_26w_8s"), lines[3]);
    }

    @Test
    void theWholeListTakesSeconds() {
        long t0 = System.nanoTime();
        Run r = run("--format", "tsv");
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("vit_huge_patch14_224\t632045800\t167.295\n"), r.out());
        assertTrue(r.out().contains("resnet_micro\t"), r.out());
        // It built every model with its weights and took 8 min 49 s; shape-only builds take about 3 s.
        assertTrue(seconds < 10, "lumen models took " + seconds + " s");
    }

    @Test
    void noMatchAndBadFormatFail() {
        Run none = run("--filter", "nothing*");
        assertEquals(1, none.code());
        assertTrue(none.err().contains("no model matches 'nothing*'"), none.err());
        Run bad = run("--format", "json");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--format must be table or tsv"), bad.err());
    }
}
