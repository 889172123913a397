package dev.lumen.ops;

import dev.lumen.autograd.Autocast;
import dev.lumen.autograd.Autograd;
import dev.lumen.autograd.GradMode;
import dev.lumen.backend.AdditiveAttentionKernels;
import dev.lumen.backend.AdditiveAttentionKernels.GateGrads;
import dev.lumen.backend.AdditiveAttentionKernels.GateState;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * The additive token mixer core of CAS-ViT (Zhang et al., "CAS-ViT: Convolutional Additive
 * Self-attention Vision Transformers for Efficient Mobile Applications", 2024): instead of a
 * softmax over token pairs, q and k each pass a spatial gate and a channel gate, their sum is
 * mixed by a depth-wise 3x3 conv and multiplies v, all linear in the number of tokens.
 *
 * <p>This op is AdditiveTokenMixer.forward between the qkv conv and proj (an ordinary
 * depth-wise conv, left outside: fusing it would make pass 2 recompute the gates on a two-pixel
 * halo for one more 3x3 conv that the depth-wise conv op does as fast). The fused boundary:
 * the kernels take the spatial gate's BatchNorm as per-channel mean and 1/std, so in training
 * a first pass ({@code catmBatchStats}) computes the batch statistics of the gate's dw conv
 * without storing it; then ({@code catmForward}), image by image, pass 1 makes the spatial gate
 * and the channel means and pass 2 applies both gates, sums, convolves and multiplies by v
 * without writing an intermediate.
 */
public final class AdditiveAttention {
    private AdditiveAttention() {}

    /**
     * One of CAS-ViT's oper_q / oper_k (SpatialOperation then ChannelOperation), by PyTorch
     * parameter: block.0 (dw conv) weight [C,1,3,3] and bias [C], block.1 (BatchNorm2d) weight,
     * bias, running mean and var [C], block.3 (1x1 conv to one channel) weight [1,C,1,1], and
     * ChannelOperation's block.1 (1x1 conv) weight [C,C,1,1].
     */
    public record Gate(Tensor dwWeight, Tensor dwBias, Tensor bnWeight, Tensor bnBias, Tensor runningMean, Tensor runningVar,
                       Tensor spatialWeight, Tensor channelWeight) {}

    /**
     * dwc(Phi_q(q) + Phi_k(k)) * v, as CAS-ViT's AdditiveTokenMixer computes it before proj.
     * In training the gates' BatchNorm uses batch statistics and updates the running ones in
     * place (PyTorch's rule: running = (1-momentum)*running + momentum*batch, the variance
     * unbiased); otherwise it uses the running ones.
     *
     * @param q, k, v   [B,C,H,W]
     * @param dwcWeight [C,1,3,3], dwcBias [C]: the depth-wise conv dwc (padding 1)
     *
     * <p>Under {@link Autocast}, q, k and v are cast to the gates' parameter type: the fused
     * block holds BatchNorms and their statistics, which stay in the parameters' (F32) type.
     */
    public static Tensor additiveAttention(Tensor q, Tensor k, Tensor v, Gate gq, Gate gk, Tensor dwcWeight, Tensor dwcBias,
                                           boolean training, double momentum, double eps) {
        if (Autocast.isEnabled() && gq.dwWeight() != null) {
            DType t = gq.dwWeight().dtype();
            return fused(q.to(t), k.to(t), v.to(t), gq, gk, dwcWeight, dwcBias, training, momentum, eps);
        }
        return fused(q, k, v, gq, gk, dwcWeight, dwcBias, training, momentum, eps);
    }

    private static Tensor fused(Tensor q, Tensor k, Tensor v, Gate gq, Gate gk, Tensor dwcWeight, Tensor dwcBias,
                                boolean training, double momentum, double eps) {
        check(q, k, v, gq, gk, dwcWeight, dwcBias);
        Devices.common("additiveAttention", q, k, v, gq.dwWeight(), gq.dwBias(), gq.bnWeight(), gq.bnBias(), gq.runningMean(), gq.runningVar(),
                gq.spatialWeight(), gq.channelWeight(), gk.dwWeight(), gk.dwBias(), gk.bnWeight(), gk.bnBias(), gk.runningMean(),
                gk.runningVar(), gk.spatialWeight(), gk.channelWeight(), dwcWeight, dwcBias);
        AdditiveAttentionKernels kern = q.backend().additiveAttention();
        Tensor cq = q.contiguous(), ck = k.contiguous(), cv = v.contiguous();
        Tensor dwcW = dwcWeight.contiguous(), dwcB = dwcBias.contiguous();
        AdditiveAttentionKernels.Gate kq = kernelGate(kern, cq, gq, training, momentum, eps);
        AdditiveAttentionKernels.Gate kk = kernelGate(kern, ck, gk, training, momentum, eps);
        GateState sq = newState(q), sk = newState(q);
        Tensor out = Tensor.empty(q.dtype(), q.device(), q.shape());
        kern.catmForward(cq, ck, cv, kq, kk, sq, sk, dwcW, dwcB, out);
        Tensor[] inputs = {q, k, v, gq.dwWeight, gq.dwBias, gq.bnWeight, gq.bnBias, gq.spatialWeight, gq.channelWeight,
            gk.dwWeight, gk.dwBias, gk.bnWeight, gk.bnBias, gk.spatialWeight, gk.channelWeight, dwcWeight, dwcBias};
        return Autograd.record("additive_attention", out, g -> {
            Tensor[] grads = new Tensor[inputs.length];
            for (int i = 0; i < grads.length; i++) grads[i] = Tensor.empty(inputs[i].dtype(), inputs[i].device(), inputs[i].shape());
            GateGrads dq = new GateGrads(grads[0], grads[3], grads[4], grads[5], grads[6], grads[7], grads[8]);
            GateGrads dk = new GateGrads(grads[1], grads[9], grads[10], grads[11], grads[12], grads[13], grads[14]);
            kern.catmBackward(cq, ck, cv, kq, kk, sq, sk, dwcW, dwcB, training, g.contiguous(), grads[2], grads[15], grads[16], dq, dk);
            for (int i = 0; i < grads.length; i++) {
                if (!inputs[i].requiresGrad()) {
                    grads[i].close();
                    grads[i] = null;
                }
            }
            return grads;
        }, inputs);
    }

    private static GateState newState(Tensor q) {
        int[] s = q.shape();
        return new GateState(Tensor.empty(q.dtype(), q.device(), s[0], s[2], s[3]),
                Tensor.empty(q.dtype(), q.device(), s[0], s[1]), Tensor.empty(q.dtype(), q.device(), s[0], s[1]));
    }

    /**
     * The kernels' view of a gate: batch statistics (updating the running ones) in training, running
     * ones otherwise. The statistics stay on the gate's device (catmNormalization), so a device
     * step does not wait for the host here.
     */
    private static AdditiveAttentionKernels.Gate kernelGate(AdditiveAttentionKernels kern, Tensor t, Gate g, boolean training,
                                                             double momentum, double eps) {
        int c = t.shape(1);
        Tensor dwW = g.dwWeight.contiguous(), dwB = g.dwBias.contiguous();
        Tensor mean = Tensor.empty(t.dtype(), t.device(), c), invStd = Tensor.empty(t.dtype(), t.device(), c);
        try (GradMode ng = GradMode.noGrad()) {
            if (training) {
                try (Tensor bm = Tensor.empty(t.dtype(), t.device(), c); Tensor bv = Tensor.empty(t.dtype(), t.device(), c)) {
                    kern.catmBatchStats(t, dwW, dwB, bm, bv);
                    double n = (double) t.shape(0) * t.shape(2) * t.shape(3);
                    kern.catmNormalization(bm, bv, g.runningMean, g.runningVar, momentum, n > 1 ? n / (n - 1) : 1, eps, mean, invStd);
                }
            } else {
                kern.catmNormalization(null, null, g.runningMean, g.runningVar, momentum, 1, eps, mean, invStd);
            }
        }
        return new AdditiveAttentionKernels.Gate(dwW, dwB, g.bnWeight.contiguous(), g.bnBias.contiguous(),
                mean, invStd, g.spatialWeight.contiguous(), g.channelWeight.contiguous());
    }

    private static void check(Tensor q, Tensor k, Tensor v, Gate gq, Gate gk, Tensor dwcWeight, Tensor dwcBias) {
        int[] s = q.shape();
        if (s.length != 4) throw new IllegalArgumentException("additiveAttention: q must be [B,C,H,W], got " + Arrays.toString(s));
        if (!q.dtype().isFloating()) throw new IllegalArgumentException("additiveAttention: q must be floating, got " + q.dtype());
        int c = s[1];
        expect("k", k, q.dtype(), s);
        expect("v", v, q.dtype(), s);
        for (String side : new String[] {"q", "k"}) {
            Gate g = side.equals("q") ? gq : gk;
            String p = "gate " + side + " ";
            expect(p + "dwWeight", g.dwWeight, q.dtype(), c, 1, 3, 3);
            expect(p + "dwBias", g.dwBias, q.dtype(), c);
            expect(p + "bnWeight", g.bnWeight, q.dtype(), c);
            expect(p + "bnBias", g.bnBias, q.dtype(), c);
            expect(p + "runningMean", g.runningMean, q.dtype(), c);
            expect(p + "runningVar", g.runningVar, q.dtype(), c);
            if (!g.runningMean.isContiguous() || !g.runningVar.isContiguous()) {
                throw new IllegalArgumentException("additiveAttention: gate " + side + "'s running statistics must be contiguous (they are updated in place)");
            }
            expect(p + "spatialWeight", g.spatialWeight, q.dtype(), 1, c, 1, 1);
            expect(p + "channelWeight", g.channelWeight, q.dtype(), c, c, 1, 1);
        }
        expect("dwcWeight", dwcWeight, q.dtype(), c, 1, 3, 3);
        expect("dwcBias", dwcBias, q.dtype(), c);
    }

    private static void expect(String name, Tensor t, DType dtype, int... shape) {
        if (t == null) throw new IllegalArgumentException("additiveAttention: " + name + " is missing");
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException("additiveAttention: " + name + " must be " + Arrays.toString(shape) + ", got " + Arrays.toString(t.shape()));
        }
        if (t.dtype() != dtype) throw new IllegalArgumentException("additiveAttention: " + name + " is " + t.dtype() + ", q is " + dtype);
    }
}
