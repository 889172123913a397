package dev.lumen.backend.cpu;

import dev.lumen.backend.ConvKernels.Window;
import dev.lumen.backend.PoolKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.HostAccess;
import dev.lumen.tensor.ChannelsLast;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * CPU implementation of {@link PoolKernels}: one (n, c) plane per task, so backward scatters
 * never race. F32 max pooling runs in {@link MaxPoolF32}, vectorized over output columns. Here
 * each plane is read once into a double[] and written once from one: the window loops, which
 * touch every input several times, then run over plain arrays.
 */
final class CpuPool implements PoolKernels {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE;

    private static double ld(MemorySegment s, boolean f32, long i) { return f32 ? s.getAtIndex(F, i) : s.getAtIndex(D, i); }

    private static void st(MemorySegment s, boolean f32, long i, double v) {
        if (f32) s.setAtIndex(F, i, (float) v);
        else s.setAtIndex(D, i, v);
    }

    /** Body over one plane: src holds the input plane, dst receives the output plane; p is the plane number; aux is scratch. */
    private interface PlaneBody {
        void run(long p, double[] src, double[] dst, long[] aux);
    }

    /** Runs body for each of the planes (n*c) of in (inSize elements each) into out (outSize each). */
    private static void planes(long planes, Tensor in, int inSize, Tensor out, int outSize, PlaneBody body) {
        boolean f32 = in.dtype() == DType.F32;
        MemorySegment is = in.storage().segment(), os = out.storage().segment();
        long inOff = in.offset(), outOff = out.offset();
        Parallel.forRange(planes, Math.max(1, 32768 / Math.max(inSize + outSize, 1)), (lo, hi) -> {
            double[] src = new double[inSize], dst = new double[outSize];
            long[] aux = new long[Math.max(inSize, outSize)];
            for (long p = lo; p < hi; p++) {
                long a = inOff + p * inSize, b = outOff + p * outSize;
                if (f32) for (int q = 0; q < inSize; q++) src[q] = is.getAtIndex(F, a + q);
                else MemorySegment.copy(is, D, a * 8, src, 0, inSize);
                body.run(p, src, dst, aux);
                if (f32) for (int q = 0; q < outSize; q++) os.setAtIndex(F, b + q, (float) dst[q]);
                else MemorySegment.copy(dst, 0, os, D, b * 8, outSize);
            }
        });
    }

    @Override
    public void maxPool2d(Tensor x, Window w, Tensor out, Tensor indices) {
        int[] s = x.shape(), o = out.shape();
        int h = s[2], wd = s[3], oh = o[2], ow = o[3];
        MemorySegment is = indices.storage().segment();
        long idxOff = indices.offset();
        if (x.dtype() == DType.F32) {
            MaxPoolF32.forward(x.storage().segment(), x.offset(), out.storage().segment(), out.offset(), is, idxOff, (long) s[0] * s[1], h, wd,
                    oh, ow, w);
            return;
        }
        planes((long) s[0] * s[1], x, h * wd, out, oh * ow, (p, in, res, idx) -> {
            for (int r = 0; r < oh; r++) {
                int h0 = r * w.sh() - w.ph(), h1 = Math.min(h0 + (w.kh() - 1) * w.dh() + 1, h);
                while (h0 < 0) h0 += w.dh();
                for (int c = 0; c < ow; c++) {
                    int w0 = c * w.sw() - w.pw(), w1 = Math.min(w0 + (w.kw() - 1) * w.dw() + 1, wd);
                    while (w0 < 0) w0 += w.dw();
                    int best = h0 * wd + w0;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int ih = h0; ih < h1; ih += w.dh()) {
                        for (int iw = w0, at = ih * wd + w0; iw < w1; iw += w.dw(), at += w.dw()) {
                            double v = in[at];
                            // NaN wins, as in torch (v != v only for NaN).
                            if (v > max || v != v) {
                                max = v;
                                best = at;
                            }
                        }
                    }
                    res[r * ow + c] = max;
                    idx[r * ow + c] = best;
                }
            }
            MemorySegment.copy(idx, 0, is, ValueLayout.JAVA_LONG, (idxOff + p * oh * ow) * 8, oh * ow);
        });
    }

    @Override
    public void maxPool2dBackward(Tensor gradOut, Tensor indices, Window w, Tensor gradIn) {
        int[] s = gradIn.shape(), o = gradOut.shape();
        int inSize = s[2] * s[3], outSize = o[2] * o[3];
        MemorySegment is = indices.storage().segment();
        long idxOff = indices.offset();
        if (gradOut.dtype() == DType.F32) {
            MaxPoolF32.backward(gradOut.storage().segment(), gradOut.offset(), is, idxOff, gradIn.storage().segment(), gradIn.offset(),
                    (long) s[0] * s[1], inSize, outSize);
            return;
        }
        planes((long) s[0] * s[1], gradOut, outSize, gradIn, inSize, (p, g, res, idx) -> {
            MemorySegment.copy(is, ValueLayout.JAVA_LONG, (idxOff + p * outSize) * 8, idx, 0, outSize);
            java.util.Arrays.fill(res, 0);
            for (int k = 0; k < outSize; k++) res[(int) idx[k]] += g[k];
        });
    }

    /** torch's average-pool window: rows/cols clamped to the input, and the divisor. */
    /**
     * One output cell's average-pooling window, shared by the four average kernels so that they
     * sum and divide alike: rows [h0, h1) and columns [w0, w1) reach into the padding, and
     * [hc0, hc1) x [wc0, wc1) is their part inside the input. The divisor counts the padded
     * positions when includePad (torch's rules at the borders).
     */
    private static final class AvgCell {
        private final Window w;
        private final int h, wd;
        private final boolean includePad;
        int hc0, hc1, wc0, wc1;
        double divisor;

        AvgCell(Window w, int h, int wd, boolean includePad) {
            this.w = w;
            this.h = h;
            this.wd = wd;
            this.includePad = includePad;
        }

        /** Sets the window of output (r, c); false when it covers no input pixel. */
        boolean at(int r, int c) {
            int h0 = r * w.sh() - w.ph(), h1 = Math.min(h0 + w.kh(), h + w.ph());
            int w0 = c * w.sw() - w.pw(), w1 = Math.min(w0 + w.kw(), wd + w.pw());
            hc0 = Math.max(h0, 0);
            hc1 = Math.min(h1, h);
            wc0 = Math.max(w0, 0);
            wc1 = Math.min(w1, wd);
            if (hc0 >= hc1 || wc0 >= wc1) return false;
            divisor = includePad ? (double) (h1 - h0) * (w1 - w0) : (double) (hc1 - hc0) * (wc1 - wc0);
            return true;
        }
    }

    @Override
    public boolean avgPoolChannelsLast() { return true; }

    @Override
    public void avgPool2d(Tensor x, Window w, boolean countIncludePad, Tensor out) {
        if (ChannelsLast.is(x)) {
            avgPool2dChannelsLast(x, w, countIncludePad, out);
            return;
        }
        int[] s = x.shape(), o = out.shape();
        int h = s[2], wd = s[3], oh = o[2], ow = o[3];
        planes((long) s[0] * s[1], x, h * wd, out, oh * ow, (p, in, res, aux) -> {
            AvgCell cell = new AvgCell(w, h, wd, countIncludePad);
            for (int r = 0; r < oh; r++) {
                for (int c = 0; c < ow; c++) {
                    if (!cell.at(r, c)) {
                        res[r * ow + c] = 0;
                        continue;
                    }
                    double sum = 0;
                    for (int ih = cell.hc0; ih < cell.hc1; ih++) for (int iw = cell.wc0; iw < cell.wc1; iw++) sum += in[ih * wd + iw];
                    res[r * ow + c] = sum / cell.divisor;
                }
            }
        });
    }

    @Override
    public void avgPool2dBackward(Tensor gradOut, Window w, boolean countIncludePad, Tensor gradIn) {
        if (ChannelsLast.is(gradIn)) {
            avgPool2dBackwardChannelsLast(gradOut, w, countIncludePad, gradIn);
            return;
        }
        int[] s = gradIn.shape(), o = gradOut.shape();
        int h = s[2], wd = s[3], oh = o[2], ow = o[3];
        planes((long) s[0] * s[1], gradOut, oh * ow, gradIn, h * wd, (p, g, res, aux) -> {
            java.util.Arrays.fill(res, 0);
            AvgCell cell = new AvgCell(w, h, wd, countIncludePad);
            for (int r = 0; r < oh; r++) {
                for (int c = 0; c < ow; c++) {
                    if (!cell.at(r, c)) continue;
                    double v = g[r * ow + c] / cell.divisor;
                    for (int ih = cell.hc0; ih < cell.hc1; ih++) for (int iw = cell.wc0; iw < cell.wc1; iw++) res[ih * wd + iw] += v;
                }
            }
        });
    }

    /**
     * avgPool2d on channels-last x and out, one image per task: each window sums its pixels' channel
     * rows in double, in the order the NCHW path sums a plane's window, so the two give the same bits.
     */
    private static void avgPool2dChannelsLast(Tensor x, Window w, boolean countIncludePad, Tensor out) {
        requireChannelsLast("avg_pool2d", x, out);
        int[] s = x.shape(), o = out.shape();
        int ch = s[1], h = s[2], wd = s[3], oh = o[2], ow = o[3];
        DType t = x.dtype();
        MemorySegment xs = x.storage().segment(), os = out.storage().segment();
        long xo = x.offset(), oo = out.offset();
        Parallel.forRange(s[0], 1, (lo, hi) -> {
            double[] acc = new double[ch];
            AvgCell cell = new AvgCell(w, h, wd, countIncludePad);
            for (long img = lo; img < hi; img++) {
                for (int r = 0; r < oh; r++) {
                    for (int c = 0; c < ow; c++) {
                        long to = oo + ((img * oh + r) * ow + c) * ch;
                        if (!cell.at(r, c)) {
                            for (int k = 0; k < ch; k++) HostAccess.set(os, t, to + k, 0);
                            continue;
                        }
                        java.util.Arrays.fill(acc, 0);
                        for (int ih = cell.hc0; ih < cell.hc1; ih++) {
                            for (int iw = cell.wc0; iw < cell.wc1; iw++) {
                                long at = xo + ((img * h + ih) * wd + iw) * ch;
                                for (int k = 0; k < ch; k++) acc[k] += HostAccess.get(xs, t, at + k);
                            }
                        }
                        for (int k = 0; k < ch; k++) HostAccess.set(os, t, to + k, acc[k] / cell.divisor);
                    }
                }
            }
        });
    }

    /** avgPool2dBackward on channels-last gradOut and gradIn; the same sums, in the same order, as the NCHW path. */
    private static void avgPool2dBackwardChannelsLast(Tensor gradOut, Window w, boolean countIncludePad, Tensor gradIn) {
        requireChannelsLast("avg_pool2d backward", gradOut, gradIn);
        int[] s = gradIn.shape(), o = gradOut.shape();
        int ch = s[1], h = s[2], wd = s[3], oh = o[2], ow = o[3];
        DType t = gradIn.dtype();
        MemorySegment gs = gradOut.storage().segment(), is = gradIn.storage().segment();
        long go = gradOut.offset(), io = gradIn.offset();
        Parallel.forRange(s[0], 1, (lo, hi) -> {
            double[] res = new double[h * wd * ch];
            AvgCell cell = new AvgCell(w, h, wd, countIncludePad);
            for (long img = lo; img < hi; img++) {
                java.util.Arrays.fill(res, 0);
                for (int r = 0; r < oh; r++) {
                    for (int c = 0; c < ow; c++) {
                        if (!cell.at(r, c)) continue;
                        long from = go + ((img * oh + r) * ow + c) * ch;
                        for (int k = 0; k < ch; k++) {
                            double v = HostAccess.get(gs, t, from + k) / cell.divisor;
                            for (int ih = cell.hc0; ih < cell.hc1; ih++) {
                                for (int iw = cell.wc0; iw < cell.wc1; iw++) res[(ih * wd + iw) * ch + k] += v;
                            }
                        }
                    }
                }
                long to = io + img * h * wd * ch;
                for (int q = 0; q < res.length; q++) HostAccess.set(is, t, to + q, res[q]);
            }
        });
    }

    private static void requireChannelsLast(String op, Tensor a, Tensor b) {
        if (!ChannelsLast.is(a) || !ChannelsLast.is(b)) {
            throw new IllegalArgumentException(op + " kernel: channels-last takes both tensors channels-last, got strides "
                    + java.util.Arrays.toString(a.strides()) + " and " + java.util.Arrays.toString(b.strides()));
        }
    }

    private static int start(int o, int in, int out) { return (int) ((long) o * in / out); }

    private static int end(int o, int in, int out) { return (int) (((long) (o + 1) * in + out - 1) / out); }

    @Override
    public void adaptiveAvgPool2d(Tensor x, Tensor out) {
        int[] s = x.shape(), o = out.shape();
        int h = s[2], wd = s[3], oh = o[2], ow = o[3];
        long planes = (long) s[0] * s[1];
        if (oh == 1 && ow == 1) {
            // Global average pooling: one contiguous (vectorized, for F32) sum per plane.
            boolean f32 = x.dtype() == DType.F32;
            MemorySegment xs = x.storage().segment(), os = out.storage().segment();
            long plane = (long) h * wd;
            Parallel.forRange(planes, Math.max(1, 32768 / plane), (lo, hi) -> {
                for (long p = lo; p < hi; p++) {
                    long at = x.offset() + p * plane;
                    st(os, f32, out.offset() + p, (f32 ? CpuConv.sumF32(xs, at, plane) : CpuConv.sumF64(xs, at, plane)) / plane);
                }
            });
            return;
        }
        planes(planes, x, h * wd, out, oh * ow, (p, in, res, aux) -> {
            for (int r = 0; r < oh; r++) {
                int h0 = start(r, h, oh), h1 = end(r, h, oh);
                for (int c = 0; c < ow; c++) {
                    int w0 = start(c, wd, ow), w1 = end(c, wd, ow);
                    double sum = 0;
                    for (int ih = h0; ih < h1; ih++) for (int iw = w0; iw < w1; iw++) sum += in[ih * wd + iw];
                    res[r * ow + c] = sum / ((double) (h1 - h0) * (w1 - w0));
                }
            }
        });
    }

    @Override
    public void adaptiveAvgPool2dBackward(Tensor gradOut, Tensor gradIn) {
        int[] s = gradIn.shape(), o = gradOut.shape();
        int h = s[2], wd = s[3], oh = o[2], ow = o[3];
        planes((long) s[0] * s[1], gradOut, oh * ow, gradIn, h * wd, (p, g, res, aux) -> {
            if (oh == 1 && ow == 1) {
                java.util.Arrays.fill(res, g[0] / ((double) h * wd));
                return;
            }
            java.util.Arrays.fill(res, 0);
            for (int r = 0; r < oh; r++) {
                int h0 = start(r, h, oh), h1 = end(r, h, oh);
                for (int c = 0; c < ow; c++) {
                    int w0 = start(c, wd, ow), w1 = end(c, wd, ow);
                    double v = g[r * ow + c] / ((double) (h1 - h0) * (w1 - w0));
                    for (int ih = h0; ih < h1; ih++) for (int iw = w0; iw < w1; iw++) res[ih * wd + iw] += v;
                }
            }
        });
    }
}
