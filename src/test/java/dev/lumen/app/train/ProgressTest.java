package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The terminal line fits 80 columns with a real bar; piped lines carry time and ETA; the ETA follows the recent rate. */
class ProgressTest {
    private static final long S = 1_000_000_000L;

    @Test
    void barFitsEightyColumns() {
        long[] now = {0};
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        Progress.Bar bar = new Progress.Bar(new PrintStream(buf, true, StandardCharsets.UTF_8), 80, () -> now[0]);
        bar.start("epoch 12/300", 1875);
        for (int i = 1; i <= 900; i++) {
            now[0] += S / 10;
            bar.update(i, 0.693147, 45.25, 1.0e-3, 1234);
        }
        String line = bar.render(now[0], 0.693147, 45.25, 1.0e-3, 1234);
        assertTrue(line.length() <= 79, line.length() + ": " + line);
        assertTrue(line.startsWith("epoch 12/300 ["), line);
        int inner = line.indexOf(']') - line.indexOf('[') - 1;
        assertTrue(inner >= 10, "bar of " + inner + " columns: " + line);
        assertTrue(line.contains("900/1875 1:30<1:38 loss 0.6931"), line);
        bar.finish();
        for (String drawn : buf.toString(StandardCharsets.UTF_8).split("\r")) assertTrue(drawn.strip().length() <= 79, drawn);
    }

    @Test
    void etaFollowsTheRecentRateNotTheWarmUp() {
        long[] now = {0};
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        Progress.Lines lines = new Progress.Lines(new PrintStream(buf, true, StandardCharsets.UTF_8), () -> now[0]);
        lines.start("epoch 1/3", 100);
        // Ten slow batches of JIT warm-up (3 s each), then 0.5 s per batch.
        for (int i = 1; i <= 10; i++) {
            now[0] += 3 * S;
            lines.update(i, 1, 10, 1e-3, 5);
        }
        for (int i = 11; i <= 60; i++) {
            now[0] += S / 2;
            lines.update(i, 1, 10, 1e-3, 5);
        }
        // 40 batches left at 0.5 s: 0:20, where the average since the start (0.92 s per batch) says 0:37.
        String line = lines.line(now[0], 60, "m");
        assertTrue(line.matches("\\d\\d:\\d\\d:\\d\\d epoch 1/3 \\[60/100\\] 0:55 elapsed, ETA 0:20  m"), line);
        String printed = buf.toString(StandardCharsets.UTF_8);
        assertEquals(6, printed.lines().count(), printed);
        assertTrue(printed.lines().allMatch(l -> l.contains(" elapsed, ETA ")), printed);
    }
}
