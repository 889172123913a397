package dev.lumen.nn;

import dev.lumen.ops.Activations;
import dev.lumen.ops.Normalization;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * Batch normalization over the channels of [N, C, H, W], as torch's nn.BatchNorm2d:
 * parameters weight and bias, buffers running_mean, running_var and num_batches_tracked.
 * Training normalizes with the batch statistics and updates the running ones
 * (running = (1 - momentum) * running + momentum * batch); evaluation uses the running ones.
 */
public class BatchNorm2d extends Module implements Layer {
    private final int numFeatures;
    private double eps, momentum;
    private final boolean trackRunningStats;
    private TrainingStatistics trainingStatistics;

    /**
     * Where a layer's training statistics come from when not from its own batch alone: set on the
     * layer in place (SyncBatchNorm.convert), so models that hold their layers in fields see it.
     */
    @FunctionalInterface
    public interface TrainingStatistics {
        /** The layer's training output for x [N, C, H, W], updating its running statistics (if any) in place. */
        Tensor normalize(BatchNorm2d layer, Tensor x);
    }

    public BatchNorm2d(int numFeatures) { this(numFeatures, 1e-5, 0.1, true, true); }

    public BatchNorm2d(int numFeatures, double eps, double momentum) { this(numFeatures, eps, momentum, true, true); }

    /** affine: learn weight and bias; trackRunningStats: keep running statistics (else batch statistics always). */
    public BatchNorm2d(int numFeatures, double eps, double momentum, boolean affine, boolean trackRunningStats) {
        if (numFeatures <= 0) throw new IllegalArgumentException("BatchNorm2d: numFeatures must be positive, got " + numFeatures);
        if (!(momentum >= 0 && momentum <= 1)) throw new IllegalArgumentException("BatchNorm2d: momentum must be in [0, 1], got " + momentum);
        this.numFeatures = numFeatures;
        this.eps = eps;
        this.momentum = momentum;
        this.trackRunningStats = trackRunningStats;
        if (affine) {
            registerParameter("weight", Tensor.ones(numFeatures));
            registerParameter("bias", Tensor.zeros(numFeatures));
        }
        if (trackRunningStats) {
            registerBuffer("running_mean", Tensor.zeros(numFeatures));
            registerBuffer("running_var", Tensor.ones(numFeatures));
            registerBuffer("num_batches_tracked", Tensor.zeros(DType.I64, Device.CPU));
        }
    }

    public Tensor weight() { return paramOrNull("weight"); }

    public Tensor bias() { return paramOrNull("bias"); }

    public Tensor runningMean() { return trackRunningStats ? buffer("running_mean") : null; }

    public Tensor runningVar() { return trackRunningStats ? buffer("running_var") : null; }

    public boolean trackRunningStats() { return trackRunningStats; }

    public int numFeatures() { return numFeatures; }

    public double eps() { return eps; }

    public double momentum() { return momentum; }

    /** Makes training forward take its statistics from s (SyncBatchNorm); null: from the batch, as torch's BatchNorm2d. */
    public void setTrainingStatistics(TrainingStatistics s) { this.trainingStatistics = s; }

    public TrainingStatistics trainingStatistics() { return trainingStatistics; }

    /** Changes the running-statistics momentum, as assigning torch's bn.momentum (timm's --bn-momentum). */
    public void setMomentum(double momentum) {
        if (!(momentum >= 0 && momentum <= 1)) throw new IllegalArgumentException("BatchNorm2d: momentum must be in [0, 1], got " + momentum);
        this.momentum = momentum;
    }

    /** Changes eps, as assigning torch's bn.eps (timm's --bn-eps). */
    public void setEps(double eps) {
        if (!(eps > 0)) throw new IllegalArgumentException("BatchNorm2d: eps must be > 0, got " + eps);
        this.eps = eps;
    }

    @Override
    public Tensor forward(Tensor x) {
        countBatch(x);
        if (isTraining() && trainingStatistics != null) return trainingStatistics.normalize(this, x);
        return Normalization.batchNorm(x, runningMean(), runningVar(), weight(), bias(), isTraining() || !trackRunningStats, momentum, eps);
    }

    /**
     * relu(forward(x)), same values, gradients and running-statistics update, as one fused op where
     * the backend has it (timm's BatchNormAct2d with ReLU); with {@link TrainingStatistics} set,
     * their output then an in-place ReLU.
     */
    public Tensor forwardRelu(Tensor x) {
        countBatch(x);
        if (isTraining() && trainingStatistics != null) return Activations.reluInplace(trainingStatistics.normalize(this, x));
        return Normalization.batchNormRelu(x, runningMean(), runningVar(), weight(), bias(), isTraining() || !trackRunningStats, momentum, eps);
    }

    /** Checks x's shape and, in training, counts the batch in num_batches_tracked. */
    private void countBatch(Tensor x) {
        if (x.dim() != 4 || x.shape(1) != numFeatures) {
            throw new IllegalArgumentException("BatchNorm2d(" + numFeatures + "): expects input [N, " + numFeatures + ", H, W], got "
                    + Arrays.toString(x.shape()));
        }
        if (isTraining() && trackRunningStats) {
            Tensor count = buffer("num_batches_tracked");
            // Counted in place on the counter's device (an element-wise affine aliasing its output): no host read in forward.
            count.backend().elementwise().affine(count, 1, 1, count);
        }
    }

    @Override
    public String toString() { return "BatchNorm2d(" + numFeatures + ", eps=" + eps + ", momentum=" + momentum + ")"; }
}
