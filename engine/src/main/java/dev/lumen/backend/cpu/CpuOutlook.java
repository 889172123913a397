package dev.lumen.backend.cpu;

import dev.lumen.backend.OutlookKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.HostAccess;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * CPU implementation of {@link OutlookKernels}: F32 in {@link CpuOutlookF32}, every other
 * floating dtype here in double. Every loop is a gather, so threads never write the same
 * element: the forward walks output pixels and, for each, the (at most ceil(k/s)^2) anchors
 * whose window covers it; each softmax row is used by exactly one output pixel, so it is
 * computed there, once. The unfolded v never exists.
 *
 * <p>Backward: (1) the probabilities go into gradLogits (or a scratch tensor), (2) dv gathers,
 * per v pixel, P[n,i,j]*gradOut over the anchors whose window reads it, (3) gradLogits is
 * rewritten in place row by row: scale*P*(dP - sum P*dP) with dP_j = gradOut[i].v[j] per head.
 * The F32 backward fuses (1) and (3) into one pass over anchors.
 */
final class CpuOutlook implements OutlookKernels {
    @Override
    public void outlookForward(Tensor v, Tensor logits, int kernel, int padding, int stride, double scale, Tensor out) {
        CpuOutlookGeometry g = CpuOutlookGeometry.of(v, logits, kernel, padding, stride);
        if (out.dtype() == DType.F32) {
            CpuOutlookF32.forward(v, logits, g, (float) scale, out);
            return;
        }
        DType t = out.dtype();
        MemorySegment sv = v.storage().segment(), sl = logits.storage().segment(), so = out.storage().segment();
        long oBase = out.offset();
        int kk = g.kk(), hd = g.hd(), block = g.w() * g.heads() * g.k() * kk;
        int slots = Math.ceilDiv(g.k(), g.s());
        Parallel.forRange((long) g.batch() * g.height(), 1, (lo, hi) -> {
            double[] acc = new double[g.channels()];
            double[] probs = new double[slots * block];
            double[] wt = new double[kk];
            int[] idx = new int[kk];
            long[] off = new long[kk];
            for (long r = lo; r < hi; r++) {
                int b = (int) (r / g.height()), y = (int) (r % g.height());
                int nyLo = g.first(y), nyHi = g.last(y, g.h());
                // The softmax rows this output row folds from: for each anchor row, the k rows with iy = y+p-ny*s.
                for (int ny = nyLo; ny <= nyHi; ny++) {
                    int iy = y + g.p() - ny * g.s();
                    for (int nx = 0; nx < g.w(); nx++) {
                        for (int head = 0; head < g.heads(); head++) {
                            SoftmaxRows.generic(sl, t, g.lBase() + g.row(b, ny, nx, head, iy * g.k()), g.k(), kk, scale, probs,
                                    (ny - nyLo) * block + (nx * g.heads() + head) * g.k() * kk);
                        }
                    }
                }
                for (int x = 0; x < g.width(); x++) {
                    java.util.Arrays.fill(acc, 0);
                    for (int ny = nyLo; ny <= nyHi; ny++) {
                        for (int nx = g.first(x), nxEnd = g.last(x, g.w()); nx <= nxEnd; nx++) {
                            int ix = x + g.p() - nx * g.s();
                            int n = g.window(b, ny, nx, g.vBase(), idx, off);
                            for (int head = 0; head < g.heads(); head++) {
                                int at = (ny - nyLo) * block + ((nx * g.heads() + head) * g.k() + ix) * kk;
                                for (int m = 0; m < n; m++) wt[m] = probs[at + idx[m]];
                                gather(acc, sv, t, off, wt, n, head * hd, hd);
                            }
                        }
                    }
                    store(acc, so, t, oBase + g.pixel(b, y, x));
                }
            }
        });
    }

    @Override
    public void outlookBackward(Tensor v, Tensor logits, Tensor gradOut, int kernel, int padding, int stride, double scale,
                                Tensor gradV, Tensor gradLogits) {
        if (gradV == null && gradLogits == null) return;
        CpuOutlookGeometry g = CpuOutlookGeometry.of(v, logits, kernel, padding, stride);
        DType t = v.dtype();
        if (t == DType.F32) {
            try (Tensor probs = gradV == null ? null : Tensor.empty(t, Device.CPU, logits.shape())) {
                CpuOutlookF32.anchors(v, logits, gradOut, g, (float) scale, probs, gradLogits);
                if (gradV != null) CpuOutlookF32.gradV(g, probs, gradOut, gradV);
            }
            return;
        }
        Tensor probs = gradLogits != null ? gradLogits : Tensor.empty(t, Device.CPU, logits.shape());
        try {
            writeProbabilities(logits, scale, g.kk(), g.heads(), probs);
            if (gradV != null) gradV(g, probs, gradOut, gradV);
            if (gradLogits != null) gradLogitsInPlace(g, v, gradOut, scale, gradLogits);
        } finally {
            if (probs != gradLogits) probs.close();
        }
    }

    /** probs = softmax(scale*logits) over the last axis, one anchor (heads*kk rows) at a time. */
    private static void writeProbabilities(Tensor logits, double scale, int kk, int heads, Tensor probs) {
        DType t = logits.dtype();
        MemorySegment sl = logits.storage().segment(), sp = probs.storage().segment();
        long lb = logits.offset(), pb = probs.offset();
        int rows = heads * kk, block = rows * kk;
        Parallel.forRange(logits.numel() / block, 16, (lo, hi) -> {
            double[] p = new double[block];
            for (long a = lo; a < hi; a++) {
                SoftmaxRows.generic(sl, t, lb + a * block, rows, kk, scale, p, 0);
                store(p, sp, t, pb + a * block);
            }
        });
    }

    /** dv[m] = sum over anchors n reading m as window position j, and their i folding inside: P[n,i,j] * gradOut[n*s-p+i]. */
    private static void gradV(CpuOutlookGeometry g, Tensor probs, Tensor gradOut, Tensor gradV) {
        DType t = gradV.dtype();
        MemorySegment sp = probs.storage().segment(), sg = gradOut.storage().segment(), sd = gradV.storage().segment();
        long pb = probs.offset(), gb = gradOut.offset(), db = gradV.offset();
        int kk = g.kk(), hd = g.hd();
        Parallel.forRange((long) g.batch() * g.height(), 1, (lo, hi) -> {
            double[] acc = new double[g.channels()];
            double[] wt = new double[kk];
            int[] idx = new int[kk];
            long[] off = new long[kk];
            for (long r = lo; r < hi; r++) {
                int b = (int) (r / g.height()), y = (int) (r % g.height());
                for (int x = 0; x < g.width(); x++) {
                    java.util.Arrays.fill(acc, 0);
                    for (int ny = g.first(y), nyEnd = g.last(y, g.h()); ny <= nyEnd; ny++) {
                        int jy = y + g.p() - ny * g.s();
                        for (int nx = g.first(x), nxEnd = g.last(x, g.w()); nx <= nxEnd; nx++) {
                            int j = jy * g.k() + (x + g.p() - nx * g.s());
                            int n = g.window(b, ny, nx, gb, idx, off);
                            for (int head = 0; head < g.heads(); head++) {
                                long row0 = pb + g.row(b, ny, nx, head, 0);
                                for (int m = 0; m < n; m++) wt[m] = HostAccess.get(sp, t, row0 + (long) idx[m] * kk + j);
                                gather(acc, sg, t, off, wt, n, head * hd, hd);
                            }
                        }
                    }
                    store(acc, sd, t, db + g.pixel(b, y, x));
                }
            }
        });
    }

    /** gradLogits holds P; rewrites each row to scale * P * (dP - sum_j P_j dP_j). */
    private static void gradLogitsInPlace(CpuOutlookGeometry g, Tensor v, Tensor gradOut, double scale, Tensor gradLogits) {
        DType t = v.dtype();
        MemorySegment sv = v.storage().segment(), sg = gradOut.storage().segment(), sp = gradLogits.storage().segment();
        long gb = gradOut.offset(), pb = gradLogits.offset();
        int kk = g.kk(), hd = g.hd();
        Parallel.forRange((long) g.batch() * g.h(), 1, (lo, hi) -> {
            double[] dp = new double[kk];
            int[] idx = new int[kk];
            long[] off = new long[kk];
            for (long r = lo; r < hi; r++) {
                int b = (int) (r / g.h()), ny = (int) (r % g.h());
                for (int nx = 0; nx < g.w(); nx++) {
                    int n = g.window(b, ny, nx, g.vBase(), idx, off);
                    for (int head = 0; head < g.heads(); head++) {
                        int c0 = head * hd;
                        for (int i = 0; i < kk; i++) {
                            long row = pb + g.row(b, ny, nx, head, i);
                            int ty = ny * g.s() - g.p() + i / g.k(), tx = nx * g.s() - g.p() + i % g.k();
                            if (ty < 0 || ty >= g.height() || tx < 0 || tx >= g.width()) {
                                for (int j = 0; j < kk; j++) HostAccess.set(sp, t, row + j, 0);
                                continue;
                            }
                            long go = gb + g.pixel(b, ty, tx) + c0;
                            java.util.Arrays.fill(dp, 0);
                            for (int m = 0; m < n; m++) dp[idx[m]] = dot(t, sg, go, sv, off[m] + c0, hd);
                            double sum = 0;
                            for (int j = 0; j < kk; j++) sum += HostAccess.get(sp, t, row + j) * dp[j];
                            for (int j = 0; j < kk; j++) {
                                double pj = HostAccess.get(sp, t, row + j);
                                HostAccess.set(sp, t, row + j, scale * pj * (dp[j] - sum));
                            }
                        }
                    }
                }
            }
        });
    }

    /** acc[c0 .. c0+len) += sum over m < n of wt[m] * src[off[m]+c0 ..]. */
    private static void gather(double[] acc, MemorySegment src, DType t, long[] off, double[] wt, int n, int c0, int len) {
        for (int c = 0; c < len; c++) {
            double a = acc[c0 + c];
            for (int m = 0; m < n; m++) a += wt[m] * HostAccess.get(src, t, off[m] + c0 + c);
            acc[c0 + c] = a;
        }
    }

    private static void store(double[] values, MemorySegment dst, DType t, long at) {
        for (int c = 0; c < values.length; c++) HostAccess.set(dst, t, at + c, values[c]);
    }

    /** sum over c < n of a[ia+c] * b[ib+c]. */
    private static double dot(DType t, MemorySegment a, long ia, MemorySegment b, long ib, int n) {
        double s = 0;
        for (int c = 0; c < n; c++) s += HostAccess.get(a, t, ia + c) * HostAccess.get(b, t, ib + c);
        return s;
    }
}
