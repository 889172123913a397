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
import jdk.incubator.vector.VectorOperators;

/**
 * Channels-first layer norm (x [N, C, S], normalized over C at each of the S positions)
 * without a permute copy: the F32 path holds one vector of adjacent positions and walks
 * down the channels, so every load is contiguous and each lane is one position's reduction.
 */
final class LayerNormChannels {
    private LayerNormChannels() {}

    private static MemorySegment seg(Tensor t) { return t == null ? null : t.storage().segment(); }

    private static long off(Tensor t) { return t == null ? 0 : t.offset(); }

    private static FloatVector load(MemorySegment s, long i, VectorMask<Float> m) {
        return FloatVector.fromMemorySegment(S, s, i * 4, NO, m);
    }

    static void forward(Tensor x, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd) {
        int n = x.shape(0), c = x.shape(1), sp = x.shape(2);
        DType t = x.dtype();
        MemorySegment xs = seg(x), os = seg(out), ms = seg(mean), rs = seg(rstd), ws = seg(weight), bs = seg(bias);
        long xo = x.offset(), oo = out.offset(), mo = mean.offset(), ro = rstd.offset(), wo = off(weight), bo = off(bias);
        int cols = (sp + L - 1) / L;
        Parallel.forRange((long) n * cols, Math.max(1, 2048 / Math.max(c, 1)), (lo, hi) -> {
            for (long item = lo; item < hi; item++) {
                int i = (int) (item / cols), s0 = (int) (item % cols) * L;
                long base = (long) i * c * sp + s0;
                if (t == DType.F32) {
                    columnF32(xs, xo + base, ws, wo, bs, bo, os, oo + base, ms, rs, mo + (long) i * sp + s0, ro + (long) i * sp + s0,
                            c, sp, S.indexInRange(s0, sp), (float) eps);
                } else {
                    for (int s = s0; s < Math.min(sp, s0 + L); s++) {
                        long b = (long) i * c * sp + s;
                        double sum = 0;
                        for (int k = 0; k < c; k++) sum += HostAccess.get(xs, t, xo + b + (long) k * sp);
                        double m = sum / c, sq = 0;
                        for (int k = 0; k < c; k++) {
                            double dd = HostAccess.get(xs, t, xo + b + (long) k * sp) - m;
                            sq += dd * dd;
                        }
                        double r = 1 / Math.sqrt(sq / c + eps);
                        HostAccess.set(ms, t, mo + (long) i * sp + s, m);
                        HostAccess.set(rs, t, ro + (long) i * sp + s, r);
                        for (int k = 0; k < c; k++) {
                            long at = b + (long) k * sp;
                            double xh = (HostAccess.get(xs, t, xo + at) - m) * r;
                            HostAccess.set(os, t, oo + at, xh * NormRows.at(ws, t, wo, k, 1) + NormRows.at(bs, t, bo, k, 0));
                        }
                    }
                }
            }
        });
    }

    /** One vector of positions: mean, centred variance, then the normalized, affine output. */
    private static void columnF32(MemorySegment x, long xo, MemorySegment w, long wo, MemorySegment b, long bo,
                                  MemorySegment o, long oo, MemorySegment ms, MemorySegment rs, long mo, long ro,
                                  int c, int sp, VectorMask<Float> lanes, float eps) {
        FloatVector sum = FloatVector.zero(S);
        for (int k = 0; k < c; k++) sum = sum.add(load(x, xo + (long) k * sp, lanes));
        FloatVector m = sum.div((float) c);
        FloatVector sq = FloatVector.zero(S);
        for (int k = 0; k < c; k++) {
            FloatVector d = load(x, xo + (long) k * sp, lanes).sub(m);
            sq = d.fma(d, sq);
        }
        FloatVector r = FloatVector.broadcast(S, 1f).div(sq.div((float) c).add(eps).sqrt());
        m.intoMemorySegment(ms, mo * 4, NO, lanes);
        r.intoMemorySegment(rs, ro * 4, NO, lanes);
        FloatVector shift = m.neg().mul(r);
        for (int k = 0; k < c; k++) {
            long at = (long) k * sp;
            FloatVector xh = load(x, xo + at, lanes).fma(r, shift);
            float fw = w == null ? 1f : w.getAtIndex(F, wo + k), fb = b == null ? 0f : b.getAtIndex(F, bo + k);
            xh.fma(fw, fb).intoMemorySegment(o, (oo + at) * 4, NO, lanes);
        }
    }

    static void backward(Tensor gradOut, Tensor x, Tensor weight, Tensor mean, Tensor rstd,
                         Tensor gradX, Tensor gradWeight, Tensor gradBias, int maxChunks) {
        int n = x.shape(0), c = x.shape(1), sp = x.shape(2);
        DType t = x.dtype();
        MemorySegment gs = seg(gradOut), xs = seg(x), ws = seg(weight), ms = seg(mean), rs = seg(rstd), gxs = seg(gradX);
        long go = gradOut.offset(), xo = x.offset(), wo = off(weight), mo = mean.offset(), ro = rstd.offset(), gxo = off(gradX);
        int cols = (sp + L - 1) / L;
        long items = (long) n * cols;
        int chunks = (int) Math.max(1, Math.min(items, maxChunks));
        boolean partials = gradWeight != null || gradBias != null;
        // Per chunk and channel, one lane-wide partial sum (F32) or one double (other dtypes).
        int width = t == DType.F32 ? L : 1;
        double[][] pw = new double[chunks][], pb = new double[chunks][];
        Parallel.forRange(chunks, 1, (lo, hi) -> {
            for (int ch = (int) lo; ch < hi; ch++) {
                long i0 = items * ch / chunks, i1 = items * (ch + 1) / chunks;
                float[] fw = partials && t == DType.F32 ? new float[c * L] : null, fb = fw == null ? null : new float[c * L];
                double[] dw = partials ? new double[c * width] : null, dbs = partials ? new double[c * width] : null;
                for (long item = i0; item < i1; item++) {
                    int i = (int) (item / cols), s0 = (int) (item % cols) * L;
                    long base = (long) i * c * sp + s0, stat = (long) i * sp + s0;
                    if (t == DType.F32) {
                        columnBackwardF32(gs, go + base, xs, xo + base, ws, wo, gxs, gxo + base, ms, rs, mo + stat, ro + stat,
                                c, sp, S.indexInRange(s0, sp), fw, fb);
                    } else {
                        for (int s = s0; s < Math.min(sp, s0 + L); s++) {
                            columnBackwardGeneric(gs, go + base + s - s0, xs, xo + base + s - s0, ws, wo, gxs, gxo + base + s - s0,
                                    HostAccess.get(ms, t, mo + stat + s - s0), HostAccess.get(rs, t, ro + stat + s - s0), t, c, sp, dw, dbs);
                        }
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

    private static void columnBackwardF32(MemorySegment g, long go, MemorySegment x, long xo, MemorySegment w, long wo,
                                          MemorySegment gx, long gxo, MemorySegment ms, MemorySegment rs, long mo, long ro,
                                          int c, int sp, VectorMask<Float> lanes, float[] pw, float[] pb) {
        FloatVector m = load(ms, mo, lanes), r = load(rs, ro, lanes);
        FloatVector sa = FloatVector.zero(S), sb = FloatVector.zero(S);
        for (int k = 0; k < c; k++) {
            long at = (long) k * sp;
            FloatVector gw = load(g, go + at, lanes).mul(w == null ? 1f : w.getAtIndex(F, wo + k));
            sa = sa.add(gw);
            sb = gw.fma(load(x, xo + at, lanes).sub(m), sb);
        }
        // gx = g*w*r + x*k2 + k3 with k2 = -r^3 * B / C, k3 = -r * A / C - m * k2.
        FloatVector k2 = r.mul(r).mul(r).mul(sb).div((float) -c);
        FloatVector k3 = r.mul(sa).div((float) -c).sub(m.mul(k2));
        for (int k = 0; k < c; k++) {
            long at = (long) k * sp;
            FloatVector vg = load(g, go + at, lanes), vx = load(x, xo + at, lanes);
            if (gx != null) {
                FloatVector wr = r.mul(w == null ? 1f : w.getAtIndex(F, wo + k));
                vg.fma(wr, vx.fma(k2, k3)).intoMemorySegment(gx, (gxo + at) * 4, NO, lanes);
            }
            if (pw != null) {
                // Inactive lanes loaded as zero, so they add nothing.
                vg.fma(vx.sub(m).mul(r), FloatVector.fromArray(S, pw, k * L)).intoArray(pw, k * L);
                vg.add(FloatVector.fromArray(S, pb, k * L)).intoArray(pb, k * L);
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
