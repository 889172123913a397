package dev.lumen.app.train;

/**
 * Hooks into a run, for report writers and tests. Calls come from the training thread, after
 * the epoch's checkpoint is written.
 */
public interface TrainListener {
    /** After each update, with the number of updates so far and the update's loss; nothing may wait for the device here. */
    default void onStep(long globalStep, double loss) {}

    /** After each epoch, with the records of every epoch so far (resumed ones included). */
    default void onEpochEnd(EpochRecord record, java.util.List<EpochRecord> history) {}

    /** After the run, with the whole history and the final predictions on the validation set. */
    default void onFinish(TrainResult result) {}
}
