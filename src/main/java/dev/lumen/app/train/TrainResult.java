package dev.lumen.app.train;

import java.nio.file.Path;
import java.util.List;

/**
 * What a finished run leaves for reports: its folder, every epoch's record, and the per-sample
 * predictions of the final weights on the validation set (the EMA weights' when an EMA is kept,
 * as they are the ones the best checkpoint tracks).
 *
 * @param finalTop1 the validation top-1 of those final weights
 * @param finalLoss their validation loss (the same weights as finalTop1)
 * @param weights which weights those are, in words ("EMA weights after epoch 30 (ema.safetensors; ...)")
 * @param dataset the validation data, in words ("plants-split (val)")
 * @param evalMetric the --eval-metric that picked the best epoch (top1, top5 or loss)
 * @param bestMetric its best value, on the same kind of weights (NaN when no epoch ran)
 */
public record TrainResult(Path runDir, List<EpochRecord> history, Predictions predictions, double finalTop1, double finalLoss, String weights,
                          String dataset, String evalMetric, double bestMetric, int bestEpoch, long unreadableImages) {
    /** True when the final numbers are the EMA's. */
    public boolean emaWeights() { return weights.startsWith("EMA"); }
}
