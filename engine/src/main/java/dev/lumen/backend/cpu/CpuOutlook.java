package dev.lumen.backend.cpu;

import dev.lumen.backend.OutlookKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Device;
import dev.lumen.tensor.HostAccess;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * CPU implementation of {@link OutlookKernels}. Every loop is a gather, so threads never write
 * the same element: the forward walks output pixels and, for each, the (at most ceil(k/s)^2)
 * anchors whose window covers it; each softmax row is used by exactly one output pixel, so it
 * is computed there, in registers, once. The unfolded v never exists.
 *
 * <p>Backward: (1) the probabilities go into gradLogits (or a scratch tensor), (2) dv gathers,
 * per v pixel, P[n,i,j]*gradOut over the anchors whose window reads it, (3) gradLogits is
 * rewritten in place row by row: scale*P*(dP - sum P*dP) with dP_j = gradOut[i].v[j] per head.
 */
final class CpuOutlook implements OutlookKernels {
    private static final VectorSpecies<Float> SP = FloatVector.SPECIES_PREFERRED;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    /** The shapes of one call and the index arithmetic of the windows. */
    private record Geo(int batch, int height, int width, int channels, int h, int w, int heads, int k, int p, int s,
                       long vBase, long lBase) {
        static Geo of(Tensor v, Tensor logits, int k, int p, int s) {
            int[] vs = v.shape(), ls = logits.shape();
            return new Geo(vs[0], vs[1], vs[2], vs[3], ls[1], ls[2], ls[3], k, p, s, v.offset(), logits.offset());
        }

        int kk() { return k * k; }

        int hd() { return channels / heads; }

        /** Element index of pixel (y, x) of image b in a [B,H,W,C] tensor, without its offset. */
        long pixel(int b, int y, int x) { return (((long) b * height + y) * width + x) * channels; }

        /** Element index of logits[b, ny, nx, head, i, 0], without its offset. */
        long row(int b, int ny, int nx, int head, int i) {
            return ((((long) b * h + ny) * w + nx) * heads + head) * kk() * kk() + (long) i * kk();
        }

        /** First anchor (along an axis of n anchors) whose window covers coordinate y. */
        int first(int y) { return Math.max(0, Math.ceilDiv(y + p - k + 1, s)); }

        int last(int y, int n) { return Math.min(n - 1, Math.floorDiv(y + p, s)); }

        /**
         * Window positions of anchor (ny, nx) that fall inside the image: their indices into
         * idx and the pixel index (offset included) of each into off; returns how many.
         */
        int window(int b, int ny, int nx, long base, int[] idx, long[] off) {
            int n = 0;
            for (int jy = 0; jy < k; jy++) {
                int y = ny * s - p + jy;
                if (y < 0 || y >= height) continue;
                for (int jx = 0; jx < k; jx++) {
                    int x = nx * s - p + jx;
                    if (x < 0 || x >= width) continue;
                    idx[n] = jy * k + jx;
                    off[n++] = base + pixel(b, y, x);
                }
            }
            return n;
        }
    }

    @Override
    public void outlookForward(Tensor v, Tensor logits, int kernel, int padding, int stride, double scale, Tensor out) {
        Geo g = Geo.of(v, logits, kernel, padding, stride);
        DType t = out.dtype();
        MemorySegment sv = v.storage().segment(), sl = logits.storage().segment(), so = out.storage().segment();
        long oBase = out.offset();
        int kk = g.kk(), hd = g.hd(), block = g.w * g.heads * g.k * kk;
        int slots = Math.ceilDiv(g.k, g.s);
        Parallel.forRange((long) g.batch * g.height, 1, (lo, hi) -> {
            Acc acc = new Acc(t, g.channels);
            Probs probs = new Probs(t, slots * block);
            double[] wt = new double[kk];
            int[] idx = new int[kk];
            long[] off = new long[kk];
            for (long r = lo; r < hi; r++) {
                int b = (int) (r / g.height), y = (int) (r % g.height);
                int nyLo = g.first(y), nyHi = g.last(y, g.h);
                // The softmax rows this output row folds from: for each anchor row, the k rows with iy = y+p-ny*s.
                for (int ny = nyLo; ny <= nyHi; ny++) {
                    int iy = y + g.p - ny * g.s;
                    for (int nx = 0; nx < g.w; nx++) {
                        for (int head = 0; head < g.heads; head++) {
                            probs.softmax(sl, g.lBase + g.row(b, ny, nx, head, iy * g.k), g.k, kk, scale,
                                    (ny - nyLo) * block + (nx * g.heads + head) * g.k * kk);
                        }
                    }
                }
                for (int x = 0; x < g.width; x++) {
                    acc.zero();
                    for (int ny = nyLo; ny <= nyHi; ny++) {
                        for (int nx = g.first(x), nxEnd = g.last(x, g.w); nx <= nxEnd; nx++) {
                            int ix = x + g.p - nx * g.s;
                            int n = g.window(b, ny, nx, g.vBase, idx, off);
                            for (int head = 0; head < g.heads; head++) {
                                int at = (ny - nyLo) * block + ((nx * g.heads + head) * g.k + ix) * kk;
                                for (int m = 0; m < n; m++) wt[m] = probs.get(at + idx[m]);
                                acc.gather(sv, off, wt, n, head * hd, hd);
                            }
                        }
                    }
                    acc.store(so, oBase + g.pixel(b, y, x));
                }
            }
        });
    }

    @Override
    public void outlookBackward(Tensor v, Tensor logits, Tensor gradOut, int kernel, int padding, int stride, double scale,
                                Tensor gradV, Tensor gradLogits) {
        if (gradV == null && gradLogits == null) return;
        Geo g = Geo.of(v, logits, kernel, padding, stride);
        DType t = v.dtype();
        Tensor probs = gradLogits != null ? gradLogits : Tensor.empty(t, Device.CPU, logits.shape());
        try {
            writeProbabilities(logits, scale, g.kk(), g.heads, probs);
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
            Probs p = new Probs(t, block);
            for (long a = lo; a < hi; a++) {
                p.softmax(sl, lb + a * block, rows, kk, scale, 0);
                p.store(sp, pb + a * block);
            }
        });
    }

    /** dv[m] = sum over anchors n reading m as window position j, and their i folding inside: P[n,i,j] * gradOut[n*s-p+i]. */
    private static void gradV(Geo g, Tensor probs, Tensor gradOut, Tensor gradV) {
        DType t = gradV.dtype();
        MemorySegment sp = probs.storage().segment(), sg = gradOut.storage().segment(), sd = gradV.storage().segment();
        long pb = probs.offset(), gb = gradOut.offset(), db = gradV.offset();
        int kk = g.kk(), hd = g.hd();
        Parallel.forRange((long) g.batch * g.height, 1, (lo, hi) -> {
            Acc acc = new Acc(t, g.channels);
            double[] wt = new double[kk];
            int[] idx = new int[kk];
            long[] off = new long[kk];
            for (long r = lo; r < hi; r++) {
                int b = (int) (r / g.height), y = (int) (r % g.height);
                for (int x = 0; x < g.width; x++) {
                    acc.zero();
                    for (int ny = g.first(y), nyEnd = g.last(y, g.h); ny <= nyEnd; ny++) {
                        int jy = y + g.p - ny * g.s;
                        for (int nx = g.first(x), nxEnd = g.last(x, g.w); nx <= nxEnd; nx++) {
                            int j = jy * g.k + (x + g.p - nx * g.s);
                            int n = g.window(b, ny, nx, gb, idx, off);
                            for (int head = 0; head < g.heads; head++) {
                                long row0 = pb + g.row(b, ny, nx, head, 0);
                                for (int m = 0; m < n; m++) wt[m] = HostAccess.get(sp, t, row0 + (long) idx[m] * kk + j);
                                acc.gather(sg, off, wt, n, head * hd, hd);
                            }
                        }
                    }
                    acc.store(sd, db + g.pixel(b, y, x));
                }
            }
        });
    }

    /** gradLogits holds P; rewrites each row to scale * P * (dP - sum_j P_j dP_j). */
    private static void gradLogitsInPlace(Geo g, Tensor v, Tensor gradOut, double scale, Tensor gradLogits) {
        DType t = v.dtype();
        MemorySegment sv = v.storage().segment(), sg = gradOut.storage().segment(), sp = gradLogits.storage().segment();
        long gb = gradOut.offset(), pb = gradLogits.offset();
        int kk = g.kk(), hd = g.hd();
        Parallel.forRange((long) g.batch * g.h, 1, (lo, hi) -> {
            double[] dp = new double[kk];
            int[] idx = new int[kk];
            long[] off = new long[kk];
            for (long r = lo; r < hi; r++) {
                int b = (int) (r / g.h), ny = (int) (r % g.h);
                for (int nx = 0; nx < g.w; nx++) {
                    int n = g.window(b, ny, nx, g.vBase, idx, off);
                    for (int head = 0; head < g.heads; head++) {
                        int c0 = head * hd;
                        for (int i = 0; i < kk; i++) {
                            long row = pb + g.row(b, ny, nx, head, i);
                            int ty = ny * g.s - g.p + i / g.k, tx = nx * g.s - g.p + i % g.k;
                            if (ty < 0 || ty >= g.height || tx < 0 || tx >= g.width) {
                                for (int j = 0; j < kk; j++) HostAccess.set(sp, t, row + j, 0);
                                continue;
                            }
                            long go = gb + g.pixel(b, ty, tx) + c0;
                            java.util.Arrays.fill(dp, 0);
                            for (int m = 0; m < n; m++) dp[idx[m]] = Acc.dot(t, sg, go, sv, off[m] + c0, hd);
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

    /** Per-thread channel accumulators of one pixel: float lanes for F32, double otherwise. */
    private static final class Acc {
        private final boolean f32;
        private final DType t;
        private final float[] f;
        private final double[] d;

        Acc(DType t, int channels) {
            this.t = t;
            this.f32 = t == DType.F32;
            this.f = f32 ? new float[channels] : null;
            this.d = f32 ? null : new double[channels];
        }

        void zero() {
            if (f32) java.util.Arrays.fill(f, 0);
            else java.util.Arrays.fill(d, 0);
        }

        /** acc[c0 .. c0+len) += sum over m < n of wt[m] * src[off[m]+c0 ..]. */
        void gather(MemorySegment src, long[] off, double[] wt, int n, int c0, int len) {
            if (!f32) {
                for (int c = 0; c < len; c++) {
                    double a = d[c0 + c];
                    for (int m = 0; m < n; m++) a += wt[m] * HostAccess.get(src, t, off[m] + c0 + c);
                    d[c0 + c] = a;
                }
                return;
            }
            int c = 0;
            for (int bound = SP.loopBound(len); c < bound; c += SP.length()) {
                FloatVector a = FloatVector.fromArray(SP, f, c0 + c);
                for (int m = 0; m < n; m++) {
                    FloatVector x = FloatVector.fromMemorySegment(SP, src, (off[m] + c0 + c) * 4, ORDER);
                    a = x.fma(FloatVector.broadcast(SP, (float) wt[m]), a);
                }
                a.intoArray(f, c0 + c);
            }
            for (; c < len; c++) {
                float a = f[c0 + c];
                for (int m = 0; m < n; m++) a += (float) wt[m] * src.getAtIndex(F, off[m] + c0 + c);
                f[c0 + c] = a;
            }
        }

        void store(MemorySegment dst, long at) {
            if (f32) MemorySegment.copy(f, 0, dst, F, at * 4, f.length);
            else for (int c = 0; c < d.length; c++) HostAccess.set(dst, t, at + c, d[c]);
        }

        /** sum over c < n of a[ia+c] * b[ib+c]. */
        static double dot(DType t, MemorySegment a, long ia, MemorySegment b, long ib, int n) {
            if (t != DType.F32) {
                double s = 0;
                for (int c = 0; c < n; c++) s += HostAccess.get(a, t, ia + c) * HostAccess.get(b, t, ib + c);
                return s;
            }
            int c = 0;
            FloatVector acc = FloatVector.zero(SP);
            for (int bound = SP.loopBound(n); c < bound; c += SP.length()) {
                acc = FloatVector.fromMemorySegment(SP, a, (ia + c) * 4, ORDER)
                        .fma(FloatVector.fromMemorySegment(SP, b, (ib + c) * 4, ORDER), acc);
            }
            float s = Vec.sum(acc);
            for (; c < n; c++) s += a.getAtIndex(F, ia + c) * b.getAtIndex(F, ib + c);
            return s;
        }
    }

    /** A per-thread block of softmax probabilities: float for F32, double otherwise. */
    private static final class Probs {
        private final DType t;
        private final float[] f;
        private final double[] d;

        Probs(DType t, int size) {
            this.t = t;
            this.f = t == DType.F32 ? new float[size] : null;
            this.d = t == DType.F32 ? null : new double[size];
        }

        void softmax(MemorySegment src, long at, int rows, int kk, double scale, int dstAt) {
            if (f != null) SoftmaxRows.f32(src, at, rows, kk, (float) scale, f, dstAt);
            else SoftmaxRows.generic(src, t, at, rows, kk, scale, d, dstAt);
        }

        double get(int i) { return f != null ? f[i] : d[i]; }

        void store(MemorySegment dst, long at) {
            if (f != null) MemorySegment.copy(f, 0, dst, F, at * 4, f.length);
            else for (int i = 0; i < d.length; i++) HostAccess.set(dst, t, at + i, d[i]);
        }
    }
}
