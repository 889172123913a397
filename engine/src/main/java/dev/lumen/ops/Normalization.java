package dev.lumen.ops;

import dev.lumen.autograd.Autocast;
import dev.lumen.autograd.Autograd;
import dev.lumen.autograd.GradMode;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;

/**
 * Batch, layer and group normalization with PyTorch's semantics, on dedicated fused
 * kernels (statistics, normalization and affine in one or two passes). Their gradients run
 * the matching backward kernels from the statistics saved in the forward pass.
 * F16/BF16 inputs compute in F32 and are cast back; under {@link Autocast} layer and group norm
 * return F32 (they are on PyTorch's F32 list), batch norm the input's type (as PyTorch's).
 */
public final class Normalization {
    private Normalization() {}

    // ---------------------------------------------------------------- batch norm

    /**
     * torch.nn.functional.batch_norm on x [N, C, ...]. In training (or with no running
     * statistics) it normalizes with the batch mean and biased variance per channel and,
     * where running statistics are given, updates them in place:
     * running = (1 - momentum) * running + momentum * batch, with the unbiased variance.
     * In eval it uses the running statistics. weight and bias may be null.
     */
    public static Tensor batchNorm(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias,
                                   boolean training, double momentum, double eps) {
        return batchNorm(x, runningMean, runningVar, weight, bias, training, momentum, eps, false);
    }

    /**
     * relu(batchNorm(...)) as one op (PyTorch's eager mode runs the two): bit for bit the same
     * output and gradients, one pass fewer each way on backends with the fused kernel. The node
     * saves what the two separate nodes would (the input and the output), no more.
     */
    public static Tensor batchNormRelu(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias,
                                       boolean training, double momentum, double eps) {
        return batchNorm(x, runningMean, runningVar, weight, bias, training, momentum, eps, true);
    }

    private static Tensor batchNorm(Tensor x, Tensor runningMean, Tensor runningVar, Tensor weight, Tensor bias,
                                    boolean training, double momentum, double eps, boolean relu) {
        Devices.common("batchNorm", x, runningMean, runningVar, weight, bias);
        if (x.dim() < 2) throw new IllegalArgumentException("batchNorm: input " + Shapes.str(x.shape()) + " needs at least 2 dims [N, C, ...]");
        int c = x.shape(1);
        checkVector("batchNorm", "weight", weight, c);
        checkVector("batchNorm", "bias", bias, c);
        checkVector("batchNorm", "runningMean", runningMean, c);
        checkVector("batchNorm", "runningVar", runningVar, c);
        if ((runningMean == null) != (runningVar == null)) {
            throw new IllegalArgumentException("batchNorm: runningMean and runningVar must both be given or both be null");
        }
        if (!x.dtype().isCompute()) {
            return batchNorm(x.to(DType.F32), runningMean, runningVar, weight, bias, training, momentum, eps, relu).to(x.dtype());
        }
        boolean useInputStats = training || runningMean == null;
        int n = x.shape(0);
        int s = (int) (x.numel() / Math.max(1, (long) n * c));
        long count = (long) n * s;
        if (useInputStats && count <= 1) {
            throw new IllegalArgumentException("batchNorm: expected more than 1 value per channel when training, got input "
                    + Shapes.str(x.shape()));
        }
        DType t = x.dtype();
        Tensor xc = x.contiguous(), w = as(weight, t), b = as(bias, t);
        Tensor mean, var;
        if (useInputStats) {
            mean = Tensor.empty(t, x.device(), c);
            var = Tensor.empty(t, x.device(), c);
        } else {
            // Copies, so that a later in-place update of the running statistics cannot change this step's gradient.
            mean = constant(runningMean, t);
            var = constant(runningVar, t);
        }
        Tensor out = Tensor.empty(t, x.device(), x.shape());
        try (Tensor x3 = as3d(xc, n, c, s); Tensor o3 = as3d(out, n, c, s)) {
            if (relu) x.backend().norms().batchNormReluForward(x3, w, b, eps, useInputStats, mean, var, o3);
            else x.backend().norms().batchNormForward(x3, w, b, eps, useInputStats, mean, var, o3);
        }
        if (training && runningMean != null) updateRunning(runningMean, runningVar, mean, var, momentum, count);
        // The ReLU mask is read from the output: captured only when fused, so plain batch norm saves no more than before.
        Tensor y = relu ? out : null;
        return Autograd.record(relu ? "batch_norm_relu" : "batch_norm", out, g -> {
            Tensor gc = g.contiguous();
            Tensor gx = xc.requiresGrad() ? Tensor.empty(t, g.device(), xc.shape()) : null;
            Tensor gw = w != null && w.requiresGrad() ? Tensor.empty(t, g.device(), c) : null;
            Tensor gb = b != null && b.requiresGrad() ? Tensor.empty(t, g.device(), c) : null;
            try (Tensor x3 = as3d(xc, n, c, s); Tensor g3 = as3d(gc, n, c, s); Tensor gx3 = gx == null ? null : as3d(gx, n, c, s)) {
                if (y == null) {
                    x3.backend().norms().batchNormBackward(g3, x3, w, mean, var, eps, useInputStats, gx3, gw, gb);
                } else {
                    try (Tensor y3 = as3d(y, n, c, s)) {
                        x3.backend().norms().batchNormReluBackward(g3, y3, x3, w, mean, var, eps, useInputStats, gx3, gw, gb);
                    }
                }
            }
            return new Tensor[] {gx, gw, gb};
        }, xc, w, b);
    }

    private static void updateRunning(Tensor runningMean, Tensor runningVar, Tensor mean, Tensor var, double momentum, long count) {
        try (GradMode ng = GradMode.noGrad()) {
            Tensor rm = runningMean.view(-1), rv = runningVar.view(-1);
            rm.backend().elementwise().affine(rm, 1 - momentum, 0, rm);
            Elementwise.addInPlace(rm, mean, momentum);
            rv.backend().elementwise().affine(rv, 1 - momentum, 0, rv);
            Elementwise.addInPlace(rv, var, momentum * count / (count - 1.0));
        }
    }

    // ---------------------------------------------------------------- layer norm

    /** torch.nn.functional.layer_norm over the last dim; weight and bias ([D]) may be null. */
    public static Tensor layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        Devices.common("layerNorm", x, weight, bias);
        if (x.dim() < 1) throw new IllegalArgumentException("layerNorm: input must have at least 1 dim");
        int d = x.shape(-1);
        checkVector("layerNorm", "weight", weight, d);
        checkVector("layerNorm", "bias", bias, d);
        return layerNormOverDim1(Autocast.toF32(x), (int) (x.numel() / Math.max(d, 1)), d, 1, weight, bias, eps, "layer_norm");
    }

    /**
     * Layer norm over the channels of x [N, C, ...] at each position (ConvNeXt's
     * LayerNorm2d, channels-first), without permuting x; weight and bias are [C].
     */
    public static Tensor layerNormChannelsFirst(Tensor x, Tensor weight, Tensor bias, double eps) {
        Devices.common("layerNormChannelsFirst", x, weight, bias);
        if (x.dim() < 2) throw new IllegalArgumentException("layerNormChannelsFirst: input " + Shapes.str(x.shape()) + " needs [N, C, ...]");
        int n = x.shape(0), c = x.shape(1);
        checkVector("layerNormChannelsFirst", "weight", weight, c);
        checkVector("layerNormChannelsFirst", "bias", bias, c);
        return layerNormOverDim1(Autocast.toF32(x), n, c, (int) (x.numel() / Math.max(1, (long) n * c)), weight, bias, eps, "layer_norm_channels_first");
    }

    /** Normalizes x, seen as [n, c, s], over c. */
    private static Tensor layerNormOverDim1(Tensor x, int n, int c, int s, Tensor weight, Tensor bias, double eps, String name) {
        if (!x.dtype().isCompute()) return layerNormOverDim1(x.to(DType.F32), n, c, s, weight, bias, eps, name).to(x.dtype());
        DType t = x.dtype();
        Tensor xc = x.contiguous(), w = as(weight, t), b = as(bias, t);
        Tensor mean = Tensor.empty(t, x.device(), n, s), rstd = Tensor.empty(t, x.device(), n, s);
        Tensor out = Tensor.empty(t, x.device(), x.shape());
        try (Tensor x3 = as3d(xc, n, c, s); Tensor o3 = as3d(out, n, c, s)) {
            x.backend().norms().layerNormForward(x3, w, b, eps, o3, mean, rstd);
        }
        return Autograd.record(name, out, g -> {
            Tensor gc = g.contiguous();
            Tensor gx = xc.requiresGrad() ? Tensor.empty(t, g.device(), xc.shape()) : null;
            Tensor gw = w != null && w.requiresGrad() ? Tensor.empty(t, g.device(), c) : null;
            Tensor gb = b != null && b.requiresGrad() ? Tensor.empty(t, g.device(), c) : null;
            try (Tensor x3 = as3d(xc, n, c, s); Tensor g3 = as3d(gc, n, c, s); Tensor gx3 = gx == null ? null : as3d(gx, n, c, s)) {
                x3.backend().norms().layerNormBackward(g3, x3, w, mean, rstd, gx3, gw, gb);
            }
            return new Tensor[] {gx, gw, gb};
        }, xc, w, b);
    }

    // ---------------------------------------------------------------- group norm

    /** torch.nn.functional.group_norm on x [N, C, ...]; weight and bias ([C]) may be null. */
    public static Tensor groupNorm(Tensor x, int groups, Tensor weight, Tensor bias, double eps) {
        Devices.common("groupNorm", x, weight, bias);
        return groupNormIn(Autocast.toF32(x), groups, weight, bias, eps);
    }

    private static Tensor groupNormIn(Tensor x, int groups, Tensor weight, Tensor bias, double eps) {
        if (x.dim() < 2) throw new IllegalArgumentException("groupNorm: input " + Shapes.str(x.shape()) + " needs [N, C, ...]");
        int n = x.shape(0), c = x.shape(1);
        if (groups <= 0 || c % groups != 0) {
            throw new IllegalArgumentException("groupNorm: " + c + " channels of input " + Shapes.str(x.shape())
                    + " do not split into " + groups + " groups");
        }
        checkVector("groupNorm", "weight", weight, c);
        checkVector("groupNorm", "bias", bias, c);
        if (!x.dtype().isCompute()) return groupNormIn(x.to(DType.F32), groups, weight, bias, eps).to(x.dtype());
        DType t = x.dtype();
        int s = (int) (x.numel() / Math.max(1, (long) n * c));
        Tensor xc = x.contiguous(), w = as(weight, t), b = as(bias, t);
        Tensor mean = Tensor.empty(t, x.device(), n, groups), rstd = Tensor.empty(t, x.device(), n, groups);
        Tensor out = Tensor.empty(t, x.device(), x.shape());
        try (Tensor x3 = as3d(xc, n, c, s); Tensor o3 = as3d(out, n, c, s)) {
            x.backend().norms().groupNormForward(x3, groups, w, b, eps, o3, mean, rstd);
        }
        return Autograd.record("group_norm", out, g -> {
            Tensor gc = g.contiguous();
            Tensor gx = xc.requiresGrad() ? Tensor.empty(t, g.device(), xc.shape()) : null;
            Tensor gw = w != null && w.requiresGrad() ? Tensor.empty(t, g.device(), c) : null;
            Tensor gb = b != null && b.requiresGrad() ? Tensor.empty(t, g.device(), c) : null;
            try (Tensor x3 = as3d(xc, n, c, s); Tensor g3 = as3d(gc, n, c, s); Tensor gx3 = gx == null ? null : as3d(gx, n, c, s)) {
                x3.backend().norms().groupNormBackward(g3, x3, groups, w, mean, rstd, gx3, gw, gb);
            }
            return new Tensor[] {gx, gw, gb};
        }, xc, w, b);
    }

    // ---------------------------------------------------------------- helpers

    private static void checkVector(String op, String name, Tensor v, int size) {
        if (v != null && v.numel() != size) {
            throw new IllegalArgumentException(op + ": " + name + " " + Shapes.str(v.shape()) + " must have " + size + " elements");
        }
    }

    /** v in dtype t, contiguous and flat (recorded, so gradients flow back to v); null stays null. */
    private static Tensor as(Tensor v, DType t) {
        if (v == null) return null;
        Tensor c = v.to(t).contiguous();
        return c.dim() == 1 ? c : c.reshape(-1);
    }

    private static Tensor constant(Tensor v, DType t) {
        try (GradMode ng = GradMode.noGrad()) {
            Tensor c = Tensor.empty(t, v.device(), (int) v.numel());
            v.backend().copy(v.detach().reshape(-1), c);
            return c;
        }
    }

    /** A kernel-facing [n, c, s] view of a contiguous tensor, outside the tape; the caller closes it. */
    private static Tensor as3d(Tensor t, int n, int c, int s) {
        int[] shape = {n, c, s};
        return t.viewOf(shape, Shapes.contiguousStrides(shape), t.offset());
    }
}
