package dev.lumen.backend.cpu;

import dev.lumen.backend.ResizeKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.HostAccess;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * CPU implementation of {@link ResizeKernels}. Every mode is separable: each output row and
 * column has a few source taps with weights, computed once per call; one task per (n, c)
 * plane then sums taps (forward) or spreads the gradient over them (backward, race-free
 * because planes are disjoint).
 */
final class CpuResize implements ResizeKernels {
    private static final double CUBIC_A = -0.75;

    /** For each output position, taps source indices idx[o*n + k] with weights w[o*n + k]. */
    record Taps(int n, int[] idx, double[] w) {}

    /**
     * PyTorch's source coordinates. For F32 the scale and coordinate are rounded to float as
     * PyTorch computes them, so that nearest picks the same pixel and weights agree to ~1e-7.
     */
    static Taps taps(Mode mode, int in, int out, boolean alignCorners, boolean f32) {
        return switch (mode) {
            case NEAREST -> {
                int[] idx = new int[out];
                // torch: float scale = in / out; src = min(floorf(dst * scale), in - 1).
                float scale = (float) in / (float) out;
                for (int o = 0; o < out; o++) idx[o] = out == in ? o : Math.min((int) Math.floor((float) o * scale), in - 1);
                double[] w = new double[out];
                java.util.Arrays.fill(w, 1);
                yield new Taps(1, idx, w);
            }
            case BILINEAR -> {
                int[] idx = new int[2 * out];
                double[] w = new double[2 * out];
                double scale = scale(in, out, alignCorners, f32);
                for (int o = 0; o < out; o++) {
                    if (in == out) {
                        idx[2 * o] = idx[2 * o + 1] = o;
                        w[2 * o] = 1;
                        continue;
                    }
                    double src = source(scale, o, alignCorners, f32);
                    if (src < 0) src = 0;
                    int i0 = Math.min((int) src, in - 1);
                    double l1 = Math.min(Math.max(src - i0, 0), 1);
                    if (f32) l1 = (float) l1;
                    idx[2 * o] = i0;
                    idx[2 * o + 1] = i0 < in - 1 ? i0 + 1 : i0;
                    w[2 * o] = 1 - l1;
                    w[2 * o + 1] = l1;
                }
                yield new Taps(2, idx, w);
            }
            case BICUBIC -> {
                int[] idx = new int[4 * out];
                double[] w = new double[4 * out];
                double scale = scale(in, out, alignCorners, f32);
                for (int o = 0; o < out; o++) {
                    double src = source(scale, o, alignCorners, f32);
                    int i = (int) Math.floor(src);
                    double t = src - i;
                    if (f32) t = (float) t;
                    double[] c = {cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)};
                    for (int k = 0; k < 4; k++) {
                        idx[4 * o + k] = Math.min(Math.max(i - 1 + k, 0), in - 1);
                        w[4 * o + k] = c[k];
                    }
                }
                yield new Taps(4, idx, w);
            }
        };
    }

    private static double scale(int in, int out, boolean alignCorners, boolean f32) {
        double s = alignCorners ? (out > 1 ? (in - 1) / (double) (out - 1) : 0) : in / (double) out;
        return f32 ? (float) s : s;
    }

    private static double source(double scale, int o, boolean alignCorners, boolean f32) {
        double s = alignCorners ? scale * o : scale * (o + 0.5) - 0.5;
        return f32 ? (float) s : s;
    }

    /** Keys' cubic convolution for |x| <= 1. */
    private static double cubic1(double x) { return ((CUBIC_A + 2) * x - (CUBIC_A + 3)) * x * x + 1; }

    /** Keys' cubic convolution for 1 < |x| < 2. */
    private static double cubic2(double x) { return ((CUBIC_A * x - 5 * CUBIC_A) * x + 8 * CUBIC_A) * x - 4 * CUBIC_A; }

    @Override
    public void interpolateForward(Tensor x, Mode mode, boolean alignCorners, Tensor out) {
        int[] xs = x.shape(), os = out.shape();
        int c = xs[1], h = xs[2], w = xs[3], oh = os[2], ow = os[3];
        boolean f32 = x.dtype() == DType.F32;
        Taps ty = taps(mode, h, oh, alignCorners, f32), tx = taps(mode, w, ow, alignCorners, f32);
        MemorySegment xm = x.storage().segment(), om = out.storage().segment();
        DType t = x.dtype();
        int[] st = x.strides(), ost = out.strides();
        long xo = x.offset(), oo = out.offset();
        int ny = ty.n(), nx = tx.n();
        Parallel.forRange((long) xs[0] * c, Math.max(1, 4096 / Math.max(1, (long) oh * ow)), (lo, hi) -> {
            for (long p = lo; p < hi; p++) {
                long xb = xo + (p / c) * st[0] + (p % c) * st[1], ob = oo + (p / c) * ost[0] + (p % c) * ost[1];
                for (int y = 0; y < oh; y++) {
                    for (int xx = 0; xx < ow; xx++) {
                        double acc = 0;
                        for (int i = 0; i < ny; i++) {
                            double wy = ty.w()[y * ny + i];
                            long row = xb + (long) ty.idx()[y * ny + i] * st[2];
                            double r = 0;
                            for (int j = 0; j < nx; j++) r += tx.w()[xx * nx + j] * HostAccess.get(xm, t, row + (long) tx.idx()[xx * nx + j] * st[3]);
                            acc += wy * r;
                        }
                        HostAccess.set(om, t, ob + (long) y * ost[2] + (long) xx * ost[3], acc);
                    }
                }
            }
        });
    }

    @Override
    public void interpolateBackward(Tensor gradOut, Mode mode, boolean alignCorners, Tensor gradX) {
        int[] xs = gradX.shape(), os = gradOut.shape();
        int c = xs[1], h = xs[2], w = xs[3], oh = os[2], ow = os[3];
        boolean f32 = gradX.dtype() == DType.F32;
        Taps ty = taps(mode, h, oh, alignCorners, f32), tx = taps(mode, w, ow, alignCorners, f32);
        MemorySegment gm = gradOut.storage().segment(), xm = gradX.storage().segment();
        DType t = gradX.dtype();
        int[] gst = gradOut.strides(), st = gradX.strides();
        long go = gradOut.offset(), xo = gradX.offset();
        int ny = ty.n(), nx = tx.n();
        Parallel.forRange((long) xs[0] * c, Math.max(1, 4096 / Math.max(1, (long) oh * ow)), (lo, hi) -> {
            double[] plane = new double[h * w];
            for (long p = lo; p < hi; p++) {
                java.util.Arrays.fill(plane, 0);
                long gb = go + (p / c) * gst[0] + (p % c) * gst[1], xb = xo + (p / c) * st[0] + (p % c) * st[1];
                for (int y = 0; y < oh; y++) {
                    for (int xx = 0; xx < ow; xx++) {
                        double g = HostAccess.get(gm, t, gb + (long) y * gst[2] + (long) xx * gst[3]);
                        for (int i = 0; i < ny; i++) {
                            double gy = g * ty.w()[y * ny + i];
                            int row = ty.idx()[y * ny + i] * w;
                            for (int j = 0; j < nx; j++) plane[row + tx.idx()[xx * nx + j]] += gy * tx.w()[xx * nx + j];
                        }
                    }
                }
                for (int y = 0; y < h; y++) {
                    for (int xx = 0; xx < w; xx++) HostAccess.set(xm, t, xb + (long) y * st[2] + (long) xx * st[3], plane[y * w + xx]);
                }
            }
        });
    }
}
