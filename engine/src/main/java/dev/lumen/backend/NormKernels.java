package dev.lumen.backend;

import dev.lumen.backend.ElementwiseKernels.Unary;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.Tensor;

/**
 * Batch, layer and group normalization forward and backward, and dropout masks.
 *
 * <p>Normalization kernels see x as a contiguous [N, C, S] block (the op reshapes; S is the
 * product of the spatial dims). Per-channel and per-group vectors (weight, bias, mean, var,
 * rstd) are contiguous, of x's dtype. weight and bias may be null (no affine); any gradient
 * output may be null when that gradient is not wanted.
 */
public interface NormKernels {
    /**
     * Batch norm over (N, S) per channel c. With useInputStats the kernel computes the
     * batch mean and biased variance of each channel and writes them into mean and var;
     * otherwise it reads them (running statistics).
     * out = (x - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c].
     */
    void batchNormForward(Tensor x, Tensor weight, Tensor bias, double eps, boolean useInputStats,
                          Tensor mean, Tensor var, Tensor out);

    /**
     * Gradients of batch norm. With usedInputStats the mean and var are functions of x (the
     * full formula through the batch statistics); otherwise they are constants.
     */
    void batchNormBackward(Tensor gradOut, Tensor x, Tensor weight, Tensor mean, Tensor var, double eps,
                           boolean usedInputStats, Tensor gradX, Tensor gradWeight, Tensor gradBias);

    /**
     * Batch norm then ReLU: out = max(bn(x), 0), as {@link #batchNormForward} followed by the
     * RELU map, bit for bit. This default composes the two; a backend overrides it with one pass.
     */
    default void batchNormReluForward(Tensor x, Tensor weight, Tensor bias, double eps, boolean useInputStats,
                                      Tensor mean, Tensor var, Tensor out) {
        batchNormForward(x, weight, bias, eps, useInputStats, mean, var, out);
        out.backend().elementwise().unary(Unary.RELU, out, 0, 0, out);
    }

    /**
     * Gradients of {@link #batchNormReluForward}: {@link #batchNormBackward} of gradOut masked by
     * out > 0 (out is the saved ReLU output), bit for bit as ReLU's backward then batch norm's.
     * This default materializes the masked gradient; a backend overrides it to mask on the fly.
     */
    default void batchNormReluBackward(Tensor gradOut, Tensor out, Tensor x, Tensor weight, Tensor mean, Tensor var,
                                       double eps, boolean usedInputStats, Tensor gradX, Tensor gradWeight, Tensor gradBias) {
        try (Tensor masked = Tensor.empty(gradOut.dtype(), gradOut.device(), gradOut.shape())) {
            gradOut.backend().elementwise().unaryBackward(Unary.RELU, out, 0, 0, gradOut, masked);
            batchNormBackward(masked, x, weight, mean, var, eps, usedInputStats, gradX, gradWeight, gradBias);
        }
    }

    /**
     * Layer norm over dim 1 of x [N, C, S], separately at each (n, s): S == 1 is PyTorch's
     * layer_norm over the last dim, S > 1 is a channels-first layer norm (ConvNeXt's
     * LayerNorm2d). weight and bias are [C]; mean and rstd [N, S] receive the statistics.
     */
    void layerNormForward(Tensor x, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd);

    /** Gradients of {@link #layerNormForward} from the saved mean and rstd. */
    void layerNormBackward(Tensor gradOut, Tensor x, Tensor weight, Tensor mean, Tensor rstd,
                           Tensor gradX, Tensor gradWeight, Tensor gradBias);

    /**
     * Group norm: channels split into groups consecutive blocks, each (n, group) normalized
     * over its C/groups * S values, then the per-channel affine. mean and rstd are [N, groups].
     */
    void groupNormForward(Tensor x, int groups, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd);

    /** Gradients of {@link #groupNormForward} from the saved mean and rstd. */
    void groupNormBackward(Tensor gradOut, Tensor x, int groups, Tensor weight, Tensor mean, Tensor rstd,
                           Tensor gradX, Tensor gradWeight, Tensor gradBias);

    /**
     * Inverted dropout: element i of mask (contiguous, x's dtype) is 1/(1-p) where draw i of
     * gen is below 1-p and 0 elsewhere (all 0 when p == 1); out = x * mask. out may be null
     * (mask only).
     */
    void dropoutForward(Tensor x, double p, Generator gen, Tensor mask, Tensor out);
}
