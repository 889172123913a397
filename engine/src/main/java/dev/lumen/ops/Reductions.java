package dev.lumen.ops;

import dev.lumen.autograd.Autocast;
import dev.lumen.autograd.Autograd;
import dev.lumen.backend.ReductionKernels.Reduce;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * Reductions over dims (sum, mean, var, std, amax, amin, logsumexp), max/min/top-k along a
 * dim with indices, and their gradient rules. Dims may be negative; null or empty means all
 * dims. With keepdim the reduced dims stay with size 1, as in PyTorch. Under {@link Autocast}
 * sum and logsumexp compute 16-bit inputs in F32 (PyTorch's F32 list).
 */
public final class Reductions {
    private Reductions() {}

    /** Values with their I64 indices along a dim, as torch.max(dim) and torch.topk return them. */
    public record ValuesIndices(Tensor values, Tensor indices) {}

    private static int[] keptShape(int[] shape, int[] dims) {
        int[] s = shape.clone();
        for (int d : dims) s[d] = 1;
        return s;
    }

    private static int[] droppedShape(int[] shape, int[] dims) {
        int[] s = new int[shape.length - dims.length];
        for (int i = 0, k = 0, j = 0; i < shape.length; i++) {
            if (j < dims.length && dims[j] == i) { j++; continue; }
            s[k++] = shape[i];
        }
        return s;
    }

    private static long count(int[] shape, int[] dims) {
        long n = 1;
        for (int d : dims) n *= shape[d];
        return n;
    }

    /** Rule for a reduction: the gradient of x given the output and its gradient, both in the keepdim shape. */
    @FunctionalInterface
    private interface KeptRule {
        Tensor grad(Tensor out, Tensor g);
    }

    /**
     * Runs a reduction kernel into a keepdim-shaped output, records rule, and drops the dims
     * unless keepdim. An x with no elements never reaches a kernel: every output is empty, the
     * value of the reduction over no elements, as in torch (a sum's 0, a mean's nan).
     */
    private static Tensor reduce(String name, Tensor x, int[] dims, boolean keepdim, DType outType, double empty,
                                 java.util.function.BiConsumer<int[], Tensor> kernel, KeptRule rule) {
        int[] d = Shapes.normalizeDims(dims, x.dim());
        Tensor out;
        if (x.numel() == 0) {
            out = Tensor.full(empty, outType, x.device(), keptShape(x.shape(), d));
        } else {
            out = Tensor.empty(outType, x.device(), keptShape(x.shape(), d));
            kernel.accept(d, out);
        }
        Tensor res = rule == null ? out : Autograd.record(name, out, g -> new Tensor[] {rule.grad(out, g)}, x);
        return keepdim ? res : res.view(droppedShape(x.shape(), d));
    }

    private static Tensor floating(String op, Tensor x) {
        if (x.dtype().isFloating()) return x;
        throw new IllegalArgumentException(op + ": needs a floating tensor, got " + x.dtype() + " " + Arrays.toString(x.shape()));
    }

    // ------------------------------------------------------------------ sums and moments

    /** Sum over dims (all dims if none given); integer and BOOL tensors sum to I64, as in PyTorch. */
    public static Tensor sum(Tensor x, int[] dims, boolean keepdim) {
        Tensor in = x.dtype().isFloating() || x.dtype() == DType.I64 ? Autocast.toF32(x) : Views.cast(x, DType.I64);
        int[] inShape = in.shape();
        return reduce("sum", in, dims, keepdim, in.dtype(), 0, (d, out) -> in.backend().reductions().reduce(Reduce.SUM, in, d, out),
                (out, g) -> g.expand(inShape).contiguous());
    }

    public static Tensor sum(Tensor x) { return sum(x, null, false); }

    /** Sums a broadcast gradient back to the shape of the operand that was broadcast. */
    public static Tensor sumTo(Tensor g, int[] shape) {
        int[] gs = g.shape();
        if (Arrays.equals(gs, shape)) return g;
        int lead = gs.length - shape.length;
        java.util.List<Integer> dims = new java.util.ArrayList<>();
        for (int i = 0; i < gs.length; i++) {
            if (i < lead || (shape[i - lead] == 1 && gs[i] != 1)) dims.add(i);
        }
        Tensor s = sum(g, dims.stream().mapToInt(Integer::intValue).toArray(), true);
        return s.reshape(shape);
    }

    public static Tensor mean(Tensor x, int[] dims, boolean keepdim) {
        Tensor in = floating("mean", x);
        int[] inShape = in.shape();
        long n = count(inShape, Shapes.normalizeDims(dims, in.dim()));
        return reduce("mean", in, dims, keepdim, in.dtype(), Double.NaN, (d, out) -> in.backend().reductions().reduce(Reduce.MEAN, in, d, out),
                (out, g) -> Elementwise.affine(g.expand(inShape), 1.0 / n, 0));
    }

    public static Tensor mean(Tensor x) { return mean(x, null, false); }

    /**
     * Variance over dims: sum((x - mean)^2) / (N - correction); correction 1 is torch's
     * unbiased default, 0 the population variance.
     */
    public static Tensor var(Tensor x, int[] dims, double correction, boolean keepdim) {
        Tensor in = floating("var", x);
        int[] nd = Shapes.normalizeDims(dims, in.dim());
        double scale = 2.0 / (count(in.shape(), nd) - correction);
        return reduce("var", in, dims, keepdim, in.dtype(), Double.NaN, (d, out) -> in.backend().reductions().variance(in, d, correction, out),
                (out, g) -> Elementwise.mul(Elementwise.sub(in, mean(in, nd, true)), Elementwise.mul(g, scale)));
    }

    public static Tensor var(Tensor x) { return var(x, null, 1, false); }

    /** Standard deviation: sqrt(var(x, dims, correction)). */
    public static Tensor std(Tensor x, int[] dims, double correction, boolean keepdim) {
        Tensor in = floating("std", x);
        int[] nd = Shapes.normalizeDims(dims, in.dim());
        double div = count(in.shape(), nd) - correction;
        return reduce("std", in, dims, keepdim, in.dtype(), Double.NaN, (d, out) -> {
            in.backend().reductions().variance(in, d, correction, out);
            out.backend().elementwise().unary(dev.lumen.backend.ElementwiseKernels.Unary.SQRT, out, 0, 0, out);
        }, (out, g) -> Elementwise.mul(Elementwise.sub(in, mean(in, nd, true)), Elementwise.div(g, Elementwise.mul(out, div))));
    }

    public static Tensor std(Tensor x) { return std(x, null, 1, false); }

    /** log(sum(exp(x))) over dims, computed as max + log(sum(exp(x - max))). */
    public static Tensor logsumexp(Tensor x, int[] dims, boolean keepdim) {
        Tensor in = Autocast.toF32(floating("logsumexp", x));
        return reduce("logsumexp", in, dims, keepdim, in.dtype(), Double.NEGATIVE_INFINITY, (d, out) -> in.backend().reductions().reduce(Reduce.LOGSUMEXP, in, d, out),
                (out, g) -> Elementwise.mul(Elementwise.exp(Elementwise.sub(in, out)), g));
    }

    // ------------------------------------------------------------------ extremes

    /** Max over dims; the gradient is shared evenly among the elements equal to the max, as torch.amax. */
    public static Tensor amax(Tensor x, int[] dims, boolean keepdim) { return extreme("amax", Reduce.AMAX, x, dims, keepdim); }

    /** Min over dims; ties share the gradient evenly. */
    public static Tensor amin(Tensor x, int[] dims, boolean keepdim) { return extreme("amin", Reduce.AMIN, x, dims, keepdim); }

    private static Tensor extreme(String name, Reduce op, Tensor x, int[] dims, boolean keepdim) {
        int[] nd = Shapes.normalizeDims(dims, x.dim());
        for (int d : nd) {
            // As torch: a max or min over no elements has no value (a sum of none is 0).
            if (x.shape(d) == 0) throw new IllegalArgumentException(name + ": cannot reduce over the empty dim " + d + " of " + Arrays.toString(x.shape()));
        }
        KeptRule rule = (out, g) -> {
            Tensor mask = Views.cast(Elementwise.eq(x, out), x.dtype());
            return Elementwise.mul(mask, Elementwise.div(g, sum(mask, nd, true)));
        };
        return reduce(name, x, dims, keepdim, x.dtype(), Double.NaN, (d, out) -> x.backend().reductions().reduce(op, x, d, out),
                x.dtype().isFloating() ? rule : null);
    }

    /** The max along dim and the index of its first occurrence; the gradient goes to that index. */
    public static ValuesIndices max(Tensor x, int dim, boolean keepdim) { return extremeAlongDim("max", true, x, dim, keepdim); }

    /** The min along dim and the index of its first occurrence. */
    public static ValuesIndices min(Tensor x, int dim, boolean keepdim) { return extremeAlongDim("min", false, x, dim, keepdim); }

    private static ValuesIndices extremeAlongDim(String name, boolean largest, Tensor x, int dim, boolean keepdim) {
        int d = Shapes.wrapDim(dim, x.dim());
        if (x.dim() > 0 && x.shape(d) == 0) throw new IllegalArgumentException(name + ": dim " + dim + " of " + Arrays.toString(x.shape()) + " is empty");
        int[] kept = x.dim() == 0 ? new int[0] : keptShape(x.shape(), new int[] {d});
        Tensor values = Tensor.empty(x.dtype(), x.device(), kept);
        Tensor indices = Tensor.empty(DType.I64, x.device(), kept);
        x.backend().reductions().extremeAlongDim(largest, x, d, values, indices);
        return selection(name, x, d, keepdim, values, indices);
    }

    /** Records the gradient of values selected from x at indices along d, and drops d unless keepdim. */
    private static ValuesIndices selection(String name, Tensor x, int d, boolean keepdim, Tensor values, Tensor indices) {
        int[] inShape = x.shape();
        Tensor v = x.dtype().isFloating() ? Autograd.record(name, values, g -> {
            Tensor gi = Tensor.empty(g.dtype(), g.device(), inShape);
            g.backend().reductions().selectionBackward(g, indices, d, gi);
            return new Tensor[] {gi};
        }, x) : values;
        if (keepdim || x.dim() == 0) return new ValuesIndices(v, indices);
        return new ValuesIndices(v.squeeze(d), indices.squeeze(d));
    }

    /** Index (I64) of the first max along dim. */
    public static Tensor argmax(Tensor x, int dim, boolean keepdim) { return argExtreme(true, x, dim, keepdim); }

    /** Index of the first max of the flattened tensor, as a 0-d I64 tensor. */
    public static Tensor argmax(Tensor x) { return argExtreme(true, x.reshape(-1), 0, false); }

    public static Tensor argmin(Tensor x, int dim, boolean keepdim) { return argExtreme(false, x, dim, keepdim); }

    public static Tensor argmin(Tensor x) { return argExtreme(false, x.reshape(-1), 0, false); }

    private static Tensor argExtreme(boolean largest, Tensor x, int dim, boolean keepdim) {
        int d = Shapes.wrapDim(dim, x.dim());
        int[] kept = x.dim() == 0 ? new int[0] : keptShape(x.shape(), new int[] {d});
        Tensor indices = Tensor.empty(DType.I64, x.device(), kept);
        x.backend().reductions().extremeAlongDim(largest, x, d, null, indices);
        return keepdim || x.dim() == 0 ? indices : indices.squeeze(d);
    }

    /**
     * The k largest (or smallest) elements along dim, in sorted order, with their indices;
     * the gradient goes to those indices. sorted = false is accepted and also returns them sorted.
     */
    public static ValuesIndices topk(Tensor x, int k, int dim, boolean largest, boolean sorted) {
        int d = Shapes.wrapDim(dim, x.dim());
        int size = x.dim() == 0 ? 1 : x.shape(d);
        if (k < 0 || k > size) throw new IllegalArgumentException("topk: k = " + k + " out of range for dim " + dim + " of size " + size + " in " + Arrays.toString(x.shape()));
        int[] shape = x.shape();
        if (shape.length > 0) shape[d] = k;
        Tensor values = Tensor.empty(x.dtype(), x.device(), shape);
        Tensor indices = Tensor.empty(DType.I64, x.device(), shape);
        x.backend().reductions().topk(x, k, d, largest, values, indices);
        return selection("topk", x, d, true, values, indices);
    }

    public static ValuesIndices topk(Tensor x, int k) { return topk(x, k, -1, true, true); }
}
