package dev.lumen.backend.cpu;

import static dev.lumen.backend.cpu.NormRows.F;
import static dev.lumen.backend.cpu.NormRows.L;
import static dev.lumen.backend.cpu.NormRows.NO;
import static dev.lumen.backend.cpu.NormRows.S;

import dev.lumen.tensor.DType;
import dev.lumen.tensor.HostAccess;
import dev.lumen.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

/**
 * Channels-first layer norm (x [N, C, S], normalized over C at each of the S positions)
 * without a permute copy. A task takes a block of adjacent positions of one sample and walks
 * down the channels; each lane is one position's reduction, per-position state lives in
 * small L1-resident arrays, and every channel contributes one contiguous run of the block.
 */
final class LayerNormChannels {
    /** Positions per block: 64 vectors, so each channel is a 4 KB run (long enough for the prefetcher) and a block of ~100 channels stays in L2 across the passes. */
    private static final int BLOCK = 64 * L;

    private LayerNormChannels() {}

    private static MemorySegment seg(Tensor t) { return t == null ? null : t.storage().segment(); }

    private static long off(Tensor t) { return t == null ? 0 : t.offset(); }

    private static FloatVector load(MemorySegment s, long i) { return FloatVector.fromMemorySegment(S, s, i * 4, NO); }

    private static FloatVector load(MemorySegment s, long i, VectorMask<Float> m) {
        return FloatVector.fromMemorySegment(S, s, i * 4, NO, m);
    }

    private static FloatVector at(float[] a, int i) { return FloatVector.fromArray(S, a, i); }

    static void forward(Tensor x, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd) {
        int n = x.shape(0), c = x.shape(1), sp = x.shape(2);
        DType t = x.dtype();
        MemorySegment xs = seg(x), os = seg(out), ms = seg(mean), rs = seg(rstd), ws = seg(weight), bs = seg(bias);
        long xo = x.offset(), oo = out.offset(), mo = mean.offset(), ro = rstd.offset(), wo = off(weight), bo = off(bias);
        int blocks = (sp + BLOCK - 1) / BLOCK;
        Parallel.forRange((long) n * blocks, 1, (lo, hi) -> {
            float[] m = new float[BLOCK], r = new float[BLOCK];
            for (long item = lo; item < hi; item++) {
                int i = (int) (item / blocks), s0 = (int) (item % blocks) * BLOCK, width = Math.min(BLOCK, sp - s0);
                long base = (long) i * c * sp + s0, stat = (long) i * sp + s0;
                if (t == DType.F32) {
                    blockF32(xs, xo + base, ws, wo, bs, bo, os, oo + base, ms, rs, mo + stat, ro + stat, c, sp, width, (float) eps, m, r);
                    continue;
                }
                for (int s = 0; s < width; s++) {
                    long b = base + s;
                    double sum = 0;
                    for (int k = 0; k < c; k++) sum += HostAccess.get(xs, t, xo + b + (long) k * sp);
                    double mm = sum / c, sq = 0;
                    for (int k = 0; k < c; k++) {
                        double dd = HostAccess.get(xs, t, xo + b + (long) k * sp) - mm;
                        sq += dd * dd;
                    }
                    double rr = 1 / Math.sqrt(sq / c + eps);
                    HostAccess.set(ms, t, mo + stat + s, mm);
                    HostAccess.set(rs, t, ro + stat + s, rr);
                    for (int k = 0; k < c; k++) {
                        long a = b + (long) k * sp;
                        double xh = (HostAccess.get(xs, t, xo + a) - mm) * rr;
                        HostAccess.set(os, t, oo + a, xh * NormRows.at(ws, t, wo, k, 1) + NormRows.at(bs, t, bo, k, 0));
                    }
                }
            }
        });
    }

    /** One block of positions: mean, centred variance, then the normalized, affine output. */
    private static void blockF32(MemorySegment x, long xo, MemorySegment w, long wo, MemorySegment b, long bo,
                                 MemorySegment o, long oo, MemorySegment ms, MemorySegment rs, long mo, long ro,
                                 int c, int sp, int width, float eps, float[] m, float[] r) {
        int full = width / L * L;
        VectorMask<Float> tail = S.indexInRange(full, width);
        boolean hasTail = full < width;
        java.util.Arrays.fill(m, 0f);
        java.util.Arrays.fill(r, 0f);
        for (int k = 0; k < c; k++) {
            long row = xo + (long) k * sp;
            for (int v = 0; v < full; v += L) at(m, v).add(load(x, row + v)).intoArray(m, v);
            if (hasTail) at(m, full).add(load(x, row + full, tail)).intoArray(m, full);
        }
        float invC = 1f / c;
        for (int v = 0; v < BLOCK; v += L) at(m, v).mul(invC).intoArray(m, v);
        for (int k = 0; k < c; k++) {
            long row = xo + (long) k * sp;
            for (int v = 0; v < full; v += L) {
                FloatVector d = load(x, row + v).sub(at(m, v));
                d.fma(d, at(r, v)).intoArray(r, v);
            }
            if (hasTail) {
                FloatVector d = load(x, row + full, tail).sub(at(m, full));
                d.fma(d, at(r, full)).intoArray(r, full);
            }
        }
        for (int v = 0; v < BLOCK; v += L) FloatVector.broadcast(S, 1f).div(at(r, v).mul(invC).add(eps).sqrt()).intoArray(r, v);
        for (int v = 0; v < width; v++) {
            ms.setAtIndex(F, mo + v, m[v]);
            rs.setAtIndex(F, ro + v, r[v]);
        }
        // m becomes the shift -mean * rstd, so that xhat = x * rstd + shift.
        for (int v = 0; v < BLOCK; v += L) at(m, v).neg().mul(at(r, v)).intoArray(m, v);
        for (int k = 0; k < c; k++) {
            long row = (long) k * sp;
            float fw = w == null ? 1f : w.getAtIndex(F, wo + k), fb = b == null ? 0f : b.getAtIndex(F, bo + k);
            for (int v = 0; v < full; v += L) {
                load(x, xo + row + v).fma(at(r, v), at(m, v)).fma(fw, fb).intoMemorySegment(o, (oo + row + v) * 4, NO);
            }
            if (hasTail) {
                load(x, xo + row + full, tail).fma(at(r, full), at(m, full)).fma(fw, fb).intoMemorySegment(o, (oo + row + full) * 4, NO, tail);
            }
        }
    }

    static void backward(Tensor gradOut, Tensor x, Tensor weight, Tensor mean, Tensor rstd,
                         Tensor gradX, Tensor gradWeight, Tensor gradBias, int maxChunks) {
        int n = x.shape(0), c = x.shape(1), sp = x.shape(2);
        DType t = x.dtype();
        MemorySegment gs = seg(gradOut), xs = seg(x), ws = seg(weight), ms = seg(mean), rs = seg(rstd), gxs = seg(gradX);
        long go = gradOut.offset(), xo = x.offset(), wo = off(weight), mo = mean.offset(), ro = rstd.offset(), gxo = off(gradX);
        int blocks = (sp + BLOCK - 1) / BLOCK;
        long items = (long) n * blocks;
        int chunks = (int) Math.max(1, Math.min(items, maxChunks));
        boolean partials = gradWeight != null || gradBias != null;
        // Per chunk and channel, one lane-wide partial sum (F32) or one double (other dtypes).
        int width = t == DType.F32 ? L : 1;
        double[][] pw = new double[chunks][], pb = new double[chunks][];
        Parallel.forRange(chunks, 1, (lo, hi) -> {
            float[][] scratch = new float[4][BLOCK];
            for (int ch = (int) lo; ch < hi; ch++) {
                long i0 = items * ch / chunks, i1 = items * (ch + 1) / chunks;
                float[] fw = partials && t == DType.F32 ? new float[c * L] : null, fb = fw == null ? null : new float[c * L];
                double[] dw = partials ? new double[c * width] : null, dbs = partials ? new double[c * width] : null;
                for (long item = i0; item < i1; item++) {
                    int i = (int) (item / blocks), s0 = (int) (item % blocks) * BLOCK, w = Math.min(BLOCK, sp - s0);
                    long base = (long) i * c * sp + s0, stat = (long) i * sp + s0;
                    if (t == DType.F32) {
                        blockBackwardF32(gs, go + base, xs, xo + base, ws, wo, gxs, gxo + base, ms, rs, mo + stat, ro + stat,
                                c, sp, w, fw, fb, scratch);
                        continue;
                    }
                    for (int s = 0; s < w; s++) {
                        columnBackwardGeneric(gs, go + base + s, xs, xo + base + s, ws, wo, gxs, gxo + base + s,
                                HostAccess.get(ms, t, mo + stat + s), HostAccess.get(rs, t, ro + stat + s), t, c, sp, dw, dbs);
                    }
                }
                if (fw != null) {
                    for (int k = 0; k < c * L; k++) {
                        dw[k] = fw[k];
                        dbs[k] = fb[k];
                    }
                }
                pw[ch] = dw;
                pb[ch] = dbs;
            }
        });
        store(pw, c, width, gradWeight);
        store(pb, c, width, gradBias);
    }

    private static void store(double[][] partial, int c, int width, Tensor dst) {
        if (dst == null) return;
        MemorySegment ds = dst.storage().segment();
        for (int k = 0; k < c; k++) {
            double s = 0;
            for (double[] p : partial) for (int l = 0; l < width; l++) s += p[k * width + l];
            HostAccess.set(ds, dst.dtype(), dst.offset() + k, s);
        }
    }

    /**
     * gx = g*w*r + x*k2 + k3 with k2 = -r^3 * B / C and k3 = -r * A / C - m * k2, where
     * A = sum_c g*w and B = sum_c g*w*(x - m) at each position; pw/pb collect g*xhat and g.
     */
    private static void blockBackwardF32(MemorySegment g, long go, MemorySegment x, long xo, MemorySegment w, long wo,
                                         MemorySegment gx, long gxo, MemorySegment ms, MemorySegment rs, long mo, long ro,
                                         int c, int sp, int width, float[] pw, float[] pb, float[][] scratch) {
        float[] m = scratch[0], r = scratch[1], a = scratch[2], bb = scratch[3];
        int full = width / L * L;
        VectorMask<Float> tail = S.indexInRange(full, width);
        boolean hasTail = full < width;
        java.util.Arrays.fill(m, 0f);
        java.util.Arrays.fill(r, 0f);
        java.util.Arrays.fill(a, 0f);
        java.util.Arrays.fill(bb, 0f);
        for (int v = 0; v < width; v++) {
            m[v] = ms.getAtIndex(F, mo + v);
            r[v] = rs.getAtIndex(F, ro + v);
        }
        for (int k = 0; k < c; k++) {
            long row = (long) k * sp;
            float fw = w == null ? 1f : w.getAtIndex(F, wo + k);
            for (int v = 0; v < full; v += L) {
                FloatVector gw = load(g, go + row + v).mul(fw);
                at(a, v).add(gw).intoArray(a, v);
                gw.fma(load(x, xo + row + v).sub(at(m, v)), at(bb, v)).intoArray(bb, v);
            }
            if (hasTail) {
                FloatVector gw = load(g, go + row + full, tail).mul(fw);
                at(a, full).add(gw).intoArray(a, full);
                gw.fma(load(x, xo + row + full, tail).sub(at(m, full)), at(bb, full)).intoArray(bb, full);
            }
        }
        // bb becomes k2 and a becomes k3.
        float negInvC = -1f / c;
        for (int v = 0; v < BLOCK; v += L) {
            FloatVector rv = at(r, v);
            FloatVector k2 = rv.mul(rv).mul(rv).mul(at(bb, v)).mul(negInvC);
            rv.mul(at(a, v)).mul(negInvC).sub(at(m, v).mul(k2)).intoArray(a, v);
            k2.intoArray(bb, v);
        }
        for (int k = 0; k < c; k++) {
            long row = (long) k * sp;
            float fw = w == null ? 1f : w.getAtIndex(F, wo + k);
            FloatVector sw = FloatVector.zero(S), sb = FloatVector.zero(S);
            for (int v = 0; v <= width - L; v += L) {
                FloatVector vg = load(g, go + row + v), vx = load(x, xo + row + v), rv = at(r, v);
                if (gx != null) vg.fma(rv.mul(fw), vx.fma(at(bb, v), at(a, v))).intoMemorySegment(gx, (gxo + row + v) * 4, NO);
                if (pw != null) {
                    sw = vg.fma(vx.sub(at(m, v)).mul(rv), sw);
                    sb = sb.add(vg);
                }
            }
            if (hasTail) {
                FloatVector vg = load(g, go + row + full, tail), vx = load(x, xo + row + full, tail), rv = at(r, full);
                if (gx != null) {
                    vg.fma(rv.mul(fw), vx.fma(at(bb, full), at(a, full))).intoMemorySegment(gx, (gxo + row + full) * 4, NO, tail);
                }
                if (pw != null) {
                    // Inactive lanes loaded as zero, so they add nothing.
                    sw = vg.fma(vx.sub(at(m, full)).mul(rv), sw);
                    sb = sb.add(vg);
                }
            }
            if (pw != null) {
                at(pw, k * L).add(sw).intoArray(pw, k * L);
                at(pb, k * L).add(sb).intoArray(pb, k * L);
            }
        }
    }

    private static void columnBackwardGeneric(MemorySegment g, long go, MemorySegment x, long xo, MemorySegment w, long wo,
                                              MemorySegment gx, long gxo, double m, double r, DType t, int c, int sp,
                                              double[] pw, double[] pb) {
        double a = 0, b = 0;
        for (int k = 0; k < c; k++) {
            long at = (long) k * sp;
            double gw = HostAccess.get(g, t, go + at) * NormRows.at(w, t, wo, k, 1);
            a += gw;
            b += gw * (HostAccess.get(x, t, xo + at) - m);
        }
        double k2 = -r * r * r * b / c, k3 = -r * a / c - m * k2;
        for (int k = 0; k < c; k++) {
            long at = (long) k * sp;
            double vg = HostAccess.get(g, t, go + at), vx = HostAccess.get(x, t, xo + at);
            if (gx != null) HostAccess.set(gx, t, gxo + at, vg * NormRows.at(w, t, wo, k, 1) * r + vx * k2 + k3);
            if (pw != null) {
                pw[k] += vg * (vx - m) * r;
                pb[k] += vg;
            }
        }
    }
}
