package dev.lumen.backend.cuda;

import dev.lumen.backend.OutlookKernels;
import dev.lumen.cuda.CudaContext;
import dev.lumen.cuda.OutlookCuda;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * {@link OutlookKernels} on the device: outlook_attention.cu through {@link OutlookCuda}, one
 * launch per output, queued on the compute stream. Every dtype computes in float but F64, which
 * computes in double. The kernels are gathers, so the result does not depend on block order.
 */
final class CudaOutlook implements OutlookKernels {
    private final CudaContext ctx;

    CudaOutlook(CudaContext ctx) { this.ctx = ctx; }

    /** The launch shape of v [B,H,W,C] and logits [B,h,w,heads,k*k,k*k], after checking them. */
    private static OutlookCuda.Shape shape(Tensor v, Tensor logits, int kernel, int padding, int stride, Tensor... others) {
        int[] vs = v.shape(), ls = logits.shape();
        if (vs.length != 4 || ls.length != 6) {
            throw new IllegalArgumentException("outlook: v must be [B,H,W,C] and logits [B,h,w,heads,k*k,k*k], got "
                    + Arrays.toString(vs) + " and " + Arrays.toString(ls));
        }
        OutlookCuda.Shape s = new OutlookCuda.Shape(vs[0], vs[1], vs[2], vs[3], ls[3], kernel, padding, stride);
        int kk = kernel * kernel;
        if (ls[0] != vs[0] || ls[1] != s.h() || ls[2] != s.w() || ls[4] != kk || ls[5] != kk) {
            throw new IllegalArgumentException("outlook: logits " + Arrays.toString(ls) + " do not fit v " + Arrays.toString(vs)
                    + " with kernel " + kernel + ", padding " + padding + ", stride " + stride);
        }
        CudaTensors.requireContiguous(v, "outlook v");
        CudaTensors.requireContiguous(logits, "outlook logits");
        CudaTensors.requireDType(v.dtype(), "outlook", logits);
        for (Tensor t : others) {
            if (t == null) continue;
            CudaTensors.requireContiguous(t, "outlook");
            CudaTensors.requireDType(v.dtype(), "outlook", t);
        }
        return s;
    }

    private static void requireShape(Tensor t, int[] shape, String what) {
        if (t != null && !Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException("outlook: " + what + " must be " + Arrays.toString(shape) + ", got " + Arrays.toString(t.shape()));
        }
    }

    @Override
    public void outlookForward(Tensor v, Tensor logits, int kernel, int padding, int stride, double scale, Tensor out) {
        OutlookCuda.Shape s = shape(v, logits, kernel, padding, stride, out);
        requireShape(out, v.shape(), "out");
        if (out.numel() == 0) return;
        OutlookCuda.forward(ctx, v.dtype(), s, CudaTensors.ptr(v), CudaTensors.ptr(logits), scale, CudaTensors.ptr(out));
    }

    @Override
    public void outlookBackward(Tensor v, Tensor logits, Tensor gradOut, int kernel, int padding, int stride, double scale,
                                Tensor gradV, Tensor gradLogits) {
        OutlookCuda.Shape s = shape(v, logits, kernel, padding, stride, gradOut, gradV, gradLogits);
        requireShape(gradOut, v.shape(), "gradOut");
        requireShape(gradV, v.shape(), "gradV");
        requireShape(gradLogits, logits.shape(), "gradLogits");
        if (v.numel() == 0) return;
        if (gradV != null) {
            OutlookCuda.backwardV(ctx, v.dtype(), s, CudaTensors.ptr(logits), CudaTensors.ptr(gradOut), scale, CudaTensors.ptr(gradV));
        }
        if (gradLogits != null) {
            OutlookCuda.backwardLogits(ctx, v.dtype(), s, CudaTensors.ptr(v), CudaTensors.ptr(logits), CudaTensors.ptr(gradOut), scale,
                    CudaTensors.ptr(gradLogits));
        }
    }
}
