package dev.lumen.app.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.app.report.ClassificationReport;
import dev.lumen.io.Json;
import dev.lumen.io.Safetensors;
import dev.lumen.memory.Scope;
import dev.lumen.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** NaN and infinity are never success: a run trained into divergence keeps a finite best and last checkpoint and says which. */
class DivergenceTest {
    @TempDir Path tmp;

    @Test
    void nonFiniteLogitsAreMissesInTopKAndTheReport() {
        float nan = Float.NaN, inf = Float.POSITIVE_INFINITY;
        try (Scope s = Scope.open()) {
            Tensor logits = Tensor.fromFloats(new float[] {nan, nan, nan, 0.1f, inf, 0, 3, 1, 2, 0, 0, 0}, 4, 3);
            Tensor labels = Tensor.fromLongs(new long[] {0, 1, 0, 2}, 4);
            // row 0 all NaN, row 1 with +inf at its label: misses at any k; row 2 a hit; row 3 a tie the lower index wins
            assertEquals(1, TopK.hits(logits, labels, 1));
            assertEquals(2, TopK.hits(logits, labels, 3), "even top-3 of 3 classes misses a non-finite row");
            assertEquals(2, TopK.nonFiniteRows(logits));
            assertEquals(1L, TopK.top1Hits(logits, labels).toLongs()[0], "the device count agrees");
        }
    }

    @Test
    void divergedEpochsNeverBecomeBestAndTheStopKeepsTheLastFiniteCheckpoint() throws IOException {
        Path data = TrainFixtures.folderDataset(tmp.resolve("data"), 6, 3);
        Path run = tmp.resolve("run");
        // epoch 1 at lr 0.01, then a step schedule multiplies it by 1e5: adamw at lr 1e3 blows the weights up
        List<String> a = TrainFixtures.tinyArgs(data, run, 5);
        a.set(a.indexOf("--warmup-epochs") + 1, "0");
        a.addAll(List.of("--sched", "step", "--decay-epochs", "1", "--decay-rate", "1e5"));
        TrainFixtures.Run r = TrainFixtures.lumenTrain(a);

        assertEquals(1, r.code(), r.out() + r.err());
        String err = r.err().strip();
        assertFalse(err.contains("\n"), "one line: " + err);
        Matcher m = Pattern.compile("stopped; the last checkpoint with finite weights, (.+) \\(epoch (\\d+)\\), is kept").matcher(err);
        assertTrue(m.find(), err);
        assertEquals(run.resolve("last.safetensors").toString(), m.group(1));
        int keptEpoch = Integer.parseInt(m.group(2));
        assertTrue(r.out().contains("DIVERGED ("), "a validation pass with NaN outputs is flagged: " + r.out());

        // last.safetensors: all weights finite, and it is the epoch the message names
        Map<String, Object> lastInfo = info(run.resolve("last.safetensors"));
        assertEquals((long) keptEpoch, lastInfo.get("epoch"));
        assertAllFinite(run.resolve("last.safetensors"));
        // best.safetensors: epoch 1, the only epoch that did not diverge; its top-1 is a real number
        Map<String, Object> bestInfo = info(run.resolve("best.safetensors"));
        assertEquals(1L, bestInfo.get("epoch"));
        assertEquals(1L, lastInfo.get("best_epoch"));
        assertAllFinite(run.resolve("best.safetensors"));
        List<?> history = (List<?>) lastInfo.get("history");
        for (int i = 1; i < history.size(); i++) {
            Map<?, ?> row = (Map<?, ?>) history.get(i);
            assertEquals(null, row.get("val_loss"), "epoch " + (i + 1) + " diverged: its loss is recorded as NaN (null)");
            assertEquals(0.0, ((Number) row.get("val_top1")).doubleValue(), "NaN outputs are never hits");
        }
        assertTrue(history.size() >= 2, "at least one diverged epoch was validated: " + history.size());
        List<String> csv = Files.readAllLines(run.resolve("metrics.csv"));
        assertTrue(csv.get(2).split(",", -1)[3].isEmpty(), "metrics.csv leaves a diverged val_loss empty: " + csv.get(2));
        try (var files = Files.list(run)) {
            assertFalse(files.anyMatch(p -> p.getFileName().toString().endsWith(".tmp")));
        }

        // lumen eval of the kept last checkpoint (finite weights, NaN outputs): every output counts as wrong, and it says why
        HostileInputTest.Result ev = HostileInputTest.lumen("eval", "--checkpoint", run.resolve("last.safetensors").toString(), "--data", data.toString(),
                "--workers", "0");
        assertEquals(0, ev.code(), ev.err());
        assertTrue(ev.err().contains("warning: 9 outputs hold NaN or infinity (the weights diverged); counted as wrong"), ev.err());
        assertTrue(ev.out().contains("top-1 0.00%"), ev.out());
    }

    @Test
    void theReportCountsNonFiniteRowsAsWrong() {
        ClassificationReport.Accumulator acc = new ClassificationReport.Accumulator(List.of("a", "b"), 1);
        acc.add(new float[] {Float.NaN, Float.NaN, 1, 0, 0, Float.POSITIVE_INFINITY}, new int[] {0, 0, 1});
        ClassificationReport rep = acc.finish();
        assertEquals(100.0 / 3, rep.top1(), 1e-9);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> info(Path file) throws IOException {
        Safetensors.Contents c = Safetensors.read(file);
        c.tensors().values().forEach(Tensor::close);
        return (Map<String, Object>) Json.parse(c.metadata().get(TrainCheckpoint.META_KEY));
    }

    private static void assertAllFinite(Path file) throws IOException {
        Safetensors.Contents c = Safetensors.read(file);
        for (var e : c.tensors().entrySet()) {
            if (e.getValue().dtype().isFloating()) {
                for (double v : e.getValue().toDoubles()) assertTrue(Double.isFinite(v), file.getFileName() + " " + e.getKey() + " holds " + v);
            }
            e.getValue().close();
        }
    }
}
