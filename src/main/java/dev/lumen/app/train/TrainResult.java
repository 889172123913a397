package dev.lumen.app.train;

import java.nio.file.Path;
import java.util.List;

/**
 * What a finished run leaves for reports: its folder, every epoch's record, and the per-sample
 * predictions of the final weights on the validation set (the EMA weights' when an EMA is kept,
 * as they are the ones the best checkpoint tracks).
 *
 * @param finalTop1 the validation top-1 of those final weights
 */
public record TrainResult(Path runDir, List<EpochRecord> history, Predictions predictions, double finalTop1, double bestTop1, int bestEpoch,
                          long unreadableImages) {}
