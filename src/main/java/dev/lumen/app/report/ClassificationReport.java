package dev.lumen.app.report;

import dev.lumen.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Classification metrics of a model on a labelled set: top-1 and top-k accuracy (percent, as
 * timm prints them), the mean loss, per-class precision, recall, F1 and support with their macro
 * and support-weighted averages (fractions, as sklearn's classification_report), and the
 * confusion matrix (rows: true class, columns: predicted class).
 *
 * <p>Conventions: the prediction of a row is its first highest score (torch.argmax); a label is
 * in the top k when fewer than k classes rank above it, ties ranking by class index (a stable
 * descending sort). A class that is never predicted has precision 0 and a class without samples
 * recall 0 (sklearn's zero_division=0); F1 is 0 when precision and recall are both 0. Macro
 * averages run over every class.
 */
public final class ClassificationReport {
    /** Above this many classes the confusion matrix goes to a CSV file instead of the Markdown. */
    public static final int MAX_INLINE_CLASSES = 30;

    public static final String MARKDOWN_FILE = "report.md";
    public static final String JSON_FILE = "report.json";
    public static final String CONFUSION_FILE = "confusion.csv";

    /** Precision, recall and F1 of one class or of an average. */
    public record Scores(double precision, double recall, double f1) {}

    /**
     * Where the numbers come from, for the report's header; null fields are left out. weights
     * names the file and which of its weights (the model's or the EMA's) every number is of.
     */
    public record Source(String model, String dataset, String weights) {}

    private final List<String> classNames;
    private final long[][] confusion;
    private final long count;
    private final long top1Hits;
    private final int k;
    private final long topKHits;
    private final double loss;

    private ClassificationReport(List<String> classNames, long[][] confusion, long count, long top1Hits, int k, long topKHits,
                                 double loss) {
        this.classNames = classNames;
        this.confusion = confusion;
        this.count = count;
        this.top1Hits = top1Hits;
        this.k = k;
        this.topKHits = topKHits;
        this.loss = loss;
    }

    /**
     * The report of scores [N][C] (logits or probabilities) against labels [N], with the top-k
     * accuracy for k = min(5, C).
     *
     * @param meanLoss the mean loss over the N rows, or NaN when unknown
     */
    public static ClassificationReport of(float[][] scores, int[] labels, List<String> classNames, double meanLoss) {
        if (scores.length != labels.length) {
            throw new IllegalArgumentException("classification report: " + scores.length + " score rows for " + labels.length + " labels");
        }
        Accumulator acc = new Accumulator(classNames, Math.min(5, classNames.size()));
        int c = classNames.size();
        for (int i = 0; i < scores.length; i++) {
            if (scores[i].length != c) {
                throw new IllegalArgumentException("classification report: row " + i + " has " + scores[i].length + " scores for " + c + " classes");
            }
            acc.add(scores[i], new int[] {labels[i]});
        }
        return acc.finish(meanLoss);
    }

    /**
     * Collects batches of scores and labels, keeping only counts (the confusion matrix and the
     * top-k hits), so a large evaluation set never needs its scores in memory at once.
     */
    public static final class Accumulator {
        private final List<String> classNames;
        private final int k;
        private final long[][] confusion;
        private long count, top1, topK;
        private double lossSum;
        private long lossCount;

        /** @param k the top-k accuracy to count, 1 &lt;= k &lt;= the class count */
        public Accumulator(List<String> classNames, int k) {
            int c = classNames.size();
            if (c < 1) throw new IllegalArgumentException("classification report: no classes");
            if (k < 1 || k > c) throw new IllegalArgumentException("classification report: top-k needs 1 <= k <= " + c + " classes, got k = " + k);
            this.classNames = List.copyOf(classNames);
            this.k = k;
            this.confusion = new long[c][c];
        }

        /** Adds a batch: scores row-major [labels.length, C], labels in [0, C). */
        public void add(float[] scores, int[] labels) {
            int c = classNames.size();
            if (scores.length != labels.length * c) {
                throw new IllegalArgumentException("classification report: " + scores.length + " scores do not fill ["
                        + labels.length + ", " + c + "]");
            }
            for (int i = 0; i < labels.length; i++) {
                int y = labels[i];
                if (y < 0 || y >= c) throw new IllegalArgumentException("classification report: label " + y + " is out of range for " + c + " classes");
                int base = i * c, pred = 0, rank = 0;
                if (!finiteRow(scores, base, c)) continue; // a NaN/inf output is wrong: counted, never a hit, in no class's cell
                float sy = scores[base + y];
                for (int j = 0; j < c; j++) {
                    float s = scores[base + j];
                    if (s > scores[base + pred]) pred = j;
                    if (s > sy || (s == sy && j < y)) rank++;
                }
                confusion[y][pred]++;
                if (pred == y) top1++;
                if (rank < k) topK++;
            }
            count += labels.length;
        }

        /** True when the c scores from base are all finite (comparisons with NaN would make a diverged row a hit). */
        public static boolean finiteRow(float[] scores, int base, int c) {
            for (int j = base; j < base + c; j++) if (!Float.isFinite(scores[j])) return false;
            return true;
        }

        /** Adds the mean loss of a batch of n rows. */
        public void addLoss(double batchMeanLoss, int n) {
            lossSum += batchMeanLoss * n;
            lossCount += n;
        }

        /** The report, with the mean of the losses added (NaN when none was). */
        public ClassificationReport finish() { return finish(lossCount == 0 ? Double.NaN : lossSum / lossCount); }

        private ClassificationReport finish(double meanLoss) {
            long[][] copy = new long[confusion.length][];
            for (int i = 0; i < copy.length; i++) copy[i] = confusion[i].clone();
            return new ClassificationReport(classNames, copy, count, top1, k, topK, meanLoss);
        }
    }

    public List<String> classNames() { return classNames; }

    public int numClasses() { return classNames.size(); }

    /** The number of rows evaluated. */
    public long count() { return count; }

    /** Top-1 accuracy in percent. */
    public double top1() { return percent(top1Hits); }

    /** The k of {@link #topK()}: 5, or the class count when smaller. */
    public int k() { return k; }

    /** Top-k accuracy in percent. */
    public double topK() { return percent(topKHits); }

    /** The mean loss, NaN when unknown. */
    public double loss() { return loss; }

    /** A copy of the confusion matrix: [true][predicted] counts. */
    public long[][] confusion() {
        long[][] out = new long[confusion.length][];
        for (int i = 0; i < out.length; i++) out[i] = confusion[i].clone();
        return out;
    }

    /** The samples of class c. */
    public long support(int c) { return Arrays.stream(confusion[c]).sum(); }

    /** How often class c was predicted. */
    public long predicted(int c) {
        long n = 0;
        for (long[] row : confusion) n += row[c];
        return n;
    }

    public Scores scores(int c) {
        long tp = confusion[c][c], pred = predicted(c), sup = support(c);
        double p = pred == 0 ? 0 : (double) tp / pred;
        double r = sup == 0 ? 0 : (double) tp / sup;
        return new Scores(p, r, p + r == 0 ? 0 : 2 * p * r / (p + r));
    }

    /** The unweighted mean over every class. */
    public Scores macro() {
        double p = 0, r = 0, f = 0;
        int c = numClasses();
        for (int i = 0; i < c; i++) {
            Scores s = scores(i);
            p += s.precision();
            r += s.recall();
            f += s.f1();
        }
        return new Scores(p / c, r / c, f / c);
    }

    /** The mean over classes weighted by support (0 for an empty set). */
    public Scores weighted() {
        double p = 0, r = 0, f = 0;
        for (int i = 0; i < numClasses(); i++) {
            Scores s = scores(i);
            long w = support(i);
            p += w * s.precision();
            r += w * s.recall();
            f += w * s.f1();
        }
        return count == 0 ? new Scores(0, 0, 0) : new Scores(p / count, r / count, f / count);
    }

    /** Classes the model never predicted (their precision is 0 by convention). */
    public List<String> neverPredicted() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < numClasses(); i++) if (predicted(i) == 0) out.add(classNames.get(i));
        return out;
    }

    private double percent(long hits) { return count == 0 ? 0 : 100.0 * hits / count; }

    // ---------------------------------------------------------------- rendering

    /** True when the confusion matrix is too wide for the Markdown and goes to {@link #CONFUSION_FILE}. */
    public boolean confusionAsCsv() { return numClasses() > MAX_INLINE_CLASSES; }

    /** The headline numbers in one line: "top-1 91.23%  top-5 99.80%  loss 0.2543  (10000 images)". */
    public String summaryLine() {
        return String.format(Locale.ROOT, "top-1 %.2f%%  top-%d %.2f%%  loss %s  (%d images)", top1(), k, topK(), fmtLoss(), count);
    }

    /** The per-class table as aligned plain text, for the console. */
    public String toText() {
        int w = Math.max(12, classNames.stream().mapToInt(String::length).max().orElse(0));
        String fmt = "%-" + w + "s  %9s  %9s  %9s  %8s%n";
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, fmt, "class", "precision", "recall", "f1", "support"));
        for (int i = 0; i < numClasses(); i++) {
            Scores s = scores(i);
            b.append(String.format(Locale.ROOT, fmt, classNames.get(i), f4(s.precision()), f4(s.recall()), f4(s.f1()), support(i)));
        }
        Scores m = macro(), wt = weighted();
        b.append(String.format(Locale.ROOT, fmt, "macro avg", f4(m.precision()), f4(m.recall()), f4(m.f1()), count));
        b.append(String.format(Locale.ROOT, fmt, "weighted avg", f4(wt.precision()), f4(wt.recall()), f4(wt.f1()), count));
        return b.toString();
    }

    /** report.md: the header, the per-class table and the confusion matrix (or a pointer to its CSV). */
    public String toMarkdown(Source source) {
        StringBuilder b = new StringBuilder("# Evaluation report\n\n");
        b.append("| | |\n|---|---|\n");
        if (source != null && source.model() != null) row(b, "Model", "`" + source.model() + "`");
        if (source != null && source.dataset() != null) row(b, "Dataset", cell(source.dataset()));
        if (source != null && source.weights() != null) row(b, "Weights", cell(source.weights()));
        row(b, "Images", String.valueOf(count));
        row(b, "Classes", String.valueOf(numClasses()));
        row(b, "Top-1", String.format(Locale.ROOT, "%.2f%%", top1()));
        row(b, "Top-" + k, String.format(Locale.ROOT, "%.2f%%", topK()));
        row(b, "Loss", fmtLoss());
        Scores m = macro(), wt = weighted();
        row(b, "Macro F1", f4(m.f1()));
        row(b, "Weighted F1", f4(wt.f1()));

        b.append("\n## Per-class metrics\n\n");
        b.append("| Class | Precision | Recall | F1 | Support |\n|---|---:|---:|---:|---:|\n");
        for (int i = 0; i < numClasses(); i++) {
            Scores s = scores(i);
            b.append("| ").append(cell(classNames.get(i))).append(" | ").append(f4(s.precision())).append(" | ").append(f4(s.recall()))
                    .append(" | ").append(f4(s.f1())).append(" | ").append(support(i)).append(" |\n");
        }
        b.append("| **macro avg** | ").append(f4(m.precision())).append(" | ").append(f4(m.recall())).append(" | ").append(f4(m.f1()))
                .append(" | ").append(count).append(" |\n");
        b.append("| **weighted avg** | ").append(f4(wt.precision())).append(" | ").append(f4(wt.recall())).append(" | ")
                .append(f4(wt.f1())).append(" | ").append(count).append(" |\n");
        b.append("\nPrecision of a class the model never predicts is reported as 0, and recall of a class without samples as 0 "
                + "(sklearn's `zero_division=0`); the averages include every class.");
        List<String> never = neverPredicted();
        if (!never.isEmpty()) {
            b.append(" Never predicted: ").append(String.join(", ", never.stream().map(ClassificationReport::cell).toList())).append('.');
        }
        b.append('\n');

        b.append("\n## Confusion matrix\n\n");
        if (confusionAsCsv()) {
            b.append("With ").append(numClasses()).append(" classes the matrix is too wide for a table: it is in `").append(CONFUSION_FILE)
                    .append("` beside this file (rows: true class, columns: predicted class, first row and column: class names).\n");
        } else {
            b.append("Rows: true class; columns: predicted class.\n\n| true \\ predicted |");
            for (String n : classNames) b.append(' ').append(cell(n)).append(" |");
            b.append("\n|---|");
            b.append("---:|".repeat(numClasses()));
            b.append('\n');
            for (int i = 0; i < numClasses(); i++) {
                b.append("| **").append(cell(classNames.get(i))).append("** |");
                for (long v : confusion[i]) b.append(' ').append(v).append(" |");
                b.append('\n');
            }
        }
        return b.toString();
    }

    /** The numbers for machines: accuracies, loss, per-class scores, averages and the confusion matrix. */
    public Map<String, Object> toJsonMap(Source source) {
        Map<String, Object> m = new LinkedHashMap<>();
        if (source != null) {
            // Left out rather than null: a field the report cannot fill is absent.
            if (source.model() != null) m.put("model", source.model());
            if (source.dataset() != null) m.put("dataset", source.dataset());
            if (source.weights() != null) m.put("weights", source.weights());
        }
        m.put("count", count);
        m.put("top1", top1());
        m.put("topk_k", k);
        m.put("topk", topK());
        m.put("loss", Double.isNaN(loss) ? null : loss);
        List<Object> per = new ArrayList<>();
        for (int i = 0; i < numClasses(); i++) {
            Scores s = scores(i);
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("class", classNames.get(i));
            c.put("precision", s.precision());
            c.put("recall", s.recall());
            c.put("f1", s.f1());
            c.put("support", support(i));
            per.add(c);
        }
        m.put("classes", per);
        m.put("macro_avg", scoresMap(macro()));
        m.put("weighted_avg", scoresMap(weighted()));
        m.put("zero_division", 0);
        m.put("confusion", Arrays.asList(confusion()));
        return m;
    }

    /** The confusion matrix as CSV: a header of predicted class names, one row per true class. */
    public String confusionCsv() {
        StringBuilder b = new StringBuilder("true\\predicted");
        for (String n : classNames) b.append(',').append(csv(n));
        b.append('\n');
        for (int i = 0; i < numClasses(); i++) {
            b.append(csv(classNames.get(i)));
            for (long v : confusion[i]) b.append(',').append(v);
            b.append('\n');
        }
        return b.toString();
    }

    /**
     * Writes report.md and report.json into dir, and confusion.csv when the matrix does not fit
     * the Markdown; each file atomically (temp file, then rename). Returns the files written.
     */
    public List<Path> write(Path dir, Source source) throws IOException {
        Files.createDirectories(dir);
        List<Path> out = new ArrayList<>();
        out.add(writeAtomically(dir.resolve(MARKDOWN_FILE), toMarkdown(source)));
        out.add(writeAtomically(dir.resolve(JSON_FILE), Json.write(toJsonMap(source), true) + "\n"));
        if (confusionAsCsv()) out.add(writeAtomically(dir.resolve(CONFUSION_FILE), confusionCsv()));
        return out;
    }

    static Path writeAtomically(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, text);
        return Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static Map<String, Object> scoresMap(Scores s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("precision", s.precision());
        m.put("recall", s.recall());
        m.put("f1", s.f1());
        return m;
    }

    private String fmtLoss() { return Double.isNaN(loss) ? "n/a" : String.format(Locale.ROOT, "%.4f", loss); }

    private static void row(StringBuilder b, String key, String value) { b.append("| ").append(key).append(" | ").append(value).append(" |\n"); }

    private static String f4(double v) { return String.format(Locale.ROOT, "%.4f", v); }

    /** A Markdown table cell: pipes escaped, line breaks flattened. */
    private static String cell(String s) { return s.replace("|", "\\|").replace('\n', ' ').replace('\r', ' '); }

    private static String csv(String s) {
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? '"' + s.replace("\"", "\"\"") + '"' : s;
    }
}
