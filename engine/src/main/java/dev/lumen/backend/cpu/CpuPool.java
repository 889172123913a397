package dev.lumen.backend.cpu;

import dev.lumen.backend.ConvKernels.Window;
import dev.lumen.backend.PoolKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * CPU implementation of {@link PoolKernels}: one (n, c) plane per task, so backward scatters
 * never race. Pooling is memory-bound; the loops read each input once per window it is in.
 */
final class CpuPool implements PoolKernels {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE;

    private static double ld(MemorySegment s, boolean f32, long i) { return f32 ? s.getAtIndex(F, i) : s.getAtIndex(D, i); }

    private static void st(MemorySegment s, boolean f32, long i, double v) {
        if (f32) s.setAtIndex(F, i, (float) v);
        else s.setAtIndex(D, i, v);
    }

    /** Body over one plane: input plane offset, output plane offset. */
    private interface PlaneBody {
        void run(long in, long out);
    }

    /** Runs body for each of planes (n*c) planes of inSize and outSize elements. */
    private static void planes(long planes, long inSize, long outSize, long inOff, long outOff, long work, PlaneBody body) {
        Parallel.forRange(planes, Math.max(1, 32768 / Math.max(work, 1)), (lo, hi) -> {
            for (long p = lo; p < hi; p++) body.run(inOff + p * inSize, outOff + p * outSize);
        });
    }

    @Override
    public void maxPool2d(Tensor x, Window w, Tensor out, Tensor indices) {
        int[] s = x.shape(), o = out.shape();
        int h = s[2], wd = s[3], oh = o[2], ow = o[3];
        boolean f32 = x.dtype() == DType.F32;
        MemorySegment xs = x.storage().segment(), os = out.storage().segment(), is = indices.storage().segment();
        long idxBase = indices.offset() - out.offset();
        planes((long) s[0] * s[1], (long) h * wd, (long) oh * ow, x.offset(), out.offset(), (long) h * wd, (in, op) -> {
            for (int r = 0; r < oh; r++) {
                int h0 = r * w.sh() - w.ph(), h1 = Math.min(h0 + (w.kh() - 1) * w.dh() + 1, h);
                while (h0 < 0) h0 += w.dh();
                for (int c = 0; c < ow; c++) {
                    int w0 = c * w.sw() - w.pw(), w1 = Math.min(w0 + (w.kw() - 1) * w.dw() + 1, wd);
                    while (w0 < 0) w0 += w.dw();
                    long best = (long) h0 * wd + w0;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int ih = h0; ih < h1; ih += w.dh()) {
                        for (int iw = w0; iw < w1; iw += w.dw()) {
                            long at = (long) ih * wd + iw;
                            double v = ld(xs, f32, in + at);
                            // NaN wins, as in torch.
                            if (v > max || Double.isNaN(v)) {
                                max = v;
                                best = at;
                            }
                        }
                    }
                    long k = op + (long) r * ow + c;
                    st(os, f32, k, max);
                    is.setAtIndex(ValueLayout.JAVA_LONG, idxBase + k, best);
                }
            }
        });
    }

    @Override
    public void maxPool2dBackward(Tensor gradOut, Tensor indices, Tensor gradIn) {
        int[] s = gradIn.shape(), o = gradOut.shape();
        long inSize = (long) s[2] * s[3], outSize = (long) o[2] * o[3];
        boolean f32 = gradIn.dtype() == DType.F32;
        MemorySegment gs = gradOut.storage().segment(), is = indices.storage().segment(), xs = gradIn.storage().segment();
        long idxBase = indices.offset() - gradOut.offset();
        planes((long) s[0] * s[1], outSize, inSize, gradOut.offset(), gradIn.offset(), inSize, (go, gi) -> {
            ConvColumns.zero(xs, gi, inSize, f32 ? 4 : 8);
            for (long k = 0; k < outSize; k++) {
                long at = gi + is.getAtIndex(ValueLayout.JAVA_LONG, idxBase + go + k);
                st(xs, f32, at, ld(xs, f32, at) + ld(gs, f32, go + k));
            }
        });
    }

    /** torch's average-pool window: rows/cols clamped to the input, and the divisor. */
    private static double divisor(int h0, int h1raw, int w0, int w1raw, int hc0, int hc1, int wc0, int wc1, boolean includePad) {
        return includePad ? (double) (h1raw - h0) * (w1raw - w0) : (double) (hc1 - hc0) * (wc1 - wc0);
    }

    @Override
    public void avgPool2d(Tensor x, Window w, boolean countIncludePad, Tensor out) {
        int[] s = x.shape(), o = out.shape();
        int h = s[2], wd = s[3], oh = o[2], ow = o[3];
        boolean f32 = x.dtype() == DType.F32;
        MemorySegment xs = x.storage().segment(), os = out.storage().segment();
        planes((long) s[0] * s[1], (long) h * wd, (long) oh * ow, x.offset(), out.offset(), (long) h * wd, (in, op) -> {
            for (int r = 0; r < oh; r++) {
                int h0 = r * w.sh() - w.ph(), h1 = Math.min(h0 + w.kh(), h + w.ph());
                int hc0 = Math.max(h0, 0), hc1 = Math.min(h1, h);
                for (int c = 0; c < ow; c++) {
                    int w0 = c * w.sw() - w.pw(), w1 = Math.min(w0 + w.kw(), wd + w.pw());
                    int wc0 = Math.max(w0, 0), wc1 = Math.min(w1, wd);
                    long k = op + (long) r * ow + c;
                    if (hc0 >= hc1 || wc0 >= wc1) {
                        st(os, f32, k, 0);
                        continue;
                    }
                    double sum = 0;
                    for (int ih = hc0; ih < hc1; ih++) {
                        long row = in + (long) ih * wd;
                        for (int iw = wc0; iw < wc1; iw++) sum += ld(xs, f32, row + iw);
                    }
                    st(os, f32, k, sum / divisor(h0, h1, w0, w1, hc0, hc1, wc0, wc1, countIncludePad));
                }
            }
        });
    }

    @Override
    public void avgPool2dBackward(Tensor gradOut, Window w, boolean countIncludePad, Tensor gradIn) {
        int[] s = gradIn.shape(), o = gradOut.shape();
        int h = s[2], wd = s[3], oh = o[2], ow = o[3];
        boolean f32 = gradIn.dtype() == DType.F32;
        MemorySegment gs = gradOut.storage().segment(), xs = gradIn.storage().segment();
        planes((long) s[0] * s[1], (long) oh * ow, (long) h * wd, gradOut.offset(), gradIn.offset(), (long) h * wd, (go, gi) -> {
            ConvColumns.zero(xs, gi, (long) h * wd, f32 ? 4 : 8);
            for (int r = 0; r < oh; r++) {
                int h0 = r * w.sh() - w.ph(), h1 = Math.min(h0 + w.kh(), h + w.ph());
                int hc0 = Math.max(h0, 0), hc1 = Math.min(h1, h);
                for (int c = 0; c < ow; c++) {
                    int w0 = c * w.sw() - w.pw(), w1 = Math.min(w0 + w.kw(), wd + w.pw());
                    int wc0 = Math.max(w0, 0), wc1 = Math.min(w1, wd);
                    if (hc0 >= hc1 || wc0 >= wc1) continue;
                    double v = ld(gs, f32, go + (long) r * ow + c) / divisor(h0, h1, w0, w1, hc0, hc1, wc0, wc1, countIncludePad);
                    for (int ih = hc0; ih < hc1; ih++) {
                        long row = gi + (long) ih * wd;
                        for (int iw = wc0; iw < wc1; iw++) st(xs, f32, row + iw, ld(xs, f32, row + iw) + v);
                    }
                }
            }
        });
    }

    private static int start(int o, int in, int out) { return (int) ((long) o * in / out); }

    private static int end(int o, int in, int out) { return (int) (((long) (o + 1) * in + out - 1) / out); }

    @Override
    public void adaptiveAvgPool2d(Tensor x, Tensor out) {
        int[] s = x.shape(), o = out.shape();
        int h = s[2], wd = s[3], oh = o[2], ow = o[3];
        boolean f32 = x.dtype() == DType.F32;
        MemorySegment xs = x.storage().segment(), os = out.storage().segment();
        long plane = (long) h * wd;
        planes((long) s[0] * s[1], plane, (long) oh * ow, x.offset(), out.offset(), plane, (in, op) -> {
            if (oh == 1 && ow == 1) {
                // Global average pooling: one contiguous sum per plane.
                st(os, f32, op, (f32 ? CpuConv.sumF32(xs, in, plane) : CpuConv.sumF64(xs, in, plane)) / plane);
                return;
            }
            for (int r = 0; r < oh; r++) {
                int h0 = start(r, h, oh), h1 = end(r, h, oh);
                for (int c = 0; c < ow; c++) {
                    int w0 = start(c, wd, ow), w1 = end(c, wd, ow);
                    double sum = 0;
                    for (int ih = h0; ih < h1; ih++) for (int iw = w0; iw < w1; iw++) sum += ld(xs, f32, in + (long) ih * wd + iw);
                    st(os, f32, op + (long) r * ow + c, sum / ((double) (h1 - h0) * (w1 - w0)));
                }
            }
        });
    }

    @Override
    public void adaptiveAvgPool2dBackward(Tensor gradOut, Tensor gradIn) {
        int[] s = gradIn.shape(), o = gradOut.shape();
        int h = s[2], wd = s[3], oh = o[2], ow = o[3];
        boolean f32 = gradIn.dtype() == DType.F32;
        MemorySegment gs = gradOut.storage().segment(), xs = gradIn.storage().segment();
        long plane = (long) h * wd;
        planes((long) s[0] * s[1], (long) oh * ow, plane, gradOut.offset(), gradIn.offset(), plane, (go, gi) -> {
            if (oh == 1 && ow == 1) {
                double v = ld(gs, f32, go) / plane;
                for (long q = 0; q < plane; q++) st(xs, f32, gi + q, v);
                return;
            }
            ConvColumns.zero(xs, gi, plane, f32 ? 4 : 8);
            for (int r = 0; r < oh; r++) {
                int h0 = start(r, h, oh), h1 = end(r, h, oh);
                for (int c = 0; c < ow; c++) {
                    int w0 = start(c, wd, ow), w1 = end(c, wd, ow);
                    double v = ld(gs, f32, go + (long) r * ow + c) / ((double) (h1 - h0) * (w1 - w0));
                    for (int ih = h0; ih < h1; ih++) {
                        for (int iw = w0; iw < w1; iw++) {
                            long at = gi + (long) ih * wd + iw;
                            st(xs, f32, at, ld(xs, f32, at) + v);
                        }
                    }
                }
            }
        });
    }
}
