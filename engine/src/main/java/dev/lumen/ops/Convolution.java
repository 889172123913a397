package dev.lumen.ops;

import dev.lumen.autograd.Autocast;
import dev.lumen.autograd.Autograd;
import dev.lumen.autograd.GradMode;
import dev.lumen.backend.ConvKernels;
import dev.lumen.backend.ConvKernels.Window;
import dev.lumen.tensor.ChannelsLast;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;

/**
 * 2-D convolution (F.conv2d) and the sliding-window rearrangements nn.Unfold / F.fold, with
 * their gradient rules. Sizes given as int[] take one value (both dims) or two (h, w).
 */
public final class Convolution {
    private Convolution() {}

    /**
     * F.conv2d: x [N, C, H, W], weight [O, C/groups, kh, kw], bias [O] or null.
     * Output [N, O, (H + 2p - d(kh-1) - 1)/s + 1, ...]. Under {@link Autocast} x, weight and bias
     * are cast to its 16-bit type and the convolution computes there.
     */
    public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int[] stride, int[] padding, int[] dilation, int groups) {
        Devices.common("conv2d", x, weight, bias);
        return conv2dIn(Autocast.toLowPrecision(x), Autocast.toLowPrecision(weight), Autocast.toLowPrecision(bias), stride, padding, dilation, groups);
    }

    /** The window of a conv2d call whose arguments fit together; a one-line error naming what does not. */
    private static Window checkedWindow(Tensor x, Tensor weight, Tensor bias, int[] stride, int[] padding, int[] dilation, int groups) {
        if (x.dim() != 4) throw new IllegalArgumentException("conv2d: input must be [N, C, H, W], got " + Shapes.str(x.shape()));
        if (weight.dim() != 4) throw new IllegalArgumentException("conv2d: weight must be [O, C/groups, kh, kw], got " + Shapes.str(weight.shape()));
        int[] xs = x.shape(), ws = weight.shape();
        if (groups < 1 || xs[1] % groups != 0 || ws[0] % groups != 0) {
            throw new IllegalArgumentException("conv2d: groups " + groups + " must divide input channels " + xs[1] + " and output channels " + ws[0]);
        }
        if (ws[1] * groups != xs[1]) {
            throw new IllegalArgumentException("conv2d: weight " + Shapes.str(ws) + " expects " + ws[1] + " input channels per group, got "
                    + xs[1] / groups + " (input " + Shapes.str(xs) + ", groups " + groups + ")");
        }
        if (bias != null && (bias.dim() != 1 || bias.shape(0) != ws[0])) {
            throw new IllegalArgumentException("conv2d: bias " + Shapes.str(bias.shape()) + " for weight " + Shapes.str(ws) + " (expects [" + ws[0] + "])");
        }
        Window win = window("conv2d", new int[] {ws[2], ws[3]}, stride, padding, dilation);
        int oh = win.outH(xs[2]), ow = win.outW(xs[3]);
        if (oh < 1 || ow < 1) {
            throw new IllegalArgumentException("conv2d: input " + Shapes.str(xs) + " is smaller than the dilated kernel " + Shapes.str(ws) + " with padding " + win.ph() + "x" + win.pw());
        }
        return win;
    }

    /**
     * Whether {@link #conv2dInference} runs as one kernel for these tensors now: grad off, no
     * autocast, and a backend kernel for them (on the CPU: F32 on oneDNN, not depth-wise).
     */
    public static boolean hasConv2dInference(Tensor x, Tensor weight, int groups) {
        if (GradMode.isEnabled() || Autocast.isEnabled() || x.dim() != 4 || weight.dim() != 4 || !x.device().equals(weight.device())) return false;
        return x.backend().conv().hasConv2dInference(x, weight, groups);
    }

    /**
     * F.conv2d(x, weight, bias) followed by relu when asked, as one kernel without autograd (the
     * eval path of Conv + BatchNorm + ReLU folded into weight and bias). Only where
     * {@link #hasConv2dInference} is true; bias [O] is required.
     */
    public static Tensor conv2dInference(Tensor x, Tensor weight, Tensor bias, int[] stride, int[] padding, int[] dilation, int groups, boolean relu) {
        return conv2dInference(x, weight, bias, stride, padding, dilation, groups, relu, false);
    }

    /**
     * As {@link #conv2dInference(Tensor, Tensor, Tensor, int[], int[], int[], int, boolean)}; with
     * channelsLast the output lies channels-last where the backend's kernel computes in that
     * layout ({@link ConvKernels#channelsLastInference}), so the next such layer reads it without a
     * reorder. It is the same convolution either way (the kernels for the two layouts may round
     * differently); an input already channels-last is read as it is there, whatever channelsLast says.
     */
    public static Tensor conv2dInference(Tensor x, Tensor weight, Tensor bias, int[] stride, int[] padding, int[] dilation, int groups, boolean relu,
                                         boolean channelsLast) {
        if (!hasConv2dInference(x, weight, groups)) {
            throw new IllegalStateException("conv2dInference: no fused kernel for input " + Shapes.str(x.shape()) + " " + x.dtype() + " on " + x.device()
                    + (GradMode.isEnabled() ? " with grad on" : "") + "; check hasConv2dInference first");
        }
        if (bias == null) throw new IllegalArgumentException("conv2dInference: needs a bias [" + weight.shape(0) + "]");
        Devices.common("conv2dInference", x, weight, bias);
        Window win = checkedWindow(x, weight, bias, stride, padding, dilation, groups);
        int[] xs = x.shape();
        ConvKernels kernels = x.backend().conv();
        boolean last = kernels.channelsLastInference();
        int n = xs[0], o = weight.shape(0), oh = win.outH(xs[2]), ow = win.outW(xs[3]);
        Tensor out = last && channelsLast ? ChannelsLast.empty(x.dtype(), x.device(), n, o, oh, ow) : Tensor.empty(x.dtype(), x.device(), n, o, oh, ow);
        Tensor xc = last && ChannelsLast.is(x) ? x : x.contiguous(), wc = weight.contiguous(), bc = bias.contiguous();
        kernels.conv2dInference(xc, wc, bc, win, groups, relu, out);
        // copies made here (a channel slice of Res2Net's split, say) go at once, not at the scope's end
        if (xc != x) xc.release();
        if (wc != weight) wc.release();
        if (bc != bias) bc.release();
        return out;
    }

    private static Tensor conv2dIn(Tensor x, Tensor weight, Tensor bias, int[] stride, int[] padding, int[] dilation, int groups) {
        Window win = checkedWindow(x, weight, bias, stride, padding, dilation, groups);
        int[] xs = x.shape(), ws = weight.shape();
        int oh = win.outH(xs[2]), ow = win.outW(xs[3]);
        DType t = computeType("conv2d", x, weight, bias);
        Tensor out = Tensor.empty(t, x.device(), xs[0], ws[0], oh, ow);
        Tensor xc, wc;
        try (GradMode ng = GradMode.noGrad()) {
            xc = x.to(t).contiguous();
            wc = weight.to(t).contiguous();
            Tensor bc = bias == null ? null : bias.to(t).contiguous();
            x.backend().conv().conv2d(xc, wc, bc, win, groups, out);
        }
        Tensor[] inputs = bias == null ? new Tensor[] {x, weight} : new Tensor[] {x, weight, bias};
        return Autograd.record("conv2d", out, g -> {
            Tensor gc = g.contiguous();
            Tensor gx = x.requiresGrad() ? Tensor.empty(t, x.device(), xs) : null;
            Tensor gw = weight.requiresGrad() ? Tensor.empty(t, x.device(), ws) : null, gb = null;
            if (gx != null || gw != null) x.backend().conv().conv2dBackward(gc, xc, wc, win, groups, gx, gw);
            if (gx != null) gx = gx.to(x.dtype());
            if (gw != null) gw = gw.to(weight.dtype());
            if (bias != null && bias.requiresGrad()) {
                gb = Tensor.empty(t, x.device(), ws[0]);
                x.backend().conv().conv2dBackwardBias(gc, gb);
                gb = gb.to(bias.dtype());
            }
            return bias == null ? new Tensor[] {gx, gw} : new Tensor[] {gx, gw, gb};
        }, inputs);
    }

    /** conv2d with stride 1, no padding, no dilation, one group. */
    public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias) {
        return conv2d(x, weight, bias, new int[] {1}, new int[] {0}, new int[] {1}, 1);
    }

    /** nn.Unfold: x [N, C, H, W] -> [N, C*kh*kw, L], one column per window position, rows ordered (c, i, j). */
    public static Tensor unfold(Tensor x, int[] kernel, int[] dilation, int[] padding, int[] stride) {
        if (x.dim() != 4) throw new IllegalArgumentException("unfold: input must be [N, C, H, W], got " + Shapes.str(x.shape()));
        Window win = window("unfold", kernel, stride, padding, dilation);
        int[] xs = x.shape();
        int oh = win.outH(xs[2]), ow = win.outW(xs[3]);
        if (oh < 1 || ow < 1) {
            throw new IllegalArgumentException("unfold: input " + Shapes.str(xs) + " is smaller than the kernel " + win.kh() + "x" + win.kw() + " with its dilation and padding");
        }
        DType t = computeType("unfold", x, x, null);
        Tensor out = Tensor.empty(t, x.device(), xs[0], xs[1] * win.area(), oh * ow);
        try (GradMode ng = GradMode.noGrad()) {
            x.backend().conv().im2col(x.to(t).contiguous(), win, out);
        }
        return Autograd.record("unfold", out, g -> {
            Tensor gx = Tensor.empty(t, x.device(), xs);
            x.backend().conv().col2im(g.contiguous(), win, gx);
            return new Tensor[] {gx.to(x.dtype())};
        }, x);
    }

    /** F.fold: x [N, C*kh*kw, L] -> [N, C, outH, outW], overlapping values summed. */
    public static Tensor fold(Tensor x, int[] outputSize, int[] kernel, int[] dilation, int[] padding, int[] stride) {
        Window win = window("fold", kernel, stride, padding, dilation);
        int[] size = pair("fold", "output_size", outputSize, 1);
        int[] xs = x.shape();
        if (x.dim() != 3 || xs[1] % win.area() != 0) {
            throw new IllegalArgumentException("fold: input must be [N, C*" + win.kh() + "*" + win.kw() + ", L], got " + Shapes.str(xs));
        }
        int oh = win.outH(size[0]), ow = win.outW(size[1]);
        if (oh < 1 || ow < 1 || (long) oh * ow != xs[2]) {
            throw new IllegalArgumentException("fold: input " + Shapes.str(xs) + " has " + xs[2] + " blocks, but output_size " + size[0] + "x" + size[1]
                    + " with kernel " + win.kh() + "x" + win.kw() + " gives " + Math.max(oh, 0) + "x" + Math.max(ow, 0));
        }
        DType t = computeType("fold", x, x, null);
        int c = xs[1] / win.area();
        Tensor out = Tensor.empty(t, x.device(), xs[0], c, size[0], size[1]);
        try (GradMode ng = GradMode.noGrad()) {
            x.backend().conv().col2im(x.to(t).contiguous(), win, out);
        }
        return Autograd.record("fold", out, g -> {
            Tensor gx = Tensor.empty(t, x.device(), xs);
            x.backend().conv().im2col(g.contiguous(), win, gx);
            return new Tensor[] {gx.to(x.dtype())};
        }, x);
    }

    static Window window(String op, int[] kernel, int[] stride, int[] padding, int[] dilation) {
        int[] k = pair(op, "kernel_size", kernel, 1), s = pair(op, "stride", stride, 1), p = pair(op, "padding", padding, 0), d = pair(op, "dilation", dilation, 1);
        return new Window(k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1]);
    }

    /** One value for both dims, or (h, w); min is the smallest allowed value. */
    static int[] pair(String op, String name, int[] v, int min) {
        if (v == null || (v.length != 1 && v.length != 2)) {
            throw new IllegalArgumentException(op + ": " + name + " needs 1 or 2 values, got " + (v == null ? "null" : java.util.Arrays.toString(v)));
        }
        int[] r = v.length == 1 ? new int[] {v[0], v[0]} : v.clone();
        if (r[0] < min || r[1] < min) throw new IllegalArgumentException(op + ": " + name + " must be >= " + min + ", got " + java.util.Arrays.toString(v));
        return r;
    }

    /** The promoted type; F16/BF16 compute in F32 unless they are the autocast type. */
    static DType computeType(String op, Tensor a, Tensor b, Tensor c) {
        DType t = DType.promote(a.dtype(), b.dtype());
        if (c != null) t = DType.promote(t, c.dtype());
        if (!t.isFloating()) throw new IllegalArgumentException(op + ": needs floating tensors, got " + a.dtype() + " and " + b.dtype());
        return t.isCompute() || t == Autocast.dtype() ? t : DType.F32;
    }
}
