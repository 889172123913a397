package dev.lumen.app.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lumen.io.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClassificationReportTest {
    private static final double EPS = 1e-12;
    private static final List<String> NAMES = List.of("cat", "dog", "bird");

    /**
     * Six rows, three classes. Predictions 0 0 1 1 0 1 for labels 0 0 0 1 1 2: "bird" is never
     * predicted. The label's rank (classes scoring above it): 0 0 1 0 2 1.
     */
    private static final float[][] SCORES = {
            {3, 1, 0}, {2, 1, -1}, {1, 2, 0}, {0, 5, 1}, {4, 1, 2}, {0, 3, 1}};
    private static final int[] LABELS = {0, 0, 0, 1, 1, 2};

    @Test
    void perClassScoresAveragesAndConfusionMatchHandCounts() {
        ClassificationReport r = ClassificationReport.of(SCORES, LABELS, NAMES, 0.75);
        assertEquals(6, r.count());
        assertEquals(50.0, r.top1(), EPS);
        assertEquals(3, r.k()); // min(5, C)
        assertEquals(100.0, r.topK(), EPS);
        assertEquals(0.75, r.loss(), EPS);
        assertArrayEquals(new long[] {2, 1, 0}, r.confusion()[0]);
        assertArrayEquals(new long[] {1, 1, 0}, r.confusion()[1]);
        assertArrayEquals(new long[] {0, 1, 0}, r.confusion()[2]);

        // cat: TP 2 of 3 predicted, 3 true. dog: TP 1 of 3 predicted, 2 true. bird: never predicted, 1 true.
        assertScores(r.scores(0), 2.0 / 3, 2.0 / 3, 2.0 / 3);
        assertScores(r.scores(1), 1.0 / 3, 1.0 / 2, 0.4);
        assertScores(r.scores(2), 0, 0, 0);
        assertEquals(List.of(3L, 2L, 1L), IntStream.range(0, 3).mapToObj(r::support).toList());
        assertScores(r.macro(), 1.0 / 3, 7.0 / 18, (2.0 / 3 + 0.4) / 3);
        assertScores(r.weighted(), (2 + 2.0 / 3) / 6, 0.5, (2 + 0.8) / 6);
        assertEquals(List.of("bird"), r.neverPredicted());
    }

    @Test
    void topKCountsRanksWithTiesByClassIndex() {
        ClassificationReport.Accumulator acc = new ClassificationReport.Accumulator(NAMES, 2);
        float[] flat = new float[SCORES.length * 3];
        for (int i = 0; i < SCORES.length; i++) System.arraycopy(SCORES[i], 0, flat, 3 * i, 3);
        acc.add(flat, LABELS);
        ClassificationReport r = acc.finish();
        assertEquals(500.0 / 6, r.topK(), 1e-9); // row 4's label ranks third
        assertTrue(Double.isNaN(r.loss()));

        // All scores equal: the prediction is class 0 (first maximum); label 2 ranks third.
        ClassificationReport.Accumulator ties = new ClassificationReport.Accumulator(NAMES, 2);
        ties.add(new float[] {1, 1, 1, 1, 1, 1}, new int[] {0, 2});
        ties.addLoss(1.0, 1);
        ties.addLoss(4.0, 3);
        ClassificationReport t = ties.finish();
        assertEquals(50.0, t.top1(), EPS);
        assertEquals(50.0, t.topK(), EPS);
        assertEquals(13.0 / 4, t.loss(), EPS); // loss means weighted by batch size
        assertArrayEquals(new long[] {1, 0, 0}, t.confusion()[2]);
    }

    @Test
    void probabilitiesGiveTheSameReportAsLogits() {
        float[][] probs = new float[SCORES.length][];
        for (int i = 0; i < SCORES.length; i++) {
            double z = 0;
            for (float v : SCORES[i]) z += Math.exp(v);
            probs[i] = new float[3];
            for (int j = 0; j < 3; j++) probs[i][j] = (float) (Math.exp(SCORES[i][j]) / z);
        }
        ClassificationReport a = ClassificationReport.of(SCORES, LABELS, NAMES, Double.NaN);
        ClassificationReport b = ClassificationReport.of(probs, LABELS, NAMES, Double.NaN);
        assertEquals(a.toMarkdown(null), b.toMarkdown(null));
    }

    @Test
    void badInputIsRejectedWithTheShapes() {
        var e = assertThrows(IllegalArgumentException.class, () -> new ClassificationReport.Accumulator(NAMES, 4));
        assertTrue(e.getMessage().contains("1 <= k <= 3"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ClassificationReport.of(SCORES, new int[] {0}, NAMES, 0));
        assertTrue(e.getMessage().contains("6 score rows for 1 labels"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> ClassificationReport.of(new float[][] {{1, 2, 3}}, new int[] {3}, NAMES, 0));
        assertTrue(e.getMessage().contains("label 3 is out of range for 3 classes"), e.getMessage());
    }

    @Test
    void markdownHasHeaderTableZeroDivisionNoteAndMatrix() {
        ClassificationReport r = ClassificationReport.of(SCORES, LABELS, List.of("cat", "dog|wolf", "bird"), 0.5);
        String md = r.toMarkdown(new ClassificationReport.Source("resnet50", "data/val", "runs/x/best.safetensors"));
        assertTrue(md.startsWith("# Evaluation report\n"), md);
        assertTrue(md.contains("| Model | `resnet50` |"), md);
        assertTrue(md.contains("| Dataset | data/val |"), md);
        assertTrue(md.contains("| Weights | runs/x/best.safetensors |"), md);
        assertTrue(md.contains("| Top-1 | 50.00% |"), md);
        assertTrue(md.contains("| Top-3 | 100.00% |"), md);
        assertTrue(md.contains("| Loss | 0.5000 |"), md);
        assertTrue(md.contains("| dog\\|wolf | 0.3333 | 0.5000 | 0.4000 | 2 |"), md);
        assertTrue(md.contains("| bird | 0.0000 | 0.0000 | 0.0000 | 1 |"), md);
        assertTrue(md.contains("| **macro avg** | 0.3333 | 0.3889 | 0.3556 | 6 |"), md);
        assertTrue(md.contains("| **weighted avg** | 0.4444 | 0.5000 | 0.4667 | 6 |"), md);
        assertTrue(md.contains("`zero_division=0`") && md.contains("Never predicted: bird."), md);
        assertTrue(md.contains("| true \\ predicted | cat | dog\\|wolf | bird |\n|---|---:|---:|---:|\n"), md);
        assertTrue(md.contains("| **cat** | 2 | 1 | 0 |\n| **dog\\|wolf** | 1 | 1 | 0 |\n| **bird** | 0 | 1 | 0 |\n"), md);
        String text = r.toText();
        assertTrue(text.lines().anyMatch(l -> l.matches("bird\\s+0\\.0000\\s+0\\.0000\\s+0\\.0000\\s+1")), text);
        assertEquals("top-1 50.00%  top-3 100.00%  loss 0.5000  (6 images)", r.summaryLine());
    }

    @Test
    void writesMarkdownJsonAndCsvForManyClasses(@TempDir Path dir) throws Exception {
        ClassificationReport small = ClassificationReport.of(SCORES, LABELS, NAMES, 0.5);
        List<Path> files = small.write(dir.resolve("small"), new ClassificationReport.Source("m", "d", "c"));
        assertEquals(List.of(dir.resolve("small/report.md"), dir.resolve("small/report.json")), files);
        @SuppressWarnings("unchecked")
        Map<String, Object> json = (Map<String, Object>) Json.parse(Files.readString(files.get(1)));
        assertEquals(50.0, json.get("top1"));
        assertEquals(3L, json.get("topk_k"));
        assertEquals(List.of(List.of(2L, 1L, 0L), List.of(1L, 1L, 0L), List.of(0L, 1L, 0L)), json.get("confusion"));
        @SuppressWarnings("unchecked")
        Map<String, Object> dog = ((List<Map<String, Object>>) json.get("classes")).get(1);
        assertEquals(0.4, (Double) dog.get("f1"), 1e-12);
        assertEquals(2L, dog.get("support"));

        // 31 classes: the matrix goes to confusion.csv and the Markdown says so.
        int c = 31;
        List<String> names = IntStream.range(0, c).mapToObj(i -> "class, " + i).toList();
        float[][] scores = new float[c][c];
        int[] labels = new int[c];
        for (int i = 0; i < c; i++) {
            labels[i] = i;
            scores[i][(i + 1) % c] = 1; // every row predicts the next class
        }
        ClassificationReport big = ClassificationReport.of(scores, labels, names, Double.NaN);
        List<Path> bigFiles = big.write(dir.resolve("big"), null);
        assertEquals(3, bigFiles.size());
        String md = Files.readString(dir.resolve("big/report.md"));
        assertTrue(md.contains("it is in `confusion.csv` beside this file"), md);
        assertFalse(md.contains("| true \\ predicted"), md);
        assertTrue(md.contains("| Loss | n/a |"), md);
        List<String> csv = Files.readAllLines(dir.resolve("big/confusion.csv"));
        assertEquals(c + 1, csv.size());
        assertTrue(csv.get(0).startsWith("true\\predicted,\"class, 0\",\"class, 1\","), csv.get(0));
        assertTrue(csv.get(1).startsWith("\"class, 0\",0,1,0,"), csv.get(1));
        assertEquals(0.0, big.top1(), EPS);
        assertEquals(0, Files.list(dir.resolve("big")).filter(p -> p.toString().endsWith(".tmp")).count());
    }

    private static void assertScores(ClassificationReport.Scores s, double p, double r, double f1) {
        assertEquals(p, s.precision(), EPS, "precision");
        assertEquals(r, s.recall(), EPS, "recall");
        assertEquals(f1, s.f1(), EPS, "f1");
    }
}
