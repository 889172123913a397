package dev.lumen.backend.cuda;

import dev.lumen.backend.ReductionKernels;
import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.KernelArgs;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * {@link ReductionKernels} on the device. Reductions over dims run as passes of reduce.cu
 * ({@link ReducePasses}) into double scratch, then one launch writes the outputs in their dtype:
 * logsumexp is a max pass then a shifted exp-sum pass, variance a sum pass then a squared
 * deviation pass around the mean (two-pass, as the CPU). Selections along a dim (max/min with
 * index, top-k) and softmax walk lines: every position of the other dims. Nothing waits for the
 * device and nothing uses float atomics: each result comes from a fixed tree or one thread.
 */
final class CudaReductions implements ReductionKernels {
    /** Values of a reduce.cu Post. */
    private static final int DIVIDE = 0, LOG_PLUS_SHIFT = 1;
    private static final int DOUBLE_BYTES = 8, ARG_BYTES = 16;

    private final CudaContext ctx;

    CudaReductions(CudaContext ctx) { this.ctx = ctx; }

    @Override
    public void reduce(Reduce op, Tensor x, int[] dims, Tensor out) {
        ReducePasses p = new ReducePasses(ctx, "reduce " + op, x, dims, out);
        if (p.outputs == 0) return;
        try (DeviceScratch res = DeviceScratch.allocate(ctx, p.outputs * DOUBLE_BYTES)) {
            switch (op) {
                case SUM -> {
                    p.pass("sum", DOUBLE_BYTES, 0, 1, res.ptr());
                    finish(p, res.ptr(), 0, DIVIDE, 1, out);
                }
                case MEAN -> {
                    p.pass("sum", DOUBLE_BYTES, 0, 1, res.ptr());
                    finish(p, res.ptr(), 0, DIVIDE, p.count, out);
                }
                case AMAX, AMIN -> {
                    p.pass(op == Reduce.AMAX ? "max" : "min", DOUBLE_BYTES, 0, 1, res.ptr());
                    finish(p, res.ptr(), 0, DIVIDE, 1, out);
                }
                case LOGSUMEXP -> {
                    try (DeviceScratch max = DeviceScratch.allocate(ctx, p.outputs * DOUBLE_BYTES)) {
                        p.pass("max", DOUBLE_BYTES, 0, 1, max.ptr());
                        p.pass("expsum", DOUBLE_BYTES, max.ptr(), 1, res.ptr());
                        finish(p, res.ptr(), max.ptr(), LOG_PLUS_SHIFT, 1, out);
                    }
                }
            }
        }
    }

    @Override
    public void variance(Tensor x, int[] dims, double correction, Tensor out) {
        ReducePasses p = new ReducePasses(ctx, "variance", x, dims, out);
        if (p.outputs == 0) return;
        try (DeviceScratch sum = DeviceScratch.allocate(ctx, p.outputs * DOUBLE_BYTES);
             DeviceScratch res = DeviceScratch.allocate(ctx, p.outputs * DOUBLE_BYTES)) {
            p.pass("sum", DOUBLE_BYTES, 0, 1, sum.ptr());
            // The deviation pass divides each sum by the count itself: the mean rounds as the CPU's sum / n.
            p.pass("sqsum", DOUBLE_BYTES, sum.ptr(), p.count, res.ptr());
            finish(p, res.ptr(), 0, DIVIDE, Math.max(p.count - correction, 0), out);
        }
    }

    /** out[o] = post(res[o]) in out's dtype; out is operand 1 of p's kept layout. */
    private void finish(ReducePasses p, long res, long shift, int post, double div, Tensor out) {
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(res).ptr(shift).i32(post).f64(div).ptr(CudaTensors.base(out)).view(p.kept, 1);
            Launch.elementwise(ctx, "reduce_finish_" + CudaBackend.suffix(out.dtype()), p.outputs, a);
        }
    }

    @Override
    public void extremeAlongDim(boolean largest, Tensor x, int dim, Tensor values, Tensor indices) {
        String op = largest ? "max" : "min";
        checkDim(op, x, dim);
        if (x.shape(dim) == 0) throw new IllegalArgumentException(op + " along dim " + dim + " of an empty dim, shape " + Arrays.toString(x.shape()));
        CudaTensors.requireDType(DType.I64, op + " indices", indices);
        CudaTensors.requireDType(x.dtype(), op + " values", values);
        ReducePasses p = values == null ? new ReducePasses(ctx, op, x, new int[] {dim}, indices) : new ReducePasses(ctx, op, x, new int[] {dim}, indices, values);
        if (p.outputs == 0) return;
        try (DeviceScratch res = DeviceScratch.allocate(ctx, p.outputs * ARG_BYTES)) {
            p.pass(largest ? "argmax" : "argmin", ARG_BYTES, 0, 1, res.ptr());
            try (KernelArgs a = new KernelArgs()) {
                // Without values the kernel gets a null pointer and the indices' view in its place.
                a.ptr(res.ptr()).ptr(values == null ? 0 : CudaTensors.base(values)).view(p.kept, values == null ? 1 : 2)
                       .ptr(CudaTensors.base(indices)).view(p.kept, 1);
                Launch.elementwise(ctx, "reduce_finish_arg_" + CudaBackend.suffix(x.dtype()), p.outputs, a);
            }
        }
    }

    @Override
    public void topk(Tensor x, int k, int dim, boolean largest, Tensor values, Tensor indices) {
        checkDim("topk", x, dim);
        int n = x.shape(dim);
        if (k < 0 || k > n) throw new IllegalArgumentException("topk: k = " + k + " for a dim of size " + n);
        CudaTensors.requireDType(DType.I64, "topk indices", indices);
        CudaTensors.requireDType(x.dtype(), "topk values", values);
        int[] outShape = x.shape();
        outShape[dim] = k;
        requireShape("topk values", values, outShape);
        requireShape("topk indices", indices, outShape);
        if (k == 0) return;
        CudaTensors.Layout lines = lines(x, dim, x, values, indices);
        if (lines.numel() == 0) return;
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.base(x)).view(lines, 0).i64(x.stride(dim)).i32(n).i32(k).i32(largest ? 1 : 0)
                    .ptr(CudaTensors.base(values)).view(lines, 1).i64(values.stride(dim))
                    .ptr(CudaTensors.base(indices)).view(lines, 2).i64(indices.stride(dim));
            Launch.elementwise(ctx, "topk_fwd_" + CudaBackend.suffix(x.dtype()), lines.numel(), a);
        }
    }

    @Override
    public void selectionBackward(Tensor gradValues, Tensor indices, int dim, Tensor gradIn) {
        checkDim("selectionBackward", gradIn, dim);
        CudaTensors.requireDType(DType.I64, "selectionBackward indices", indices);
        CudaTensors.requireDType(gradIn.dtype(), "selectionBackward gradValues", gradValues);
        requireShape("selectionBackward indices", indices, gradValues.shape());
        int[] sel = gradIn.shape();
        sel[dim] = gradValues.shape(dim);
        requireShape("selectionBackward gradValues", gradValues, sel);
        if (gradIn.numel() == 0) return;
        // Each thread owns one element of gradIn and gathers the gradValues whose index hits it.
        CudaTensors.Layout l = Walk.over(gradIn.shape(), 4)
                .operand(0, Walk.stridesHeldAt(gradValues.strides(), dim), gradValues.offset())
                .operand(1, Walk.stridesHeldAt(indices.strides(), dim), indices.offset())
                .coordinate(2, dim)
                .operand(3, Walk.stridesHeldAt(gradIn.strides(), -1), gradIn.offset())
                .layout();
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.base(gradValues)).view(l, 0).i64(gradValues.stride(dim))
                    .ptr(CudaTensors.base(indices)).view(l, 1).i64(indices.stride(dim))
                    .i32(gradValues.shape(dim)).view(l, 2).ptr(CudaTensors.base(gradIn)).view(l, 3);
            Launch.elementwise(ctx, "selection_bwd_" + CudaBackend.suffix(gradIn.dtype()), l.numel(), a);
        }
    }

    @Override
    public void softmax(Tensor x, int dim, boolean log, Tensor out) {
        checkDim("softmax", x, dim);
        requireShape("softmax out", out, x.shape());
        CudaTensors.requireDType(x.dtype(), "softmax out", out);
        CudaTensors.Layout l = lines(x, dim, x, out);
        if (l.numel() == 0 || x.shape(dim) == 0) return;
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.base(x)).view(l, 0).i64(x.stride(dim)).ptr(CudaTensors.base(out)).view(l, 1).i64(out.stride(dim))
                    .i32(x.shape(dim)).i32(log ? 1 : 0);
            launchLines("softmax_fwd", x, dim, l.numel(), a);
        }
    }

    @Override
    public void softmaxBackward(Tensor out, Tensor gradOut, int dim, boolean log, Tensor gradIn) {
        checkDim("softmaxBackward", out, dim);
        requireShape("softmaxBackward gradOut", gradOut, out.shape());
        requireShape("softmaxBackward gradIn", gradIn, out.shape());
        CudaTensors.requireDType(out.dtype(), "softmaxBackward", gradOut, gradIn);
        CudaTensors.Layout l = lines(out, dim, out, gradOut, gradIn);
        if (l.numel() == 0 || out.shape(dim) == 0) return;
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.base(out)).view(l, 0).i64(out.stride(dim)).ptr(CudaTensors.base(gradOut)).view(l, 1).i64(gradOut.stride(dim))
                    .ptr(CudaTensors.base(gradIn)).view(l, 2).i64(gradIn.stride(dim)).i32(out.shape(dim)).i32(log ? 1 : 0);
            launchLines("softmax_bwd", out, dim, l.numel(), a);
        }
    }

    /**
     * A block per line when dim is x's innermost dim in memory (its threads read neighbours),
     * else a thread per line (neighbouring threads read neighbours).
     */
    private void launchLines(String kernel, Tensor x, int dim, long lines, KernelArgs a) {
        int n = x.shape(dim);
        if (isInnermost(x, dim)) {
            if (lines > Integer.MAX_VALUE) throw new IllegalArgumentException(kernel + ": " + lines + " lines exceed a grid's blocks");
            ctx.kernel(kernel + "_rows_" + CudaBackend.suffix(x.dtype())).launch(new int[] {(int) lines}, new int[] {ReducePasses.threadsFor(n)}, 0, a);
        } else {
            Launch.elementwise(ctx, kernel + "_cols_" + CudaBackend.suffix(x.dtype()), lines, a);
        }
    }

    private static boolean isInnermost(Tensor x, int dim) {
        long s = Math.abs((long) x.stride(dim));
        for (int d = 0; d < x.dim(); d++) if (d != dim && x.shape(d) > 1 && Math.abs((long) x.stride(d)) < s) return false;
        return true;
    }

    /** The line starts of each operand (all of x's shape): every position of the dims but dim. */
    private static CudaTensors.Layout lines(Tensor x, int dim, Tensor... operands) {
        int[] shape = x.shape();
        shape[dim] = 1;
        Walk w = Walk.over(shape, operands.length);
        for (int k = 0; k < operands.length; k++) w.operand(k, Walk.stridesHeldAt(operands[k].strides(), dim), operands[k].offset());
        for (Tensor t : operands) CudaTensors.ptr(t);
        return w.layout();
    }

    private static void checkDim(String op, Tensor x, int dim) {
        if (dim < 0 || dim >= x.dim()) throw new IllegalArgumentException(op + ": dim " + dim + " out of range for rank " + x.dim());
    }

    private static void requireShape(String what, Tensor t, int[] shape) {
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException(what + ": shape " + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(shape));
        }
    }
}
