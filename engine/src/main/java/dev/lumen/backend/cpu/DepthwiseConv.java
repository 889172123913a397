package dev.lumen.backend.cpu;

import dev.lumen.backend.ConvKernels.Window;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Direct depth-wise convolution in F32 (groups == C == O, one filter per channel), for
 * kernels up to RepLKNet's 31x31, where im2col would multiply memory by kh*kw and each
 * group's GEMM would have a single row. Each (n, c) plane is copied into a zero-padded
 * buffer, so the inner loops have no bounds checks and run along the width with the
 * preferred vector species. The input gradient is the same correlation, of the gradient
 * spread out by the stride and padded, with the flipped filter; the weight gradient is a
 * dot product per filter tap.
 */
final class DepthwiseConv {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    private DepthwiseConv() {}

    /** Rows and (vector-slack padded) columns of the buffer a correlation with this output needs. */
    private static int rowsFor(int outH, int stride, int k, int d) { return (outH - 1) * stride + (k - 1) * d + 1; }

    private static int colsFor(int outW, int stride, int k, int d) { return (outW - 1) * stride + (k - 1) * d + 1 + 2 * L; }

    /**
     * Zeroes buf (rows x cols) and places src plane [h, w] in it: src[a][b] goes to
     * buf[r0 + a*rs][c0 + b*cs]; what falls outside is dropped.
     */
    private static void place(MemorySegment src, long off, int h, int w, float[] buf, int rows, int cols, int r0, int c0, int rs, int cs) {
        Arrays.fill(buf, 0, rows * cols, 0f);
        int bLo = c0 >= 0 ? 0 : (-c0 + cs - 1) / cs;
        int bHi = Math.min(w, Math.floorDiv(cols - 2 * L - 1 - c0, cs) + 1);
        if (bLo >= bHi) return;
        for (int a = 0; a < h; a++) {
            int r = r0 + a * rs;
            if (r < 0 || r >= rows) continue;
            long s = off + (long) a * w;
            int dst = r * cols + c0;
            if (cs == 1) {
                MemorySegment.copy(src, F, (s + bLo) * 4, buf, dst + bLo, bHi - bLo);
            } else {
                for (int b = bLo; b < bHi; b++) buf[dst + b * cs] = src.getAtIndex(F, s + b);
            }
        }
    }

    /** out[oh, ow] = bias + sum_ij k[i, j] * buf[oh*sh + i*dh, ow*sw + j*dw]. */
    private static void correlate(float[] buf, int cols, float[] k, int kh, int kw, int dh, int dw, int sh, int sw, float bias,
                                  int outH, int outW, MemorySegment out, long outOff) {
        for (int oh = 0; oh < outH; oh++) {
            long rowOut = outOff + (long) oh * outW;
            int ow = 0;
            if (sw == 1) {
                for (; ow < outW; ow += 2 * L) {
                    FloatVector a0 = FloatVector.broadcast(S, bias), a1 = a0;
                    for (int i = 0; i < kh; i++) {
                        int base = (oh * sh + i * dh) * cols + ow;
                        int kk = i * kw;
                        for (int j = 0; j < kw; j++, base += dw) {
                            FloatVector wv = FloatVector.broadcast(S, k[kk + j]);
                            a0 = wv.fma(FloatVector.fromArray(S, buf, base), a0);
                            a1 = wv.fma(FloatVector.fromArray(S, buf, base + L), a1);
                        }
                    }
                    storeRow(a0, out, rowOut, ow, outW);
                    if (ow + L < outW) storeRow(a1, out, rowOut, ow + L, outW);
                }
            } else {
                for (; ow < outW; ow++) {
                    float acc = bias;
                    for (int i = 0; i < kh; i++) {
                        int base = (oh * sh + i * dh) * cols + ow * sw;
                        for (int j = 0; j < kw; j++) acc += k[i * kw + j] * buf[base + j * dw];
                    }
                    out.setAtIndex(F, rowOut + ow, acc);
                }
            }
        }
    }

    private static void storeRow(FloatVector v, MemorySegment out, long row, int ow, int outW) {
        if (ow + L <= outW) v.intoMemorySegment(out, (row + ow) * 4, ORDER);
        else v.intoMemorySegment(out, (row + ow) * 4, ORDER, S.indexInRange(ow, outW));
    }

    static void forward(MemorySegment x, long xOff, MemorySegment w, long wOff, MemorySegment bias, long bOff,
                        int n, int c, int h, int wd, Window win, int outH, int outW, MemorySegment out, long oOff) {
        int kh = win.kh(), kw = win.kw(), area = kh * kw;
        int rows = rowsFor(outH, win.sh(), kh, win.dh()), cols = colsFor(outW, win.sw(), kw, win.dw());
        long work = (long) area * outH * outW;
        Parallel.forRange((long) n * c, Math.max(1, 65536 / Math.max(work, 1)), (lo, hi) -> {
            float[] buf = new float[rows * cols];
            float[] k = new float[area];
            for (long p = lo; p < hi; p++) {
                int ch = (int) (p % c);
                place(x, xOff + p * h * wd, h, wd, buf, rows, cols, win.ph(), win.pw(), 1, 1);
                MemorySegment.copy(w, F, (wOff + (long) ch * area) * 4, k, 0, area);
                float b = bias == null ? 0f : bias.getAtIndex(F, bOff + ch);
                correlate(buf, cols, k, kh, kw, win.dh(), win.dw(), win.sh(), win.sw(), b, outH, outW, out, oOff + p * outH * outW);
            }
        });
    }

    static void backwardInput(MemorySegment g, long gOff, MemorySegment w, long wOff, int n, int c, int h, int wd, Window win,
                              int outH, int outW, MemorySegment gx, long gxOff) {
        int kh = win.kh(), kw = win.kw(), area = kh * kw;
        int rows = rowsFor(h, 1, kh, win.dh()), cols = colsFor(wd, 1, kw, win.dw());
        int r0 = (kh - 1) * win.dh() - win.ph(), c0 = (kw - 1) * win.dw() - win.pw();
        long work = (long) area * h * wd;
        Parallel.forRange((long) n * c, Math.max(1, 65536 / Math.max(work, 1)), (lo, hi) -> {
            float[] buf = new float[rows * cols];
            float[] k = new float[area];
            for (long p = lo; p < hi; p++) {
                int ch = (int) (p % c);
                place(g, gOff + p * outH * outW, outH, outW, buf, rows, cols, r0, c0, win.sh(), win.sw());
                for (int q = 0; q < area; q++) k[area - 1 - q] = w.getAtIndex(F, wOff + (long) ch * area + q);
                correlate(buf, cols, k, kh, kw, win.dh(), win.dw(), 1, 1, 0f, h, wd, gx, gxOff + p * h * wd);
            }
        });
    }

    static void backwardWeight(MemorySegment g, long gOff, MemorySegment x, long xOff, int n, int c, int h, int wd, Window win,
                               int outH, int outW, MemorySegment gw, long gwOff) {
        int kh = win.kh(), kw = win.kw(), area = kh * kw;
        int rows = rowsFor(outH, win.sh(), kh, win.dh()), cols = colsFor(outW, win.sw(), kw, win.dw());
        int padW = (outW + L - 1) / L * L;
        Parallel.forRange(c, 1, (lo, hi) -> {
            float[] buf = new float[rows * cols];
            float[] gb = new float[outH * padW];
            double[] acc = new double[area];
            for (int ch = (int) lo; ch < hi; ch++) {
                Arrays.fill(acc, 0);
                for (int b = 0; b < n; b++) {
                    long plane = (long) b * c + ch;
                    place(x, xOff + plane * h * wd, h, wd, buf, rows, cols, win.ph(), win.pw(), 1, 1);
                    for (int oh = 0; oh < outH; oh++) MemorySegment.copy(g, F, (gOff + plane * outH * outW + (long) oh * outW) * 4, gb, oh * padW, outW);
                    for (int i = 0; i < kh; i++) {
                        for (int j = 0; j < kw; j++) {
                            acc[i * kw + j] += tap(buf, cols, gb, padW, outH, outW, i * win.dh(), j * win.dw(), win.sh(), win.sw());
                        }
                    }
                }
                for (int q = 0; q < area; q++) gw.setAtIndex(F, gwOff + (long) ch * area + q, (float) acc[q]);
            }
        });
    }

    /** sum over (oh, ow) of g[oh, ow] * buf[oh*sh + di, ow*sw + dj]; g rows are zero-padded to padW. */
    private static double tap(float[] buf, int cols, float[] gb, int padW, int outH, int outW, int di, int dj, int sh, int sw) {
        if (sw == 1) {
            FloatVector v = FloatVector.zero(S);
            for (int oh = 0; oh < outH; oh++) {
                int xb = (oh * sh + di) * cols + dj, gbase = oh * padW;
                for (int ow = 0; ow < padW; ow += L) v = FloatVector.fromArray(S, gb, gbase + ow).fma(FloatVector.fromArray(S, buf, xb + ow), v);
            }
            return v.reduceLanes(VectorOperators.ADD);
        }
        double acc = 0;
        for (int oh = 0; oh < outH; oh++) {
            int xb = (oh * sh + di) * cols + dj, gbase = oh * padW;
            float rowAcc = 0;
            for (int ow = 0; ow < outW; ow++) rowAcc += gb[gbase + ow] * buf[xb + ow * sw];
            acc += rowAcc;
        }
        return acc;
    }
}
