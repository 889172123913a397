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

    /**
     * out[oh, ow] = bias + sum_ij k[i, j] * buf[oh*sh + i*dh, ow*sw + j*dw]. Rows are computed
     * at full resolution along the width with vectors; a strided output then keeps every
     * sw-th value (sw times the work, still far faster than scalar loops).
     */
    private static void correlate(float[] buf, int cols, float[] k, int kh, int kw, int dh, int dw, int sh, int sw, float bias,
                                  int outH, int outW, MemorySegment out, long outOff, float[] row) {
        int full = (outW - 1) * sw + 1;
        for (int oh = 0; oh < outH; oh++) {
            long rowOut = outOff + (long) oh * outW;
            for (int u = 0; u < full; u += 2 * L) {
                FloatVector a0 = FloatVector.broadcast(S, bias), a1 = a0;
                for (int i = 0; i < kh; i++) {
                    int base = (oh * sh + i * dh) * cols + u;
                    int kk = i * kw;
                    for (int j = 0; j < kw; j++, base += dw) {
                        FloatVector wv = FloatVector.broadcast(S, k[kk + j]);
                        a0 = wv.fma(FloatVector.fromArray(S, buf, base), a0);
                        a1 = wv.fma(FloatVector.fromArray(S, buf, base + L), a1);
                    }
                }
                if (sw == 1) {
                    storeRow(a0, out, rowOut, u, outW);
                    if (u + L < outW) storeRow(a1, out, rowOut, u + L, outW);
                } else {
                    a0.intoArray(row, u);
                    a1.intoArray(row, u + L);
                }
            }
            if (sw != 1) for (int ow = 0; ow < outW; ow++) out.setAtIndex(F, rowOut + ow, row[ow * sw]);
        }
    }

    /** Scratch for one strided output row at full resolution. */
    private static float[] rowScratch(int outW, int sw) { return new float[((outW - 1) * sw + 1 + 2 * L) / (2 * L) * (2 * L) + 2 * L]; }

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
            float[] row = rowScratch(outW, win.sw());
            for (long p = lo; p < hi; p++) {
                int ch = (int) (p % c);
                place(x, xOff + p * h * wd, h, wd, buf, rows, cols, win.ph(), win.pw(), 1, 1);
                MemorySegment.copy(w, F, (wOff + (long) ch * area) * 4, k, 0, area);
                float b = bias == null ? 0f : bias.getAtIndex(F, bOff + ch);
                correlate(buf, cols, k, kh, kw, win.dh(), win.dw(), win.sh(), win.sw(), b, outH, outW, out, oOff + p * outH * outW, row);
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
                correlate(buf, cols, k, kh, kw, win.dh(), win.dw(), 1, 1, 0f, h, wd, gx, gxOff + p * h * wd, null);
            }
        });
    }

    static void backwardWeight(MemorySegment g, long gOff, MemorySegment x, long xOff, int n, int c, int h, int wd, Window win,
                               int outH, int outW, MemorySegment gw, long gwOff) {
        int kh = win.kh(), kw = win.kw(), area = kh * kw;
        int rows = rowsFor(outH, win.sh(), kh, win.dh()), cols = colsFor(outW, win.sw(), kw, win.dw());
        // g rows are spread to full resolution (g[ow] at ow*sw, zeros between) and padded to
        // whole vectors, so every tap is a stride-1 vector dot product.
        int full = (outW - 1) * win.sw() + 1;
        int padW = (full + L - 1) / L * L;
        Parallel.forRange(c, 1, (lo, hi) -> {
            float[] buf = new float[rows * cols];
            float[] gb = new float[outH * padW];
            double[] acc = new double[area];
            for (int ch = (int) lo; ch < hi; ch++) {
                Arrays.fill(acc, 0);
                for (int b = 0; b < n; b++) {
                    long plane = (long) b * c + ch;
                    place(x, xOff + plane * h * wd, h, wd, buf, rows, cols, win.ph(), win.pw(), 1, 1);
                    for (int oh = 0; oh < outH; oh++) {
                        long src = gOff + plane * outH * outW + (long) oh * outW;
                        if (win.sw() == 1) MemorySegment.copy(g, F, src * 4, gb, oh * padW, outW);
                        else for (int ow = 0; ow < outW; ow++) gb[oh * padW + ow * win.sw()] = g.getAtIndex(F, src + ow);
                    }
                    for (int i = 0; i < kh; i++) {
                        for (int j = 0; j < kw; j++) {
                            acc[i * kw + j] += tap(buf, cols, gb, padW, outH, i * win.dh(), j * win.dw(), win.sh());
                        }
                    }
                }
                for (int q = 0; q < area; q++) gw.setAtIndex(F, gwOff + (long) ch * area + q, (float) acc[q]);
            }
        });
    }

    /** sum over (oh, u) of gb[oh, u] * buf[oh*sh + di, u + dj]; gb rows are spread and zero-padded to padW. */
    private static double tap(float[] buf, int cols, float[] gb, int padW, int outH, int di, int dj, int sh) {
        FloatVector v = FloatVector.zero(S);
        for (int oh = 0; oh < outH; oh++) {
            int xb = (oh * sh + di) * cols + dj, gbase = oh * padW;
            for (int u = 0; u < padW; u += L) v = FloatVector.fromArray(S, gb, gbase + u).fma(FloatVector.fromArray(S, buf, xb + u), v);
        }
        return Vec.sum(v);
    }
}
