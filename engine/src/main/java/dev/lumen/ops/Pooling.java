package dev.lumen.ops;

import dev.lumen.autograd.Autograd;
import dev.lumen.autograd.GradMode;
import dev.lumen.backend.ConvKernels.Window;
import dev.lumen.tensor.ChannelsLast;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;

/**
 * Pooling over NCHW tensors with PyTorch's semantics (F.max_pool2d, F.avg_pool2d,
 * F.adaptive_avg_pool2d) and its gradient rules. Sizes given as int[] take one value (both
 * dims) or two (h, w); a null or empty stride means stride = kernel, as in torch.
 */
public final class Pooling {
    private Pooling() {}

    /** Output size as torch's pooling_output_shape: with ceil_mode the last window must still start inside the input or its left padding. */
    static int outputSize(int in, int k, int pad, int stride, int dilation, boolean ceil) {
        int span = in + 2 * pad - dilation * (k - 1) - 1 + (ceil ? stride - 1 : 0);
        int out = Math.floorDiv(span, stride) + 1;
        if (ceil && (long) (out - 1) * stride >= in + pad) out--;
        return out;
    }

    private static Window window(String op, Tensor x, int[] kernel, int[] stride, int[] padding) {
        if (x.dim() != 4) throw new IllegalArgumentException(op + ": input must be [N, C, H, W], got " + Shapes.str(x.shape()));
        int[] k = Convolution.pair(op, "kernel_size", kernel, 1);
        int[] s = stride == null || stride.length == 0 ? k : Convolution.pair(op, "stride", stride, 1);
        int[] p = Convolution.pair(op, "padding", padding, 0);
        if (p[0] > k[0] / 2 || p[1] > k[1] / 2) {
            throw new IllegalArgumentException(op + ": padding " + p[0] + "x" + p[1] + " must be at most half the kernel " + k[0] + "x" + k[1]);
        }
        return new Window(k[0], k[1], s[0], s[1], p[0], p[1], 1, 1);
    }

    private static int[] outShape(String op, Tensor x, Window w, boolean ceil) {
        int[] xs = x.shape();
        int oh = outputSize(xs[2], w.kh(), w.ph(), w.sh(), 1, ceil), ow = outputSize(xs[3], w.kw(), w.pw(), w.sw(), 1, ceil);
        if (oh < 1 || ow < 1) {
            throw new IllegalArgumentException(op + ": input " + Shapes.str(xs) + " is too small for kernel " + w.kh() + "x" + w.kw() + " (output " + oh + "x" + ow + ")");
        }
        return new int[] {xs[0], xs[1], oh, ow};
    }

    private static DType type(String op, Tensor x) {
        if (!x.dtype().isFloating()) throw new IllegalArgumentException(op + ": needs a floating tensor, got " + x.dtype());
        return x.dtype().isCompute() ? x.dtype() : DType.F32;
    }

    /** F.max_pool2d; the argmax indices are kept for backward. */
    public static Tensor maxPool2d(Tensor x, int[] kernel, int[] stride, int[] padding, boolean ceilMode) {
        Window w = window("max_pool2d", x, kernel, stride, padding);
        int[] os = outShape("max_pool2d", x, w, ceilMode);
        DType t = type("max_pool2d", x);
        Tensor out = Tensor.empty(t, x.device(), os);
        Tensor idx = Tensor.empty(DType.I64, x.device(), os);
        try (GradMode ng = GradMode.noGrad()) {
            x.backend().pool().maxPool2d(x.to(t).contiguous(), w, out, idx);
        }
        int[] xs = x.shape();
        return Autograd.record("max_pool2d", out, g -> {
            Tensor gx = Tensor.empty(t, x.device(), xs);
            x.backend().pool().maxPool2dBackward(g.contiguous(), idx, w, gx);
            return new Tensor[] {gx.to(x.dtype())};
        }, x);
    }

    /** F.avg_pool2d. */
    public static Tensor avgPool2d(Tensor x, int[] kernel, int[] stride, int[] padding, boolean ceilMode, boolean countIncludePad) {
        Window w = window("avg_pool2d", x, kernel, stride, padding);
        int[] os = outShape("avg_pool2d", x, w, ceilMode);
        DType t = type("avg_pool2d", x);
        // Channels-last input (VOLO's [B, H, W, C] tokens viewed as NCHW) stays so where the kernels
        // take it: the output and both gradients are channels-last too, and nothing is reordered.
        boolean last = ChannelsLast.is(x) && x.dtype() == t && x.backend().pool().avgPoolChannelsLast();
        Tensor out = last ? ChannelsLast.empty(t, x.device(), os[0], os[1], os[2], os[3]) : Tensor.empty(t, x.device(), os);
        try (GradMode ng = GradMode.noGrad()) {
            x.backend().pool().avgPool2d(last ? x : x.to(t).contiguous(), w, countIncludePad, out);
        }
        int[] xs = x.shape();
        return Autograd.record("avg_pool2d", out, g -> {
            if (last) {
                Tensor gx = ChannelsLast.empty(t, x.device(), xs[0], xs[1], xs[2], xs[3]);
                Tensor gl = ChannelsLast.is(g) ? g : ChannelsLast.copyOf(g);
                x.backend().pool().avgPool2dBackward(gl, w, countIncludePad, gx);
                if (gl != g) gl.close();
                return new Tensor[] {gx.to(x.dtype())};
            }
            Tensor gx = Tensor.empty(t, x.device(), xs);
            x.backend().pool().avgPool2dBackward(g.contiguous(), w, countIncludePad, gx);
            return new Tensor[] {gx.to(x.dtype())};
        }, x);
    }

    /** F.adaptive_avg_pool2d to [outH, outW]. */
    public static Tensor adaptiveAvgPool2d(Tensor x, int outH, int outW) {
        if (x.dim() != 4) throw new IllegalArgumentException("adaptive_avg_pool2d: input must be [N, C, H, W], got " + Shapes.str(x.shape()));
        if (outH < 1 || outW < 1) throw new IllegalArgumentException("adaptive_avg_pool2d: output size " + outH + "x" + outW + " must be positive");
        DType t = type("adaptive_avg_pool2d", x);
        int[] xs = x.shape();
        if (xs[2] < 1 || xs[3] < 1) throw new IllegalArgumentException("adaptive_avg_pool2d: empty input " + Shapes.str(xs));
        Tensor out = Tensor.empty(t, x.device(), xs[0], xs[1], outH, outW);
        try (GradMode ng = GradMode.noGrad()) {
            x.backend().pool().adaptiveAvgPool2d(x.to(t).contiguous(), out);
        }
        return Autograd.record("adaptive_avg_pool2d", out, g -> {
            Tensor gx = Tensor.empty(t, x.device(), xs);
            x.backend().pool().adaptiveAvgPool2dBackward(g.contiguous(), gx);
            return new Tensor[] {gx.to(x.dtype())};
        }, x);
    }

    /** Global average pooling, [N, C, H, W] -> [N, C, 1, 1] (adaptive_avg_pool2d to 1x1, one contiguous sum per plane). */
    public static Tensor globalAvgPool2d(Tensor x) { return adaptiveAvgPool2d(x, 1, 1); }
}
