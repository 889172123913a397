package dev.lumen.backend.cuda;

import dev.lumen.cuda.CudaContext;
import dev.lumen.backend.ConvKernels.Window;
import dev.lumen.backend.PoolKernels;
import dev.lumen.cuda.KernelArgs;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Shapes;
import dev.lumen.tensor.Tensor;

/**
 * {@link PoolKernels} on the device (pool.cu): one thread per output in the forward kernels and
 * one per input pixel in the backward ones, which gather from the outputs whose windows span the
 * pixel instead of scattering, so no atomics and the same bits every run.
 */
final class CudaPool implements PoolKernels {
    private final CudaContext ctx;

    CudaPool(CudaContext ctx) { this.ctx = ctx; }

    @Override
    public void maxPool2d(Tensor x, Window w, Tensor out, Tensor indices) {
        String op = "maxPool2d";
        int[] in = plane(op, "x", x, null), o = plane(op, "out", out, x);
        batch(op, in, o);
        if (indices.dtype() != DType.I64) throw new IllegalArgumentException(op + ": indices must be I64, got " + indices.dtype());
        sameShape(op, "indices", indices, o);
        try (KernelArgs a = new KernelArgs()) {
            // The outputs as [planes, oh, ow]: the kernel splits its index with these sizes' divisors.
            int[] shape = {Math.multiplyExact(o[0], o[1]), o[2], o[3]};
            a.ptr(CudaTensors.ptr(x)).view(new CudaTensors.Layout(shape, new long[1][3], new long[1]), 0).i32(in[2]).i32(in[3]).i32(o[2]).i32(o[3]);
            window(a, w).ptr(CudaTensors.ptr(out)).ptr(CudaTensors.ptr(indices));
            Launch.elementwise(ctx, "max_pool2d_fwd_" + CudaBackend.suffix(x.dtype()), out.numel(), a);
        }
    }

    @Override
    public void maxPool2dBackward(Tensor gradOut, Tensor indices, Window w, Tensor gradIn) {
        String op = "maxPool2dBackward";
        int[] in = plane(op, "gradIn", gradIn, null), o = plane(op, "gradOut", gradOut, gradIn);
        batch(op, in, o);
        if (indices.dtype() != DType.I64) throw new IllegalArgumentException(op + ": indices must be I64, got " + indices.dtype());
        sameShape(op, "indices", indices, o);
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.ptr(gradOut)).ptr(CudaTensors.ptr(indices)).i64(gradIn.numel()).i32(in[2]).i32(in[3]).i32(o[2]).i32(o[3]);
            window(a, w).ptr(CudaTensors.ptr(gradIn));
            Launch.elementwise(ctx, "max_pool2d_bwd_" + CudaBackend.suffix(gradIn.dtype()), gradIn.numel(), a);
        }
    }

    @Override
    public void avgPool2d(Tensor x, Window w, boolean countIncludePad, Tensor out) {
        String op = "avgPool2d";
        int[] in = plane(op, "x", x, null), o = plane(op, "out", out, x);
        batch(op, in, o);
        undilated(op, w);
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.ptr(x)).i64(out.numel()).i32(in[2]).i32(in[3]).i32(o[2]).i32(o[3]);
            window(a, w).i32(countIncludePad ? 1 : 0).ptr(CudaTensors.ptr(out));
            Launch.elementwise(ctx, "avg_pool2d_fwd_" + CudaBackend.suffix(x.dtype()), out.numel(), a);
        }
    }

    @Override
    public void avgPool2dBackward(Tensor gradOut, Window w, boolean countIncludePad, Tensor gradIn) {
        String op = "avgPool2dBackward";
        int[] in = plane(op, "gradIn", gradIn, null), o = plane(op, "gradOut", gradOut, gradIn);
        batch(op, in, o);
        undilated(op, w);
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.ptr(gradOut)).i64(gradIn.numel()).i32(in[2]).i32(in[3]).i32(o[2]).i32(o[3]);
            window(a, w).i32(countIncludePad ? 1 : 0).ptr(CudaTensors.ptr(gradIn));
            Launch.elementwise(ctx, "avg_pool2d_bwd_" + CudaBackend.suffix(gradIn.dtype()), gradIn.numel(), a);
        }
    }

    @Override
    public void adaptiveAvgPool2d(Tensor x, Tensor out) {
        String op = "adaptiveAvgPool2d";
        int[] in = plane(op, "x", x, null), o = plane(op, "out", out, x);
        batch(op, in, o);
        adaptive(op, in, o);
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.ptr(x)).i64(out.numel()).i32(in[2]).i32(in[3]).i32(o[2]).i32(o[3]).ptr(CudaTensors.ptr(out));
            Launch.elementwise(ctx, "adaptive_avg_pool2d_fwd_" + CudaBackend.suffix(x.dtype()), out.numel(), a);
        }
    }

    @Override
    public void adaptiveAvgPool2dBackward(Tensor gradOut, Tensor gradIn) {
        String op = "adaptiveAvgPool2dBackward";
        int[] in = plane(op, "gradIn", gradIn, null), o = plane(op, "gradOut", gradOut, gradIn);
        batch(op, in, o);
        adaptive(op, in, o);
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.ptr(gradOut)).i64(gradIn.numel()).i32(in[2]).i32(in[3]).i32(o[2]).i32(o[3]).ptr(CudaTensors.ptr(gradIn));
            Launch.elementwise(ctx, "adaptive_avg_pool2d_bwd_" + CudaBackend.suffix(gradIn.dtype()), gradIn.numel(), a);
        }
    }

    private static KernelArgs window(KernelArgs a, Window w) {
        return a.i32(w.kh()).i32(w.kw()).i32(w.sh()).i32(w.sw()).i32(w.ph()).i32(w.pw()).i32(w.dh()).i32(w.dw());
    }

    /** t as a contiguous NCHW tensor of a floating dtype (like's, when given) whose planes index with int. */
    private static int[] plane(String op, String name, Tensor t, Tensor like) {
        if (t.dim() != 4) throw new IllegalArgumentException(op + ": " + name + " must be [N, C, H, W], got " + Shapes.str(t.shape()));
        if (!t.dtype().isFloating()) throw new IllegalArgumentException(op + ": " + name + " needs a floating dtype, got " + t.dtype());
        if (like != null && t.dtype() != like.dtype()) throw new IllegalArgumentException(op + ": " + name + " is " + t.dtype() + ", expected " + like.dtype());
        CudaTensors.requireContiguous(t, op + " " + name);
        int[] s = t.shape();
        if ((long) s[2] * s[3] > Integer.MAX_VALUE) throw new IllegalArgumentException(op + ": " + name + " planes of " + s[2] + "x" + s[3] + " exceed int indexing");
        return s;
    }

    private static void batch(String op, int[] in, int[] out) {
        if (in[0] != out[0] || in[1] != out[1]) {
            throw new IllegalArgumentException(op + ": input " + Shapes.str(in) + " and output " + Shapes.str(out) + " differ in N or C");
        }
    }

    private static void sameShape(String op, String name, Tensor t, int[] shape) {
        if (!java.util.Arrays.equals(t.shape(), shape)) throw new IllegalArgumentException(op + ": " + name + " " + Shapes.str(t.shape()) + " must be " + Shapes.str(shape));
        CudaTensors.requireContiguous(t, op + " " + name);
    }

    private static void undilated(String op, Window w) {
        if (w.dh() != 1 || w.dw() != 1) throw new IllegalArgumentException(op + ": average pooling has no dilation, got " + w.dh() + "x" + w.dw());
    }

    private static void adaptive(String op, int[] in, int[] out) {
        if (in[2] < 1 || in[3] < 1 || out[2] < 1 || out[3] < 1) {
            throw new IllegalArgumentException(op + ": input " + Shapes.str(in) + " and output " + Shapes.str(out) + " need non-empty planes");
        }
    }
}
