package dev.lumen.app.report;

import dev.lumen.app.train.Predictions;
import dev.lumen.app.train.TrainListener;
import dev.lumen.app.train.TrainResult;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;

/**
 * Writes a training run's human-facing reports into its folder when the run ends: curves.png
 * (loss, top-1 and the learning rate per epoch, the model's and the EMA's) and report.md /
 * report.json (per-class precision, recall, F1 and the confusion matrix on the validation or
 * test set, from the final weights' predictions, saying which weights those are).
 */
public final class RunReports implements TrainListener {
    private final String model;
    private final PrintStream log;

    public RunReports(String model, PrintStream log) {
        this.model = model;
        this.log = log;
    }

    @Override
    public void onFinish(TrainResult result) {
        try {
            if (!result.history().isEmpty()) Curves.write(result.history(), model, result.runDir().resolve(Curves.FILE));
            Predictions p = result.predictions();
            if (p != null && p.size() > 0) {
                // Loss, top-1 and the matrix all come from the same final weights (the EMA's when kept).
                ClassificationReport report = ClassificationReport.of(rows(p), p.labels(), p.classNames(), result.finalLoss());
                report.write(result.runDir(), new ClassificationReport.Source(model, result.dataset(), result.weights()));
                log.println("report: " + report.summaryLine());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("writing the run's reports into " + result.runDir() + ": " + e.getMessage(), e);
        }
    }

    private static float[][] rows(Predictions p) {
        int k = p.numClasses();
        float[][] rows = new float[p.size()][k];
        for (int i = 0; i < rows.length; i++) System.arraycopy(p.probabilities(), i * k, rows[i], 0, k);
        return rows;
    }
}
