package dev.lumen.app.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.Locale;

/**
 * {@code lumen benchmark --serve}: a warm benchmark that runs steps when told, so that a driver
 * (bench/peers/interleave.py) can let Lumen and PyTorch take turns on the same cores. One command
 * per line on the input, one answer line on the output:
 * {@code steps K} runs K steps and answers {@code times MS MS ...};
 * {@code memory} answers {@code memory PEAK_RSS_MIB PEAK_LIVE_MIB PARAMS};
 * {@code quit} or the end of the input ends it. The first line out is {@code ready}.
 */
public final class BenchServer {
    private final ModelBenchmark bench;
    private final BufferedReader in;
    private final PrintWriter out;

    public BenchServer(ModelBenchmark bench, BufferedReader in, PrintWriter out) {
        this.bench = bench;
        this.in = in;
        this.out = out;
    }

    /**
     * Says "ready" followed by warmup (what the warm-up did, for the driver's log), then answers
     * commands until quit or the end of the input; returns the exit code (1 after a bad command).
     */
    public int serve(String warmup) throws IOException {
        answer("ready " + warmup);
        for (String line; (line = in.readLine()) != null; ) {
            String[] w = line.trim().split("\\s+");
            switch (w[0]) {
                case "quit" -> { return 0; }
                case "memory" -> answer(String.format(Locale.ROOT, "memory %.1f %.1f %d", PeakRss.mib(), bench.peakLiveMib(), bench.parameterCount()));
                case "steps" -> {
                    int k = w.length == 2 ? parseCount(w[1]) : -1;
                    if (k < 1) {
                        answer("error 'steps' needs a count >= 1, got '" + line.trim() + "'");
                        return 1;
                    }
                    StringBuilder sb = new StringBuilder("times");
                    for (int i = 0; i < k; i++) sb.append(String.format(Locale.ROOT, " %.3f", bench.step()));
                    answer(sb.toString());
                }
                default -> {
                    answer("error unknown command '" + line.trim() + "' (steps K, memory, quit)");
                    return 1;
                }
            }
        }
        return 0;
    }

    private static int parseCount(String s) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private void answer(String line) {
        out.println(line);
        out.flush();
    }
}
