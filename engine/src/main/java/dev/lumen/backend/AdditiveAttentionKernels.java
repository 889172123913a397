package dev.lumen.backend;

import dev.lumen.tensor.Tensor;

/**
 * Additive token mixer core (CAS-ViT's AdditiveTokenMixer between its qkv and proj convs):
 * out = dwc(Phi_q(q) + Phi_k(k)) * v, where Phi(t) = ChannelOperation(SpatialOperation(t)):
 * <pre>
 *   u = dwconv3x3(t) + dwBias                 [B,C,H,W]
 *   s = sigmoid(sum_c w1_c * relu(bn(u)_c))   [B,H,W]     spatial gate
 *   x = t * s;  m = mean_hw(x)                [B,C]
 *   g = sigmoid(Wc m)                         [B,C]       channel gate
 *   Phi(t) = x * g
 * </pre>
 * and dwc a depth-wise 3x3 conv with bias (padding 1). All tensors are contiguous NCHW of one
 * floating dtype; weights keep PyTorch's shapes ([C,1,3,3], [1,C,1,1], [C,C,1,1]).
 *
 * <p>The kernels are the passes over memory: {@link #catmBatchStats} (training only: the
 * BatchNorm statistics need all of u before any gate), {@link #catmNormalization} (the [C]
 * statistics the gates use, and the running ones, without a trip to the host) and {@link #catmForward}, which per image
 * makes the gates (pass 1: the spatial gate and the channel means, which need all pixels
 * before the channel gate exists) and then applies them (pass 2: both gates applied, the sum,
 * dwc and the product with v, with no intermediate written) while the image is still in cache.
 * BatchNorm enters the gates as a per-channel mean and 1/std, either of the batch (training)
 * or the running ones (eval).
 */
public interface AdditiveAttentionKernels {
    /** One gate's parameters. bnMean and bnInvStd are the statistics the normalization uses. */
    record Gate(Tensor dwWeight, Tensor dwBias, Tensor bnWeight, Tensor bnBias, Tensor bnMean, Tensor bnInvStd,
                Tensor spatialWeight, Tensor channelWeight) {}

    /** What pass 1 leaves of one gate: the spatial gate s [B,H,W], the means m [B,C] and the channel gate g [B,C]. */
    record GateState(Tensor spatial, Tensor pooled, Tensor channel) {}

    /** Gradients of one gate's input and parameters, shaped like them. */
    record GateGrads(Tensor input, Tensor dwWeight, Tensor dwBias, Tensor bnWeight, Tensor bnBias,
                     Tensor spatialWeight, Tensor channelWeight) {}

    /** Per-channel mean and biased variance over (B,H,W) of u = dwconv3x3(t) + dwBias, into [C] tensors. */
    void catmBatchStats(Tensor t, Tensor dwWeight, Tensor dwBias, Tensor mean, Tensor var);

    /**
     * The statistics a gate normalizes with, into mean and invStd ([C], the dtype of the running
     * ones), computed in double with each operation rounded as Java's double arithmetic does.
     * With batch statistics (batchMean and batchVar from {@link #catmBatchStats}; training):
     * mean = batchMean, invStd = 1/sqrt(batchVar + eps), and in place runningMean = (1-momentum)*runningMean
     * + momentum*batchMean and runningVar = (1-momentum)*runningVar + (momentum*varianceCorrection)*batchVar.
     * With batchMean null (eval): mean = runningMean, invStd = 1/sqrt(runningVar + eps). All [C], contiguous.
     */
    void catmNormalization(Tensor batchMean, Tensor batchVar, Tensor runningMean, Tensor runningVar, double momentum,
                           double varianceCorrection, double eps, Tensor mean, Tensor invStd);

    /**
     * Passes 1 and 2: the gates of q and k into sq and sk (spatial gate, channel means, channel
     * gate; the backward reads them), and out = dwc(q*s_q*g_q + k*s_k*g_k) * v.
     */
    void catmForward(Tensor q, Tensor k, Tensor v, Gate gq, Gate gk, GateState sq, GateState sk, Tensor dwcWeight, Tensor dwcBias,
                     Tensor out);

    /**
     * Every gradient for gradOut [B,C,H,W]; all outputs are required. batchStats says that the
     * gates' bnMean and bnInvStd are this batch's statistics, so gradients flow through them
     * (training); otherwise they are constants (eval).
     */
    void catmBackward(Tensor q, Tensor k, Tensor v, Gate gq, Gate gk, GateState sq, GateState sk, Tensor dwcWeight,
                      Tensor dwcBias, boolean batchStats, Tensor gradOut, Tensor gradV, Tensor gradDwcWeight,
                      Tensor gradDwcBias, GateGrads gradQ, GateGrads gradK);
}
