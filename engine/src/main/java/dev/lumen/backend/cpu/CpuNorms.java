package dev.lumen.backend.cpu;

import static dev.lumen.backend.cpu.NormRows.F;

import dev.lumen.backend.NormKernels;
import dev.lumen.tensor.DType;
import dev.lumen.tensor.Generator;
import dev.lumen.tensor.HostAccess;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * CPU implementation of {@link NormKernels}. Batch norm runs one task per channel (a
 * shifted one-pass statistic, then the affine pass); layer and group norm one per row or
 * (sample, group). Reductions of weight and bias gradients across rows go through a fixed
 * number of partial buffers summed in double, so results do not depend on the thread count.
 */
final class CpuNorms implements NormKernels {
    /** Partial buffers for cross-row reductions: fixed, so the summation order is too. */
    private static final int CHUNKS = 32;
    private static final java.nio.ByteOrder NO = java.nio.ByteOrder.nativeOrder();
    private static final VectorSpecies<Long> L8 = LongVector.SPECIES_512;
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;

    private static MemorySegment seg(Tensor t) { return t == null ? null : t.storage().segment(); }

    private static long off(Tensor t) { return t == null ? 0 : t.offset(); }

    private static long grain(long work) { return Math.max(1, 32768 / Math.max(work, 1)); }

    // ---------------------------------------------------------------- batch norm

    @Override
    public void batchNormForward(Tensor x, Tensor weight, Tensor bias, double eps, boolean useInputStats,
                                 Tensor mean, Tensor var, Tensor out) {
        batchNormForward(x, weight, bias, eps, useInputStats, mean, var, out, false);
    }

    /** The ReLU is applied as the affine pass writes: no second pass over the output. */
    @Override
    public void batchNormReluForward(Tensor x, Tensor weight, Tensor bias, double eps, boolean useInputStats,
                                     Tensor mean, Tensor var, Tensor out) {
        batchNormForward(x, weight, bias, eps, useInputStats, mean, var, out, true);
    }

    private static void batchNormForward(Tensor x, Tensor weight, Tensor bias, double eps, boolean useInputStats,
                                         Tensor mean, Tensor var, Tensor out, boolean relu) {
        int[] sh = x.shape();
        int n = sh[0], c = sh[1], s = sh[2];
        DType t = x.dtype();
        MemorySegment xs = seg(x), os = seg(out), ms = seg(mean), vs = seg(var), ws = seg(weight), bs = seg(bias);
        long xo = x.offset(), oo = out.offset(), mo = mean.offset(), vo = var.offset(), wo = off(weight), bo = off(bias);
        long count = (long) n * s, stride = (long) c * s;
        Parallel.forRange(c, grain(count), (lo, hi) -> {
            double[] acc = new double[2];
            for (int ch = (int) lo; ch < hi; ch++) {
                if (useInputStats) {
                    acc[0] = acc[1] = 0;
                    double shift = count > 0 ? HostAccess.get(xs, t, xo + (long) ch * s) : 0;
                    NormRows.channelStats(xs, t, xo + (long) ch * s, n, stride, s, shift, acc);
                    double d = acc[0] / count;
                    HostAccess.set(ms, t, mo + ch, shift + d);
                    HostAccess.set(vs, t, vo + ch, Math.max(acc[1] / count - d * d, 0));
                }
                double m = HostAccess.get(ms, t, mo + ch), v = HostAccess.get(vs, t, vo + ch);
                double rstd = 1 / Math.sqrt(v + eps);
                double a = rstd * NormRows.at(ws, t, wo, ch, 1), b = NormRows.at(bs, t, bo, ch, 0) - m * a;
                for (int i = 0; i < n; i++) {
                    long base = ((long) i * c + ch) * s;
                    if (relu) NormRows.affineRelu(xs, xo + base, os, oo + base, t, s, a, b);
                    else NormRows.affine(xs, xo + base, os, oo + base, t, s, a, b);
                }
            }
        });
    }

    @Override
    public void batchNormBackward(Tensor gradOut, Tensor x, Tensor weight, Tensor mean, Tensor var, double eps,
                                  boolean usedInputStats, Tensor gradX, Tensor gradWeight, Tensor gradBias) {
        batchNormBackward(gradOut, null, x, weight, mean, var, eps, usedInputStats, gradX, gradWeight, gradBias);
    }

    /** The ReLU mask is read from out inside both passes: no masked gradient is written. */
    @Override
    public void batchNormReluBackward(Tensor gradOut, Tensor out, Tensor x, Tensor weight, Tensor mean, Tensor var,
                                      double eps, boolean usedInputStats, Tensor gradX, Tensor gradWeight, Tensor gradBias) {
        batchNormBackward(gradOut, out, x, weight, mean, var, eps, usedInputStats, gradX, gradWeight, gradBias);
    }

    /** Batch norm's gradients; with reluOut non-null, of batch norm then ReLU (reluOut the saved output). */
    private static void batchNormBackward(Tensor gradOut, Tensor reluOut, Tensor x, Tensor weight, Tensor mean, Tensor var,
                                          double eps, boolean usedInputStats, Tensor gradX, Tensor gradWeight, Tensor gradBias) {
        int[] sh = x.shape();
        int n = sh[0], c = sh[1], s = sh[2];
        DType t = x.dtype();
        MemorySegment gs = seg(gradOut), ys = seg(reluOut), xs = seg(x), ws = seg(weight), ms = seg(mean), vs = seg(var);
        MemorySegment gxs = seg(gradX), gws = seg(gradWeight), gbs = seg(gradBias);
        long go = gradOut.offset(), yo = off(reluOut), xo = x.offset(), wo = off(weight), mo = mean.offset(), vo = var.offset();
        long gxo = off(gradX), gwo = off(gradWeight), gbo = off(gradBias);
        long count = (long) n * s, stride = (long) c * s;
        boolean needSums = gradWeight != null || gradBias != null || (gradX != null && usedInputStats);
        Parallel.forRange(c, grain(count), (lo, hi) -> {
            double[] acc = new double[2];
            for (int ch = (int) lo; ch < hi; ch++) {
                double m = HostAccess.get(ms, t, mo + ch);
                double rstd = 1 / Math.sqrt(HostAccess.get(vs, t, vo + ch) + eps);
                double w = NormRows.at(ws, t, wo, ch, 1);
                acc[0] = acc[1] = 0;
                long first = (long) ch * s;
                if (needSums) NormRows.channelGradStats(gs, go + first, ys, yo + first, xs, xo + first, t, n, stride, s, m, acc);
                double sg = acc[0], sgx = acc[1];
                if (gws != null) HostAccess.set(gws, t, gwo + ch, sgx * rstd);
                if (gbs != null) HostAccess.set(gbs, t, gbo + ch, sg);
                if (gxs == null) continue;
                double k1 = w * rstd, k2 = 0, k3 = 0;
                if (usedInputStats) {
                    k2 = -w * rstd * rstd * rstd * sgx / count;
                    k3 = -w * rstd * sg / count - m * k2;
                }
                for (int i = 0; i < n; i++) {
                    long base = ((long) i * c + ch) * s;
                    if (ys != null) NormRows.backwardRelu(gs, go + base, ys, yo + base, xs, xo + base, gxs, gxo + base, t, s, k1, k2, k3);
                    else NormRows.backward(gs, go + base, xs, xo + base, gxs, gxo + base, t, s, k1, k2, k3);
                }
            }
        });
    }

    // ---------------------------------------------------------------- layer norm

    @Override
    public void layerNormForward(Tensor x, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd) {
        if (x.shape(2) == 1) LayerNormRows.forward(x, weight, bias, eps, out, mean, rstd);
        else LayerNormChannels.forward(x, weight, bias, eps, out, mean, rstd);
    }

    @Override
    public void layerNormBackward(Tensor gradOut, Tensor x, Tensor weight, Tensor mean, Tensor rstd,
                                  Tensor gradX, Tensor gradWeight, Tensor gradBias) {
        if (x.shape(2) == 1) LayerNormRows.backward(gradOut, x, weight, mean, rstd, gradX, gradWeight, gradBias, CHUNKS);
        else LayerNormChannels.backward(gradOut, x, weight, mean, rstd, gradX, gradWeight, gradBias, CHUNKS);
    }

    // ---------------------------------------------------------------- group norm

    @Override
    public void groupNormForward(Tensor x, int groups, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd) {
        int[] sh = x.shape();
        int n = sh[0], c = sh[1], s = sh[2], cg = c / groups;
        DType t = x.dtype();
        MemorySegment xs = seg(x), os = seg(out), ms = seg(mean), rs = seg(rstd), ws = seg(weight), bs = seg(bias);
        long xo = x.offset(), oo = out.offset(), mo = mean.offset(), ro = rstd.offset(), wo = off(weight), bo = off(bias);
        long count = (long) cg * s;
        Parallel.forRange((long) n * groups, grain(count), (lo, hi) -> {
            double[] acc = new double[2];
            for (long item = lo; item < hi; item++) {
                int g = (int) (item % groups);
                long base = item * count;
                acc[0] = acc[1] = 0;
                double shift = count > 0 ? HostAccess.get(xs, t, xo + base) : 0;
                NormRows.stats(xs, t, xo + base, (int) count, shift, acc);
                double d = acc[0] / count;
                HostAccess.set(ms, t, mo + item, shift + d);
                HostAccess.set(rs, t, ro + item, 1 / Math.sqrt(Math.max(acc[1] / count - d * d, 0) + eps));
                double m = HostAccess.get(ms, t, mo + item), r = HostAccess.get(rs, t, ro + item);
                for (int k = 0; k < cg; k++) {
                    int ch = g * cg + k;
                    double a = r * NormRows.at(ws, t, wo, ch, 1), b = NormRows.at(bs, t, bo, ch, 0) - m * a;
                    NormRows.affine(xs, xo + base + (long) k * s, os, oo + base + (long) k * s, t, s, a, b);
                }
            }
        });
    }

    @Override
    public void groupNormBackward(Tensor gradOut, Tensor x, int groups, Tensor weight, Tensor mean, Tensor rstd,
                                  Tensor gradX, Tensor gradWeight, Tensor gradBias) {
        int[] sh = x.shape();
        int n = sh[0], c = sh[1], s = sh[2], cg = c / groups;
        DType t = x.dtype();
        MemorySegment gs = seg(gradOut), xs = seg(x), ws = seg(weight), ms = seg(mean), rs = seg(rstd), gxs = seg(gradX);
        long go = gradOut.offset(), xo = x.offset(), wo = off(weight), mo = mean.offset(), ro = rstd.offset(), gxo = off(gradX);
        long count = (long) cg * s;
        // Per (sample, channel) sums, written by the one task that owns the sample's group.
        double[] dw = new double[n * c], db = new double[n * c];
        Parallel.forRange((long) n * groups, grain(count), (lo, hi) -> {
            double[] acc = new double[2];
            for (long item = lo; item < hi; item++) {
                int g = (int) (item % groups), i = (int) (item / groups);
                long base = item * count;
                double m = HostAccess.get(ms, t, mo + item), r = HostAccess.get(rs, t, ro + item);
                double sumA = 0, sumB = 0;
                for (int k = 0; k < cg; k++) {
                    int ch = g * cg + k;
                    acc[0] = acc[1] = 0;
                    NormRows.gradStats(gs, go + base + (long) k * s, xs, xo + base + (long) k * s, t, s, m, acc);
                    double w = NormRows.at(ws, t, wo, ch, 1);
                    sumA += w * acc[0];
                    sumB += w * acc[1];
                    db[i * c + ch] = acc[0];
                    dw[i * c + ch] = acc[1] * r;
                }
                if (gxs == null) continue;
                double k2 = -r * r * r * sumB / count, k3 = -r * sumA / count - m * k2;
                for (int k = 0; k < cg; k++) {
                    int ch = g * cg + k;
                    long at = base + (long) k * s;
                    NormRows.backward(gs, go + at, xs, xo + at, gxs, gxo + at, t, s, r * NormRows.at(ws, t, wo, ch, 1), k2, k3);
                }
            }
        });
        storeColumnSums(dw, n, c, gradWeight);
        storeColumnSums(db, n, c, gradBias);
    }

    /** dst[ch] = sum over rows of partial[row * c + ch], in row order. */
    private static void storeColumnSums(double[] partial, int rows, int c, Tensor dst) {
        if (dst == null) return;
        MemorySegment ds = dst.storage().segment();
        for (int ch = 0; ch < c; ch++) {
            double sum = 0;
            for (int r = 0; r < rows; r++) sum += partial[r * c + ch];
            HostAccess.set(ds, dst.dtype(), dst.offset() + ch, sum);
        }
    }

    // ---------------------------------------------------------------- dropout

    @Override
    public void dropoutForward(Tensor x, double p, Generator gen, Tensor mask, Tensor out) {
        long n = mask.numel();
        long first = gen.reserve(n);
        long seed = gen.seed();
        DType t = mask.dtype();
        double keep = 1 - p;
        double scale = keep > 0 ? 1 / keep : 0;
        MemorySegment xs = seg(x), ms = seg(mask), os = seg(out);
        long xo = off(x), mo = mask.offset(), oo = off(out);
        // Draw i keeps its element when uniform(seed, first + i) < keep; the uniform is the top
        // 53 bits over 2^53, so comparing those bits against ceil(keep * 2^53) is the same test.
        long threshold = (long) Math.ceil(keep * 0x1p53);
        Parallel.forRange(n, 8192, (lo, hi) -> {
            if (t == DType.F32) {
                float fs = (float) scale;
                int len = (int) (hi - lo);
                long c0 = first + lo;
                MemorySegment mRow = ms.asSlice((mo + lo) * 4, len * 4L);
                MemorySegment xRow = os == null ? null : xs.asSlice((xo + lo) * 4, len * 4L);
                MemorySegment oRow = os == null ? null : os.asSlice((oo + lo) * 4, len * 4L);
                int i = 0;
                // Eight counters at a time through Generator.bits' mixing, in 64-bit lanes.
                FloatVector vs = FloatVector.broadcast(F8, fs), zero = FloatVector.zero(F8);
                LongVector lane = LongVector.zero(L8).addIndex(1);
                for (; i <= len - 8; i += 8) {
                    LongVector z = lane.add(c0 + i).mul(0xBF58476D1CE4E5B9L).add(seed * 0x9E3779B97F4A7C15L + 0x94D049BB133111EBL);
                    z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 30)).mul(0xBF58476D1CE4E5B9L);
                    z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 27)).mul(0x94D049BB133111EBL);
                    z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 31));
                    z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 29)).mul(0xBF58476D1CE4E5B9L);
                    z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 32));
                    VectorMask<Long> kept = z.lanewise(VectorOperators.LSHR, 11).compare(VectorOperators.LT, threshold);
                    FloatVector m = zero.blend(vs, kept.cast(F8));
                    m.intoMemorySegment(mRow, i * 4L, NO);
                    if (oRow != null) FloatVector.fromMemorySegment(F8, xRow, i * 4L, NO).mul(m).intoMemorySegment(oRow, i * 4L, NO);
                }
                for (; i < len; i++) {
                    float m = (Generator.bits(seed, c0 + i) >>> 11) < threshold ? fs : 0f;
                    mRow.setAtIndex(F, i, m);
                    if (oRow != null) oRow.setAtIndex(F, i, xRow.getAtIndex(F, i) * m);
                }
            } else {
                for (long i = lo; i < hi; i++) {
                    double m = (Generator.bits(seed, first + i) >>> 11) < threshold ? scale : 0;
                    HostAccess.set(ms, t, mo + i, m);
                    if (os != null) HostAccess.set(os, t, oo + i, HostAccess.get(xs, t, xo + i) * m);
                }
            }
        });
    }
}
