package dev.lumen.app.report;

/**
 * One epoch's numbers, as the training loop logs them (timm's summary.csv row). Accuracies are
 * percentages in [0, 100]; a value not measured (no validation that epoch) is NaN.
 *
 * @param epoch     1-based epoch number
 * @param trainLoss mean training loss over the epoch
 * @param trainTop1 training top-1 accuracy (NaN when not tracked, e.g. with MixUp's soft targets)
 * @param valLoss   validation loss
 * @param valTop1   validation top-1 accuracy
 * @param valTop5   validation top-5 accuracy (top-k with k = min(5, classes))
 * @param lr        learning rate at the end of the epoch
 */
public record EpochMetrics(int epoch, double trainLoss, double trainTop1, double valLoss, double valTop1, double valTop5,
                           double lr) {}
