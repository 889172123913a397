package dev.lumen.distributed;

import dev.lumen.nn.BatchNorm2d;
import dev.lumen.nn.Module;
import dev.lumen.ops.Normalization;
import dev.lumen.tensor.Tensor;

/**
 * BatchNorm whose training statistics span every rank of a {@link Communicator} (timm's
 * --sync-bn, torch's nn.SyncBatchNorm): in training the per-channel mean and variance, and so
 * the running statistics, are those of the global batch, and backward reduces the two
 * per-channel gradient sums over the ranks ({@link SyncBatchNormOp}). Evaluation, and a world of
 * one rank, are plain BatchNorm.
 *
 * <p>Unlike torch's convert_sync_batchnorm, which swaps module objects, {@link #convert} switches
 * each BatchNorm2d in place ({@link BatchNorm2d#setTrainingStatistics}): Lumen's models hold their
 * layers in fields as well as by name, so a swapped object would be left out of their forward.
 * Names, parameters, buffers, momentum, eps, affine and track_running_stats thus stay exactly as
 * they were, and optimizers or EMA built before the conversion still see the same tensors.
 */
public final class SyncBatchNorm implements BatchNorm2d.TrainingStatistics {
    private final Communicator comm;

    private SyncBatchNorm(Communicator comm) { this.comm = comm; }

    /** Makes every BatchNorm2d in model synchronized over comm, keeping names and state; returns how many. */
    public static int convert(Module model, Communicator comm) {
        if (model == null || comm == null) throw new IllegalArgumentException("SyncBatchNorm.convert: model and communicator are required");
        SyncBatchNorm sync = new SyncBatchNorm(comm);
        int n = 0;
        for (Module m : model.namedModules().values()) {
            if (m instanceof BatchNorm2d bn) {
                bn.setTrainingStatistics(sync);
                n++;
            }
        }
        return n;
    }

    /** The communicator layer synchronizes over, or null if convert did not make it synchronized. */
    public static Communicator of(BatchNorm2d layer) {
        return layer.trainingStatistics() instanceof SyncBatchNorm s ? s.comm : null;
    }

    @Override
    public Tensor normalize(BatchNorm2d layer, Tensor x) {
        if (comm.worldSize() == 1) {
            return Normalization.batchNorm(x, layer.runningMean(), layer.runningVar(), layer.weight(), layer.bias(), true, layer.momentum(), layer.eps());
        }
        return SyncBatchNormOp.forward(x, layer.runningMean(), layer.runningVar(), layer.weight(), layer.bias(), layer.momentum(), layer.eps(), comm);
    }
}
