package dev.lumen.backend.cpu;

import dev.lumen.backend.SelectiveScanKernels;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The F64 path of {@link CpuSelectiveScan}, for finite-difference checks: scalar loops, one
 * sequence at a time, parallel over batch entries (each owns its rows of x, delta, B and C;
 * the A, D and bias gradients are summed over the batch at the end). The backward recomputes
 * each sequence's states in full rather than using saved chunk states.
 */
final class CpuSelectiveScanF64 {
    private CpuSelectiveScanF64() {}

    private static final ValueLayout.OfDouble V = ValueLayout.JAVA_DOUBLE;
    private static final int K = SelectiveScanKernels.ROUTES;

    private static MemorySegment seg(Tensor t) {
        if (!t.isContiguous()) throw new IllegalArgumentException("selective_scan_2d kernel needs contiguous tensors");
        return t.storage().segment().asSlice(t.offset() * 8);
    }

    private static double softplus(double z) { return z > 20 ? z : Math.log1p(Math.exp(z)); }

    static void forward(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor dSkip, Tensor bias, Tensor out) {
        run(x, delta, a, b, c, dSkip, bias, out, null, null, null, null, null, null, null, null);
    }

    static void backward(Tensor x, Tensor delta, Tensor a, Tensor b, Tensor c, Tensor dSkip, Tensor bias, Tensor gradOut,
                         Tensor gx, Tensor gDelta, Tensor gA, Tensor gB, Tensor gC, Tensor gD, Tensor gBias) {
        run(x, delta, a, b, c, dSkip, bias, null, gradOut, gx, gDelta, gA, gB, gC, gD, gBias);
    }

    private static void run(Tensor xt, Tensor deltat, Tensor at, Tensor bt, Tensor ct, Tensor dt, Tensor biast, Tensor outt,
                            Tensor got, Tensor gxt, Tensor gdeltat, Tensor gat, Tensor gbt, Tensor gct, Tensor gdt, Tensor gbiast) {
        int nb = xt.shape(0), nd = xt.shape(1), h = xt.shape(2), w = xt.shape(3), len = h * w, n = bt.shape(2);
        int[][] pos = CpuSelectiveScan.positions(h, w);
        MemorySegment x = seg(xt), delta = seg(deltat), a = seg(at), bm = seg(bt), cm = seg(ct), dsk = seg(dt), bias = seg(biast);
        MemorySegment out = outt == null ? null : seg(outt), go = got == null ? null : seg(got);
        boolean grad = go != null;
        int kdn = K * nd * n, kd = K * nd;
        double[] ga = new double[nb * kdn], gd = new double[nb * kd], gbias = new double[nb * kd];
        double[] gx = grad ? new double[nb * nd * len] : null, gdelta = grad ? new double[nb * kd * len] : null;
        double[] gb = grad ? new double[nb * K * n * len] : null, gc = grad ? new double[nb * K * n * len] : null;
        Parallel.forRange(nb, 1, (lo, hi) -> {
            double[][] s = new double[len + 1][n]; // s[l + 1]: state after step l
            double[] acc = new double[len], gs = new double[n];
            for (int bi = (int) lo; bi < hi; bi++) {
                for (int d = 0; d < nd; d++) {
                    long xRow = (long) (bi * nd + d) * len;
                    java.util.Arrays.fill(acc, 0);
                    for (int k = 0; k < K; k++) {
                        int kdi = k * nd + d;
                        long dRow = ((long) (bi * K + k) * nd + d) * len, bcRow = (long) (bi * K + k) * n * len;
                        double dk = dsk.getAtIndex(V, kdi), bk = bias.getAtIndex(V, kdi);
                        for (int l = 0; l < len; l++) {
                            double step = softplus(delta.getAtIndex(V, dRow + l) + bk);
                            double u = x.getAtIndex(V, xRow + pos[k][l]);
                            double y = dk * u;
                            for (int j = 0; j < n; j++) {
                                long bc = bcRow + (long) j * len + l;
                                s[l + 1][j] = Math.exp(step * a.getAtIndex(V, (long) kdi * n + j)) * s[l][j] + step * bm.getAtIndex(V, bc) * u;
                                y += cm.getAtIndex(V, bc) * s[l + 1][j];
                            }
                            acc[pos[k][l]] += y;
                        }
                        if (!grad) continue;
                        java.util.Arrays.fill(gs, 0);
                        for (int l = len - 1; l >= 0; l--) {
                            int p = pos[k][l];
                            double gy = go.getAtIndex(V, xRow + p);
                            double z = delta.getAtIndex(V, dRow + l) + bk, step = softplus(z);
                            double u = x.getAtIndex(V, xRow + p);
                            double gstep = 0, gu = gy * dk;
                            gd[bi * kd + kdi] += gy * u;
                            for (int j = 0; j < n; j++) {
                                long bc = bcRow + (long) j * len + l;
                                double aj = a.getAtIndex(V, (long) kdi * n + j), decay = Math.exp(step * aj), bj = bm.getAtIndex(V, bc);
                                gc[(int) bc] += gy * s[l + 1][j];
                                gs[j] += gy * cm.getAtIndex(V, bc);
                                gstep += gs[j] * (aj * decay * s[l][j] + bj * u);
                                ga[bi * kdn + kdi * n + j] += gs[j] * step * decay * s[l][j];
                                gb[(int) bc] += gs[j] * step * u;
                                gu += gs[j] * step * bj;
                                gs[j] *= decay;
                            }
                            double gz = gstep * (z > 20 ? 1 : 1 / (1 + Math.exp(-z)));
                            gdelta[(int) (dRow + l)] = gz;
                            gbias[bi * kd + kdi] += gz;
                            gx[(int) (xRow + p)] += gu;
                        }
                    }
                    if (out != null) MemorySegment.copy(acc, 0, out, V, xRow * 8, len);
                }
            }
        });
        if (!grad) return;
        copy(gx, gxt);
        copy(gdelta, gdeltat);
        copy(gb, gbt);
        copy(gc, gct);
        copy(sumBatch(ga, nb, kdn), gat);
        copy(sumBatch(gd, nb, kd), gdt);
        copy(sumBatch(gbias, nb, kd), gbiast);
    }

    private static double[] sumBatch(double[] perBatch, int nb, int size) {
        double[] out = new double[size];
        for (int bi = 0; bi < nb; bi++) for (int i = 0; i < size; i++) out[i] += perBatch[bi * size + i];
        return out;
    }

    private static void copy(double[] src, Tensor dst) {
        if (dst != null) MemorySegment.copy(src, 0, seg(dst), V, 0, src.length);
    }
}
