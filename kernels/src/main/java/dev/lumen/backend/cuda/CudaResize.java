package dev.lumen.backend.cuda;

import dev.lumen.cuda.CudaContext;
import dev.lumen.backend.ResizeKernels;
import dev.lumen.cuda.KernelArgs;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.util.Arrays;

/**
 * CUDA implementation of {@link ResizeKernels} (kernels/cuda/resize.cu): the forward is one
 * thread per output pixel, the backward one thread per input pixel gathering the output
 * gradients whose taps reach it, so it is deterministic without atomics. Both take any strides.
 */
final class CudaResize implements ResizeKernels {
    private final CudaContext ctx;

    CudaResize(CudaContext ctx) { this.ctx = ctx; }

    @Override
    public void interpolateForward(Tensor x, Mode mode, boolean alignCorners, Tensor out) {
        check("interpolate", x, out);
        launch("resize_fwd_", x, out, x.shape(), out.shape(), mode, alignCorners);
    }

    @Override
    public void interpolateBackward(Tensor gradOut, Mode mode, boolean alignCorners, Tensor gradX) {
        check("interpolate_backward", gradX, gradOut);
        launch("resize_bwd_", gradOut, gradX, gradX.shape(), gradOut.shape(), mode, alignCorners);
    }

    /** image [N, C, H, W] and resized [N, C, outH, outW]: same N, C and floating dtype, on the device. */
    private static void check(String op, Tensor image, Tensor resized) {
        int[] is = image.shape(), rs = resized.shape();
        if (is.length != 4 || rs.length != 4 || is[0] != rs[0] || is[1] != rs[1]) {
            throw new IllegalArgumentException(op + ": expected [N, C, H, W] images with equal N and C, got "
                    + Arrays.toString(is) + " and " + Arrays.toString(rs));
        }
        if (image.dtype() != resized.dtype() || !image.dtype().isFloating()) {
            throw new IllegalArgumentException(op + ": needs two tensors of one floating dtype, got " + image.dtype() + " and " + resized.dtype());
        }
        if (resized.numel() > 0 && (is[2] == 0 || is[3] == 0)) {
            throw new IllegalArgumentException(op + ": cannot resize an empty image " + Arrays.toString(is) + " to " + Arrays.toString(rs));
        }
        CudaTensors.ptr(image);
        CudaTensors.ptr(resized);
    }

    /** One thread per element of dst; in and out are the image's and the resized image's shapes. */
    private void launch(String kernel, Tensor src, Tensor dst, int[] in, int[] out, Mode mode, boolean alignCorners) {
        long total = dst.numel();
        if (total == 0) return;
        int[] ss = src.strides(), ds = dst.strides();
        try (KernelArgs a = new KernelArgs()) {
            a.ptr(CudaTensors.ptr(src)).i64(ss[0]).i64(ss[1]).i64(ss[2]).i64(ss[3]);
            a.ptr(CudaTensors.ptr(dst)).i64(ds[0]).i64(ds[1]).i64(ds[2]).i64(ds[3]);
            a.i32(in[1]).i32(in[2]).i32(in[3]).i32(out[2]).i32(out[3]).i64(total).i32(mode.ordinal()).i32(alignCorners ? 1 : 0);
            Launch.elementwise(ctx, kernel + CudaBackend.suffix(src.dtype()), total, a);
        }
    }
}
