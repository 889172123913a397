package dev.lumen.ops;

import dev.lumen.autograd.Autograd;
import dev.lumen.backend.AttentionKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * Multi-head self-attention's core as one op on the packed projections (flash-attn's
 * "qkvpacked" form): out [B, N, C] = per head softmax(scale q k^T) v, from qkv [B, N, 3C] laid
 * out as timm's {@code qkv(x).reshape(B, N, 3, heads, C / heads)}. The result is what
 * {@code attend} on the permuted q, k and v gives after {@code transpose(1, 2).reshape(B, N, C)},
 * without the scaled copy of q, the permutes and their gradients' scatter: the backward writes
 * qkv's gradient in one [B, N, 3C] tensor. It saves qkv and the probabilities ([B, heads, N, N],
 * rows padded as the backend's kernels ask).
 */
public final class SelfAttention {
    private static final String OP = "self_attention";

    private SelfAttention() {}

    /** The core on qkv [B, N, 3C] (F32 or F64) with C divisible by heads. */
    public static Tensor packed(Tensor qkv, int heads, double scale) {
        if (qkv.dim() != 3 || heads < 1 || qkv.shape(2) % (3 * heads) != 0 || qkv.shape(2) == 0) {
            throw new IllegalArgumentException(OP + ": qkv must be [B, N, 3 * heads * headDim] for " + heads + " heads, got "
                    + Arrays.toString(qkv.shape()));
        }
        DType t = qkv.dtype();
        if (t != DType.F32 && t != DType.F64) {
            throw new IllegalArgumentException(OP + ": qkv must be F32 or F64, got " + t + " " + Arrays.toString(qkv.shape()));
        }
        int b = qkv.shape(0), n = qkv.shape(1), c = qkv.shape(2) / 3;
        Tensor x = qkv.contiguous();
        AttentionKernels kernels = x.backend().attention();
        boolean grad = Autograd.needsGrad(x);
        Tensor probs = grad ? Tensor.empty(t, qkv.device(), b, heads, n, kernels.probsWidth(n)) : null;
        Tensor out = Tensor.empty(t, qkv.device(), b, n, c);
        kernels.selfAttention(x, heads, scale, probs, out);
        if (!grad) {
            if (x != qkv) x.close();
            return out;
        }
        return Autograd.record(OP, out, g -> {
            Tensor go = g.to(t).contiguous();
            Tensor gi = Tensor.empty(t, x.device(), b, n, 3 * c);
            kernels.selfAttentionBackward(x, probs, go, heads, scale, gi);
            if (go != g) go.close();
            return new Tensor[] {gi};
        }, x);
    }
}
