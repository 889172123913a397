package dev.lumen.ops;

import dev.lumen.autograd.Autograd;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * The outlook attention core of VOLO (Yuan et al., "VOLO: Vision Outlooker for Visual
 * Recognition", 2021): every anchor of a coarse grid holds, per head, a k*k x k*k attention
 * between the positions of its k x k window; the window's values are mixed by it and folded
 * back onto the image, summing where windows overlap. The linear layers that make v and the
 * logits, and the pooling before the logits, stay ordinary ops around this one.
 */
public final class OutlookAttention {
    private OutlookAttention() {}

    /**
     * fold(softmax(scale*logits) @ unfold(v)) as VOLO's OutlookAttention.forward computes it
     * between its linear layers.
     *
     * @param v      [B,H,W,C], channels last
     * @param logits [B,h,w,heads,k*k,k*k], h = (H+2p-k)/s+1 (ceil(H/s) for VOLO's k=3, p=1);
     *               softmax over the last axis
     * @return [B,H,W,C]
     */
    public static Tensor outlookAttention(Tensor v, Tensor logits, int kernel, int padding, int stride, double scale) {
        Devices.common("outlookAttention", v, logits);
        check(v, logits, kernel, padding, stride);
        Tensor cv = v.contiguous(), cl = logits.contiguous();
        Tensor out = Tensor.empty(v.dtype(), v.device(), v.shape());
        v.backend().outlook().outlookForward(cv, cl, kernel, padding, stride, scale, out);
        return Autograd.record("outlook_attention", out, g -> {
            Tensor cg = g.contiguous();
            Tensor gv = v.requiresGrad() ? Tensor.empty(v.dtype(), v.device(), v.shape()) : null;
            Tensor gl = logits.requiresGrad() ? Tensor.empty(logits.dtype(), logits.device(), logits.shape()) : null;
            v.backend().outlook().outlookBackward(cv, cl, cg, kernel, padding, stride, scale, gv, gl);
            return new Tensor[] {gv, gl};
        }, v, logits);
    }

    private static void check(Tensor v, Tensor logits, int k, int p, int s) {
        int[] vs = v.shape(), ls = logits.shape();
        if (k < 1 || s < 1 || p < 0 || p >= k) {
            throw new IllegalArgumentException("outlookAttention: need kernel >= 1, stride >= 1 and 0 <= padding < kernel, got kernel "
                    + k + ", padding " + p + ", stride " + s);
        }
        if (vs.length != 4) throw new IllegalArgumentException("outlookAttention: v must be [B,H,W,C], got " + Arrays.toString(vs));
        if (!v.dtype().isFloating() || logits.dtype() != v.dtype()) {
            throw new IllegalArgumentException("outlookAttention: v and logits need one floating dtype, got " + v.dtype() + " and " + logits.dtype());
        }
        if (!v.device().equals(logits.device())) {
            throw new IllegalArgumentException("outlookAttention: v on " + v.device() + " but logits on " + logits.device());
        }
        int h = (vs[1] + 2 * p - k) / s + 1, w = (vs[2] + 2 * p - k) / s + 1;
        if (ls.length != 6 || ls[0] != vs[0] || ls[1] != h || ls[2] != w || ls[4] != k * k || ls[5] != k * k || ls[3] < 1) {
            throw new IllegalArgumentException("outlookAttention: logits must be [B,h,w,heads,k*k,k*k] = [" + vs[0] + ", " + h + ", " + w
                    + ", heads, " + k * k + ", " + k * k + "] for v " + Arrays.toString(vs) + ", got " + Arrays.toString(ls));
        }
        if (vs[3] % ls[3] != 0) {
            throw new IllegalArgumentException("outlookAttention: " + vs[3] + " channels of v " + Arrays.toString(vs)
                    + " do not split into " + ls[3] + " heads");
        }
        if (h < 1 || w < 1) throw new IllegalArgumentException("outlookAttention: window " + k + " does not fit v " + Arrays.toString(vs));
    }
}
