package dev.lumen.app.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.train.Amp;
import dev.lumen.tensor.Device;
import java.io.BufferedReader;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

class BenchServerTest {
    private static List<String> serve(String input, int expectedCode) throws Exception {
        var spec = new ModelBenchmark.Spec("resnet_micro", BenchMode.TRAIN, 2, 32, 3, 10, Amp.OFF, Device.CPU);
        StringWriter out = new StringWriter();
        try (ModelBenchmark b = new ModelBenchmark(spec)) {
            int code = new BenchServer(b, new BufferedReader(new StringReader(input)), new PrintWriter(out)).serve("2 warm-up steps");
            assertEquals(expectedCode, code, out.toString());
        }
        return out.toString().lines().toList();
    }

    @Test
    void answersStepsAndMemoryInTurns() throws Exception {
        List<String> lines = serve("steps 2\nmemory\nsteps 1\nquit\nsteps 5\n", 0);
        assertEquals(4, lines.size(), lines.toString());
        assertEquals("ready 2 warm-up steps", lines.get(0), "ready, then what the warm-up did");
        String[] times = lines.get(1).split(" ");
        assertEquals("times", times[0]);
        assertEquals(3, times.length, lines.get(1));
        for (int i = 1; i < times.length; i++) assertTrue(Double.parseDouble(times[i]) > 0, lines.get(1));
        String[] mem = lines.get(2).split(" ");
        assertEquals("memory", mem[0]);
        assertTrue(Double.parseDouble(mem[1]) > Double.parseDouble(mem[2]) && Double.parseDouble(mem[2]) > 0, lines.get(2));
        assertTrue(Long.parseLong(mem[3]) > 10_000, lines.get(2));
        assertEquals(2, lines.get(3).split(" ").length, "steps 1 gives one time; nothing after quit");
    }

    @Test
    void aBadCommandEndsWithAnErrorLine() throws Exception {
        List<String> lines = serve("steps zero\n", 1);
        assertTrue(lines.get(1).startsWith("error 'steps' needs a count"), lines.toString());
        assertTrue(serve("jump\n", 1).get(1).startsWith("error unknown command 'jump'"));
    }

    @Test
    void stepStatsArithmetic() {
        StepStats s = StepStats.of(new double[] {4, 1, 3, 2});
        assertEquals(new StepStats(4, 2.5, 2.5, 1), s);
        assertEquals(new StepStats(3, 3, 2, 1), StepStats.of(new double[] {6, 2, 1}));
    }
}
